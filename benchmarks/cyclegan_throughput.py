"""CycleGAN training throughput at the paper's sizes: 128 px (6 residual blocks) and 256 px (9), width 64, batch 1.

    python benchmarks/cyclegan_throughput.py [--steps 5] [--warmup 2] [--sizes 128 256]

A step trains both generators and both discriminators on one image of each domain (the history pool on), so
images/s counts images per domain. Prints one JSON line per size.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.cyclegan import models
from ganapps.apps.cyclegan.recipe import ADVERSARIAL_WEIGHT, default_width, paper_blocks

from ganapps.core.strategy import resolve_jit


def measure(size: int, steps: int, warmup: int, batch_size: int = 1) -> dict:
    keras.utils.set_random_seed(0)
    blocks, width = paper_blocks(size), default_width(size)
    gan = models.CycleGAN(*models.cycle_networks(size, blocks, width))
    jit = resolve_jit("auto")
    gan.compile(loss="least-squares", adversarial_weight=ADVERSARIAL_WEIGHT, jit_compile=jit)
    images = np.random.default_rng(0).uniform(-1, 1, (2, batch_size, size, size, 3)).astype(np.float32)
    data = tf.data.Dataset.from_tensors((images[0], images[1])).repeat()
    gan.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)  # trace and warm up
    start, cpu = time.perf_counter(), time.process_time()
    gan.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return {"image_size": size, "blocks": blocks, "width": width, "batch_size": batch_size, "jit": jit,
            "steps": steps, "seconds_per_step": seconds / steps, "cpu_seconds_per_step": cpu_seconds / steps,
            "images_per_s": steps * batch_size / seconds,
            "device": "GPU" if tf.config.list_logical_devices("GPU") else f"CPU x{os.cpu_count()}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = parser.parse_args()
    for size in args.sizes:
        print(json.dumps(measure(size, args.steps, args.warmup)), flush=True)


if __name__ == "__main__":
    main()

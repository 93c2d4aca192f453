"""What the distributed path costs: the dcgan app's step on one device and mirrored over two, side by side.

    python benchmarks/distribution.py [--rounds 5] [--steps 40] [--size 32]

The CPU is split into two logical devices (`--devices 2`, as the CLI does), so both runs use the same cores: the
one-device run places the step on the first, the mirrored run splits each global batch of 32 over both and
all-reduces the gradients. Both are compiled as every app compiles them (`runs.compile_gan`, steps per execution
included) and alternate round by round in one process, so a drift of the shared machine hits both alike. Prints a
JSON line per round and a last line with the median images per second of each and their ratio (mirrored over one
device). On GPUs the second device brings its own compute and the ratio is the scaling users see; here it is the
overhead of replication, cross-device reduction and the per-replica input pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ganapps.apps.dcgan import models  # noqa: E402

from ganapps.core.config import TrainOptions  # noqa: E402
from ganapps.core.data import array_dataset, to_float  # noqa: E402
from ganapps.core.gan import GAN  # noqa: E402
from ganapps.core.runs import compile_gan  # noqa: E402
from ganapps.core.strategy import resolve_strategy  # noqa: E402

BATCH = 32
LATENT = 100


def build(strategy: tf.distribute.Strategy, size: int, steps: int) -> GAN:
    keras.utils.set_random_seed(0)
    options = TrainOptions(steps=steps, batch_size=BATCH, strategy="default")
    with strategy.scope():
        gan = GAN(models.generator(size, 1, LATENT, size), models.discriminator(size, 1, size), seed=0)
        return compile_gan(gan, options)


def timed_fit(gan: GAN, data: tf.data.Dataset, steps: int) -> float:
    start = time.perf_counter()
    gan.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--size", type=int, default=32, choices=(32, 64))
    args = parser.parse_args()
    strategies = {"one_device": resolve_strategy("one-device", devices=2), "mirrored": resolve_strategy("mirrored")}
    assert strategies["mirrored"].num_replicas_in_sync == 2, "the CPU did not split into two logical devices"
    images = np.random.default_rng(0).integers(0, 256, (2048, args.size, args.size, 1), dtype=np.uint8)
    data = array_dataset(images, BATCH, seed=0).map(to_float).repeat()
    gans = {name: build(strategy, args.size, args.steps) for name, strategy in strategies.items()}
    for gan in gans.values():  # trace and warm up
        timed_fit(gan, data, args.steps)
    rates = {name: [] for name in gans}
    for round_ in range(args.rounds):
        for name, gan in gans.items():
            rates[name].append(args.steps * BATCH / timed_fit(gan, data, args.steps))
        print(json.dumps({"round": round_, **{f"{k}_images_per_s": round(v[-1], 1) for k, v in rates.items()},
                          "ratio": round(rates["mirrored"][-1] / rates["one_device"][-1], 3)}), flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    ratios = [m / o for m, o in zip(rates["mirrored"], rates["one_device"])]
    print(json.dumps({"size": args.size, "batch_size": BATCH, "steps": args.steps, "rounds": args.rounds,
                      **{f"{k}_images_per_s": round(v, 1) for k, v in medians.items()},
                      "ratio_mirrored_over_one_device": round(statistics.median(ratios), 3),
                      "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)]}), flush=True)


if __name__ == "__main__":
    main()

"""Training throughput of the core GAN step, XLA off vs on, measured side by side in one process.

    python benchmarks/step_throughput.py [--steps 300] [--batch-size 256]

Prints one JSON line per configuration and a last line with the ratio and what `--jit auto` picks here.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from ganapps.apps.toy import models  # noqa: E402
from ganapps.apps.toy.data import grid  # noqa: E402
from ganapps.core.data import array_dataset  # noqa: E402
from ganapps.core.gan import GAN  # noqa: E402
from ganapps.core.strategy import resolve_jit  # noqa: E402


def measure(jit: bool, steps: int, batch_size: int) -> dict:
    keras.utils.set_random_seed(0)
    gan = GAN(models.generator(), models.discriminator(pack=2), ema_decay=0.999, pack=2)
    gan.compile(loss="non-saturating", jit_compile=jit, steps_per_execution=10)
    data = array_dataset(grid().sample(50_000, 0), batch_size, seed=0)
    gan.fit(data, steps_per_epoch=50, epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    gan.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return {"model": "toy-mlp", "jit": jit, "batch_size": batch_size, "steps": steps,
            "steps_per_s": steps / seconds, "samples_per_s": steps * batch_size / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    rows = [measure(jit, args.steps, args.batch_size) for jit in (False, True)]
    for row in rows:
        print(json.dumps(row), flush=True)
    print(json.dumps({"xla_speedup": rows[1]["steps_per_s"] / rows[0]["steps_per_s"],
                      "auto_jit_here": resolve_jit("auto")}))


if __name__ == "__main__":
    main()

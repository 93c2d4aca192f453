"""The core GAN step against a reference step written as keras-io's DCGAN example writes it, side by side.

    python benchmarks/step_vs_reference.py [--rounds 15] [--steps 40]

Both train the dcgan app's networks (32 px at width 32 and 64 px at width 64, batch 32, non-saturating loss, Adam)
on the same in-memory tf.data stream. The reference is a `keras.Model` with one tape per network, the discriminator
judging real and fake in one concatenated batch, trained with `fit` and its defaults (float32, one step per call);
the core is `ganapps.core.gan.GAN` compiled as the dcgan app compiles it (`runs.compile_gan`: steps per execution,
Adam per network, and the recipe's `--mixed-precision`, whose `auto` picks bfloat16 on a CPU with native bfloat16
and float32 elsewhere). The two alternate in
one process, round by round, so a drift of the shared machine hits both alike. Prints one JSON line per round and
size, and a last line with the median ratios (core over reference, images per second) and each one's share of this
CPU's measured matmul peak in the precision it computes in (step FLOPs counted from the layers: training ~ 3x
forward).
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
from ganapps.apps.dcgan.recipe import DEFAULTS  # noqa: E402

from ganapps.core.config import TrainOptions  # noqa: E402
from ganapps.core.data import array_dataset, to_float  # noqa: E402
from ganapps.core.gan import GAN  # noqa: E402
from ganapps.core.runs import compile_gan  # noqa: E402
from ganapps.core.strategy import resolve_precision, set_precision  # noqa: E402

BATCH = 32
LATENT = 100
SIZES = ((32, 32), (64, 64))  # (image size, width)


class ReferenceDCGAN(keras.Model):
    """keras-io's DCGAN `train_step`: one tape per network, D on concat(fake, real), then G through D."""

    def __init__(self, generator, discriminator, latent_dim):
        super().__init__()
        self.generator, self.discriminator, self.latent_dim = generator, discriminator, latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_metric, self.g_loss_metric = keras.metrics.Mean(name="d_loss"), keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        batch_size = tf.shape(real_images)[0]
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        # training=True, as the core's step: batch norm normalises with the batch's statistics in both
        generated = self.generator(latents, training=True)
        combined = tf.concat([generated, real_images], axis=0)
        labels = tf.concat([tf.zeros((batch_size, 1)), tf.ones((batch_size, 1))], axis=0)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined, training=True))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(self.generator(latents, training=True), training=True)
            g_loss = self.loss_fn(tf.ones((batch_size, 1)), fake_logits)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}


def forward_flops(model: keras.Model) -> float:
    """Multiply-adds x 2 of one sample's forward pass through the convolutions and dense layers."""
    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            h, w, c = layer.input.shape[1:]
            total += 2 * h * w * c * layer.filters * np.prod(layer.kernel_size)
        elif isinstance(layer, keras.layers.Conv2D):
            h, w, _ = layer.output.shape[1:]
            total += 2 * h * w * layer.input.shape[-1] * layer.filters * np.prod(layer.kernel_size)
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return float(total)


def matmul_peak(dtype: str = "float32", seconds: float = 2.0, n: int = 1024) -> float:
    """FLOP/s of large square matrix products in `dtype` on this machine (the best of short bursts)."""
    a, b = tf.random.normal((n, n), dtype=dtype), tf.random.normal((n, n), dtype=dtype)
    product = tf.function(lambda x, y: tf.matmul(x, y))
    product(a, b).numpy()
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        for _ in range(10):
            out = product(a, b)
        out.numpy()
        best = max(best, 10 * 2 * n**3 / (time.perf_counter() - start))
    return best


def networks(size: int, width: int):
    return models.generator(size, 1, LATENT, width), models.discriminator(size, 1, width)


def make_core(size: int, width: int, steps: int, precision: str):
    keras.utils.set_random_seed(0)
    options = TrainOptions(steps=steps, batch_size=BATCH, g_lr=2e-4, d_lr=2e-4, beta1=0.5, strategy="default",
                           mixed_precision=precision)
    set_precision(precision)  # the networks take the policy they are built under, as in `runs.train`
    try:
        return compile_gan(GAN(*networks(size, width), seed=0), options)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def make_reference(size: int, width: int):
    keras.utils.set_random_seed(0)
    reference = ReferenceDCGAN(*networks(size, width), LATENT)
    reference.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    return reference


def timed_fit(model: keras.Model, data: tf.data.Dataset, steps: int) -> float:
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Short fits, many rounds: this shared machine drops to about half speed for seconds at a time, and only a pair
    # timed close together sees the same machine.
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=40, help="steps per timed fit at 32 px (64 px: a quarter)")
    parser.add_argument("--mixed-precision", default=DEFAULTS.get("mixed_precision", "off"),
                        help="the core's precision (default: the dcgan recipe's)")
    args = parser.parse_args()
    precision = resolve_precision(args.mixed_precision)
    peaks = {"reference": matmul_peak()}
    peaks["core"] = matmul_peak("bfloat16") if precision == "bfloat16" else peaks["reference"]
    summary = {"matmul_peak_gflops": round(peaks["reference"] / 1e9, 1), "batch_size": BATCH, "rounds": args.rounds,
               "core_precision": precision}
    if precision == "bfloat16":
        summary["matmul_peak_gflops_bfloat16"] = round(peaks["core"] / 1e9, 1)
    for size, width in SIZES:
        steps = args.steps if size == 32 else max(args.steps // 4, 10)
        images = np.random.default_rng(0).integers(0, 256, (2048, size, size, 1), dtype=np.uint8)
        data = array_dataset(images, BATCH, seed=0).map(to_float)
        core, reference = make_core(size, width, steps, precision), make_reference(size, width)
        for model in (core, reference):  # trace and warm up
            timed_fit(model, data, steps)
        flops = BATCH * (4 * forward_flops(core.generator) + 9 * forward_flops(core.discriminator))
        ratios, rates = [], {"core": [], "reference": []}
        for round_ in range(args.rounds):
            times = {"core": timed_fit(core, data, steps), "reference": timed_fit(reference, data, steps)}
            for name in times:
                rates[name].append(steps * BATCH / times[name])
            ratios.append(times["reference"] / times["core"])
            print(json.dumps({"size": size, "width": width, "round": round_, "steps": steps,
                              **{f"{k}_images_per_s": round(v[-1], 1) for k, v in rates.items()},
                              "ratio": round(ratios[-1], 3)}), flush=True)
        for name in rates:
            step_rate = statistics.median(rates[name]) / BATCH
            summary[f"{name}_peak_share_{size}"] = round(step_rate * flops / peaks[name], 3)
            summary[f"{name}_images_per_s_{size}"] = round(statistics.median(rates[name]), 1)
        summary[f"ratio_{size}"] = round(statistics.median(ratios), 3)
        summary[f"ratio_{size}_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()

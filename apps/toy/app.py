"""The toy app as the core sees it: networks for a mixture, its points as a resumable stream, a scatter per epoch."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.toy import models
from ganapps.apps.toy.data import Mixture, mixture, mode_coverage
from ganapps.apps.toy.recipe import DEFAULTS, EVAL_SAMPLES, TRAIN_POINTS, Config

from ganapps.core.app import App, Quality
from ganapps.core.config import TrainOptions
from ganapps.core.data import array_dataset
from ganapps.core.export import Handle
from ganapps.core.gan import GAN
from ganapps.core.images import atomic_write_bytes
from ganapps.core.runs import compile_gan


class Sampler(Handle):
    """A trained 2-D generator: `sample(num, seed)` gives `[num, 2]` points."""

    def sample(self, num: int, seed: int = 0) -> np.ndarray:
        latent_dim = self.input_shapes[0][-1]
        z = np.random.default_rng(seed).standard_normal((num, latent_dim)).astype(np.float32)
        return np.asarray(self(z))


def build(config: Config, options: TrainOptions) -> GAN:
    """The compiled GAN of `config.model` for the mixture `config.dataset`."""
    if config.model == "mixture":
        scale = mixture(config.dataset).scale
        pair = models.mixture_generator(scale), models.fourier_discriminator(options.pack, scale)
    else:
        pair = models.generator(), models.discriminator(options.pack)
    gan = GAN(*pair, ema_decay=options.ema or None, pack=options.pack, seed=options.seed)
    return compile_gan(gan, options)


def dataset(config: Config, options: TrainOptions, start_step: int) -> tf.data.Dataset:
    points = mixture(config.dataset).sample(TRAIN_POINTS, options.seed)
    return array_dataset(points, options.batch_size, options.seed, start_step)


def plot_png(real: np.ndarray, fake: np.ndarray, data: Mixture, title: str = "") -> bytes:
    """Real points as red dots, generated points as blue crosses (as in the seeds' figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.scatter(real[:, 0], real[:, 1], s=6, c="red", marker="o", label="real", alpha=0.6)
    axes.scatter(fake[:, 0], fake[:, 1], s=10, c="blue", marker="x", linewidths=0.6, label="generated")
    extent = np.abs(data.means).max() * 1.4 + 0.3
    axes.set(xlim=(-extent, extent), ylim=(-extent, extent), aspect="equal", title=title)
    axes.legend(loc="upper right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def write_plot(fake: np.ndarray, config: Config, seed: int, path: Path, name: str):
    """The scatter of `fake` against held-out real points, titled with its mode coverage; returns the coverage."""
    data = mixture(config.dataset)
    coverage = mode_coverage(fake, data)
    title = f"{name}: {coverage.modes_captured}/{coverage.modes_total} modes, {100 * coverage.high_quality:.1f}% HQ"
    atomic_write_bytes(path, plot_png(data.sample(EVAL_SAMPLES, seed + 1), fake, data, title))
    return coverage


def samples(gan: GAN, config: Config, options: TrainOptions, path: Path) -> None:
    write_plot(gan.sample(EVAL_SAMPLES, seed=options.seed + 2), config, options.seed, path, path.stem)


def quality(gan: GAN, config: Config, options: TrainOptions) -> dict[str, float]:
    """Mode coverage of `EVAL_SAMPLES` fresh points, as `evaluate` reports it."""
    coverage = mode_coverage(gan.sample(EVAL_SAMPLES, seed=options.seed + 3), mixture(config.dataset))
    return {"modes": coverage.modes_captured, "high_quality": coverage.high_quality,
            "reverse_kl": coverage.reverse_kl}


APP = App("toy", Config, build, dataset, Sampler, defaults=DEFAULTS, samples=samples,
          quality=Quality(quality, ("modes", "high_quality", "reverse_kl")))

"""The 2-D mode-collapse lab: train on a PacGAN mixture, measure mode coverage, plot real vs generated."""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.toy import models
from ganapps.apps.toy.data import Mixture, ModeCoverage, mixture, mode_coverage
from ganapps.apps.toy.recipe import (  # noqa: F401
    DEFAULT_MODEL,
    DEFAULTS,
    EVAL_SAMPLES,
    MODELS,
    PUBLISHED,
    TRAIN_POINTS,
)

from ganapps.core.data import array_dataset
from ganapps.core.errors import GanappsError
from ganapps.core.gan import GAN
from ganapps.core.images import atomic_write_bytes
from ganapps.core.runs import TrainOptions, TrainResult, compile_gan, train_gan


def default_options(**overrides) -> TrainOptions:
    """The lab's default training options, with any field overridden."""
    return TrainOptions(**{**DEFAULTS, **overrides})


def build_gan(options: TrainOptions) -> GAN:
    """The GAN of `options.extra["model"]` for the mixture `options.extra["dataset"]`."""
    model = options.extra.get("model", DEFAULT_MODEL)
    if model == "mixture":
        scale = mixture(options.extra.get("dataset", "grid")).scale
        pair = models.mixture_generator(scale), models.fourier_discriminator(options.pack, scale)
    elif model == "mlp":
        pair = models.generator(), models.discriminator(options.pack)
    else:
        raise GanappsError(f"--model {model!r}: choose one of {', '.join(MODELS)}")
    gan = GAN(*pair, ema_decay=options.ema or None, pack=options.pack, seed=options.seed)
    # Tiny models: run 20 steps per call so per-step Python overhead does not dominate; one under
    # MultiWorkerMirroredStrategy, whose collectives inside Keras's multi-step loop fail to compile.
    multi_worker = isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)
    return compile_gan(gan, options, steps_per_execution=1 if multi_worker else math.gcd(options.steps, 20))


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


@dataclass
class ToyRun:
    result: TrainResult
    coverage: ModeCoverage
    plot: Path
    seconds: float  # wall time of training and evaluation


def train(dataset: str = "grid", options: TrainOptions | None = None, model: str = DEFAULT_MODEL) -> ToyRun:
    """Train `model` on the `ring` or `grid` mixture; write samples per epoch, the final plot and metrics.json."""
    start = time.perf_counter()
    data = mixture(dataset)
    options = options or default_options(out=Path("runs") / f"toy-{dataset}")
    options = replace(options, extra={**options.extra, "dataset": dataset, "model": model})
    points = data.sample(TRAIN_POINTS, options.seed)
    reference = data.sample(EVAL_SAMPLES, options.seed + 1)

    def write_samples(gan: GAN, path: Path) -> None:
        fake = gan.sample(EVAL_SAMPLES, seed=options.seed + 2)
        cov = mode_coverage(fake, data)
        title = f"{path.stem}: {cov.modes_captured}/{cov.modes_total} modes, {100 * cov.high_quality:.1f}% HQ"
        atomic_write_bytes(path, plot_png(reference, fake, data, title))

    result = train_gan(
        "toy", options, build_gan,
        lambda start: array_dataset(points, options.batch_size, options.seed, start), write_samples,
    )
    fake = result.gan.sample(EVAL_SAMPLES, seed=options.seed + 2)
    coverage = mode_coverage(fake, data)
    plot = result.run_dir / "plot.png"
    title = f"{dataset}: {coverage.modes_captured}/{coverage.modes_total} modes, {100 * coverage.high_quality:.1f}% HQ"
    atomic_write_bytes(plot, plot_png(reference, fake, data, title))
    atomic_write_bytes(result.run_dir / "metrics.json", (json.dumps(coverage.as_dict(), indent=2) + "\n").encode())
    return ToyRun(result, coverage, plot, time.perf_counter() - start)


@dataclass
class Summary:
    dataset: str
    runs: int
    modes_mean: float
    modes_se: float
    hq_mean: float
    hq_se: float
    kl_mean: float
    spread_mean: float
    seconds_mean: float


def summarise(dataset: str, coverages: list[ModeCoverage], seconds: list[float]) -> Summary:
    """Mean and standard error over runs."""
    modes = np.array([c.modes_captured for c in coverages], float)
    hq = np.array([100 * c.high_quality for c in coverages])
    kl = np.array([c.reverse_kl for c in coverages])
    se = (lambda a: float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else 0.0)
    return Summary(dataset, len(coverages), float(modes.mean()), se(modes), float(hq.mean()), se(hq),
                   float(kl.mean()), float(np.mean([c.spread for c in coverages])), float(np.mean(seconds)))


def benchmark(dataset: str, runs: int, out: Path, options: TrainOptions | None = None,
              on_run=None, model: str = DEFAULT_MODEL) -> Summary:
    """Train `runs` seeds from scratch and summarise their mode coverage."""
    options = options or default_options()
    coverages, seconds = [], []
    for seed in range(runs):
        run = train(dataset, replace(options, out=out / f"{dataset}-seed{seed}", seed=seed, verbose=0,
                                     resume=False), model)
        coverages.append(run.coverage)
        seconds.append(run.seconds)
        if on_run:
            on_run(seed, run)
    return summarise(dataset, coverages, seconds)

"""The nextframe app as the core sees it: the clip GAN, (context, future frames) pairs as a resumable stream, a
grid of held-out roll-outs per epoch, and the predictor (`frames` in, `predicted` out) as export and handle."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.nextframe import data as D
from ganapps.apps.nextframe import models
from ganapps.apps.nextframe.recipe import DEFAULTS, SHIPPED, Config

from ganapps.core.app import App, Quality
from ganapps.core.config import TrainOptions
from ganapps.core.errors import GanappsError, ParameterError
from ganapps.core.export import Handle, export_generator
from ganapps.core.images import save_image_grid
from ganapps.core.runs import compile_gan

SAMPLE_SEQUENCES = 3  # held-out sequences in the per-epoch sample grid
SAMPLE_STEPS = 6  # predicted frames per sample row


class Predictor(Handle):
    """A trained model: past frames `[N, K, S, S, C]` in [-1, 1] -> the next T frames `[N, T, S, S, C]`."""

    @classmethod
    def from_gan(cls, gan: models.NextFrameGAN, config: Config, source: str) -> Predictor:
        return cls.from_keras(models.clip_model(gan.sampling_generator, config.channels or 1), source)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return tuple(self.output_shape[2:])

    @property
    def context(self) -> int:
        """K, the past frames it predicts from."""
        return self.input_shapes[0][1]

    @property
    def future(self) -> int:
        """T, the frames it predicts in one pass."""
        return self.output_shape[1]

    def rollout(self, context: np.ndarray, steps: int, batch_size: int = 64) -> np.ndarray:
        """`steps` predicted frames after each context `[N, K, S, S, C]`, `[N, steps, S, S, C]` in [-1, 1], in
        batches; beyond T frames, predictions are fed back as context."""
        chunks = [models.rollout(self, context[i : i + batch_size], steps).numpy()
                  for i in range(0, len(context), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, steps, *self.frame_shape), np.float32)


def load_sequences(config: Config, held_out: bool, count: int, seed: int) -> D.Sequences:
    return D.load(config.data, config.image_size, config.channels, count=count, digits=config.digits,
                  held_out=held_out, seed=seed, download=config.download)


@functools.lru_cache(maxsize=4)
def sample_clips(config: Config) -> np.ndarray:
    """The held-out clips of the sample grid, `[N, K + T, S, S, C]` in [-1, 1] (T up to SAMPLE_STEPS)."""
    shown = load_sequences(config, held_out=True, count=SAMPLE_SEQUENCES, seed=0)
    length = min(config.context + SAMPLE_STEPS, int(shown.lengths.max()))
    if length <= config.context:
        raise GanappsError(f"{config.data}: held-out sequences have at most {length} frames; context "
                           f"{config.context} needs at least {config.context + 1}")
    return D.to_float(shown.clips(length)).numpy()


def prepare(config: Config) -> Config:
    """A folder's absolute path and the data's channels, once its held-out sequences are known to be long enough."""
    if config.data != D.MOVING_MNIST and not config.data.startswith(D.TFDS_PREFIX):
        config = replace(config, data=str(Path(config.data).expanduser().resolve()))
    config = replace(config, channels=load_sequences(config, False, 1, 0).frame_shape[-1])  # count: Moving MNIST's
    sample_clips(config)
    return config


def build(config: Config, options: TrainOptions) -> models.NextFrameGAN:
    """The compiled next-frame GAN of `config`."""
    for name in ("gp_weight", "r1_weight", "feature_matching"):
        if getattr(options, name):
            raise ParameterError(name, "is not supported by nextframe (its discriminator judges a pyramid of frames)")
    shape = (config.image_size, config.channels or 1, config.context, config.future, config.width)
    gan = models.NextFrameGAN(models.generator(config.generator, *shape), models.discriminator(*shape), p=config.lp,
                              lp_weight=config.lp_weight, gdl_weight=config.gdl_weight, rollout=config.rollout,
                              ema_decay=options.ema or None, pack=options.pack, seed=options.seed)
    return compile_gan(gan, options, adversarial_weight=config.adversarial_weight)


def dataset(config: Config, options: TrainOptions, start_step: int) -> tf.data.Dataset:
    future = config.future * config.rollout
    if config.data == D.MOVING_MNIST and not config.sequences:
        return D.moving_mnist_stream(config.digits, config.context, future, options.batch_size, options.seed,
                                     start_step, config.image_size)
    training = load_sequences(config, held_out=False, count=config.sequences, seed=options.seed)
    return D.pairs(training, config.context, options.batch_size, options.seed, start_step, future)


def samples(gan: models.NextFrameGAN, config: Config, options: TrainOptions, path: Path) -> None:
    """Two rows per held-out clip: the truth, then its context followed by the roll-out."""
    clips, k = sample_clips(config), config.context
    predicted = Predictor.from_gan(gan, config, "samples").rollout(clips[:, :k], clips.shape[1] - k)
    rows = [np.concatenate([clip[:k], guess]) for clip, guess in zip(clips, predicted)]
    save_image_grid(np.stack([r for pair in zip(clips, rows) for r in pair]).reshape(-1, *clips.shape[2:]),
                    path, columns=clips.shape[1])


def export(gan: models.NextFrameGAN, config: Config, folder: Path, version: int = 1, format: str = "saved_model"
           ) -> Path:
    """The sampling generator's finest prediction: `frames [N, K, S, S, C]` in [-1, 1] in (the K past frames,
    oldest first), `predicted [N, T, S, S, C]` out."""
    return export_generator(models.clip_model(gan.sampling_generator, config.channels or 1), folder, version,
                            input_names=["frames"], output_name="predicted", input_ranges={"frames": (-1.0, 1.0)},
                            format=format, info={"context_frames": config.context, "predicted_frames": config.future,
                                                 "channels": config.channels, "generator": config.generator,
                                                 "adversarial_weight": config.adversarial_weight})


QUALITY_SEQUENCES = 50  # held-out sequences per evaluation during training


def quality(gan: models.NextFrameGAN, config: Config, options: TrainOptions) -> dict[str, float]:
    """Mean MSE per frame and PSNR over the evaluated horizons on `QUALITY_SEQUENCES` held-out sequences, rolled
    out as `evaluate` does (frames in [0, 1])."""
    from ganapps.apps.nextframe import lab  # the app's evaluate (lab imports this module)

    result = lab.evaluate(Predictor.from_gan(gan, config, "training"), data=config.data, digits=config.digits,
                          sequences=QUALITY_SEQUENCES, seed=options.seed)
    return {"mse_per_frame": result.mean("model", "mse_per_frame"), "psnr": result.mean("model", "psnr")}


def upgrade(values: dict) -> dict:
    """A run from before `future` predicted one frame a pass."""
    return {"future": 1, **values}


APP = App("nextframe", Config, build, dataset, Predictor, defaults=DEFAULTS, prepare=prepare, samples=samples,
          export=export, shipped=SHIPPED, quality=Quality(quality, ("mse_per_frame", "psnr"), higher=False),
          upgrade=upgrade)

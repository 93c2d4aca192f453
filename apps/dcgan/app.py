"""The dcgan app as the core sees it: the networks of a config, its images as a resumable stream, a sample grid
per epoch, and the `Generator` handle that inference opens."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.dcgan import models
from ganapps.apps.dcgan.recipe import DEFAULTS, GRID_SAMPLES, SHIPPED, Config

from ganapps.core import imagesets as D
from ganapps.core.app import App, Quality
from ganapps.core.config import TrainOptions
from ganapps.core.console import progress_bar
from ganapps.core.data import TFDS_PREFIX, array_dataset, to_float
from ganapps.core.export import Handle
from ganapps.core.gan import GAN
from ganapps.core.images import save_image_grid
from ganapps.core.runs import compile_gan


class Generator(Handle):
    """A trained generator: latents `[N, latent_dim]` in, images `[N, S, S, C]` in [-1, 1] out (differentiable)."""

    @property
    def latent_dim(self) -> int:
        return int(self.input_shapes[0][-1])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.output_shape[1:])

    def latents(self, num: int, seed: int = 0) -> np.ndarray:
        """Standard normal latents, the same draw as `GAN.sample(num, seed=seed)`."""
        return np.random.default_rng(seed).standard_normal((num, self.latent_dim)).astype(np.float32)

    def generate(self, latents: np.ndarray, batch_size: int = 256, progress: bool = False) -> np.ndarray:
        starts = range(0, len(latents), batch_size)
        batches = [np.asarray(self(latents[i : i + batch_size]))
                   for i in progress_bar(starts, len(starts), "generating", progress)]
        return np.concatenate(batches) if batches else np.zeros((0, *self.image_shape), np.float32)


def build(config: Config, options: TrainOptions) -> GAN:
    """The compiled DCGAN of `config`; the discriminator drops batch norm under a gradient or R1 penalty."""
    penalised = bool(options.gp_weight or options.r1_weight)
    generator = models.generator(config.image_size, config.channels, config.latent_dim, config.width)
    discriminator = models.discriminator(config.image_size, config.channels, config.width, batch_norm=not penalised,
                                         pack=options.pack, features=bool(options.feature_matching),
                                         minibatch_std=config.minibatch_std)
    gan = GAN(generator, discriminator, ema_decay=options.ema or None, pack=options.pack, seed=options.seed)
    return compile_gan(gan, options)


_prepared: dict = {}  # the image set `prepare` loaded, under its config's key, for `dataset` to take


def _key(config: Config) -> tuple:
    return config.data, config.image_size, config.channels


def prepare(config: Config, download: bool = True, progress: bool = False) -> Config:
    """Load the data (bad files fail here, in one line) and record what it decided: the channels and the
    absolute path of a folder. The images are kept for `dataset`, so training reads the files once."""
    images = _prepared.get(_key(config)) or D.load(*_key(config), download=download, progress=progress)
    folder = config.data != D.GLYPHS and not config.data.startswith(TFDS_PREFIX)
    data = str(Path(config.data).expanduser().resolve()) if folder else config.data
    config = replace(config, data=data, channels=images.channels)
    _prepared.clear()
    _prepared[_key(config)] = images
    return config


def dataset(config: Config, options: TrainOptions, start_step: int) -> tf.data.Dataset:
    """The training share of the images (the held-out share is kept for `evaluate`), in [-1, 1]."""
    images = _prepared.pop(_key(config), None) or D.load(*_key(config))
    training, _ = D.split(images)
    return array_dataset(training.images, options.batch_size, options.seed, start_step).map(to_float)


def samples(gan: GAN, config: Config, options: TrainOptions, path: Path) -> None:
    save_image_grid(gan.sample(GRID_SAMPLES, seed=options.seed + 1), path)


QUALITY_SAMPLES = 500  # per evaluation during training: FID's bias grows at fewer, its cost at more


def quality(gan: GAN, config: Config, options: TrainOptions) -> dict[str, float]:
    """FID and KID of `QUALITY_SAMPLES` samples against as many held-out images, on the offline digit features
    (`evaluate` with fewer samples: compare these with each other, not with a 2,000-sample FID)."""
    from ganapps.apps.dcgan import lab  # the app's evaluate (lab imports this module)

    result = lab.evaluate(Generator.from_gan(gan, config, "training"), data=config.data, num=QUALITY_SAMPLES,
                          seed=options.seed)
    return {"fid": result.fid, "kid": result.kid}


def upgrade(values: dict) -> dict:
    """Runs written before `minibatch_std` existed had no minibatch-std channel in their discriminator."""
    return {"minibatch_std": False, **values}


APP = App("dcgan", Config, build, dataset, Generator, defaults=DEFAULTS, prepare=prepare, samples=samples,
          shipped=SHIPPED, quality=Quality(quality, ("fid", "kid"), higher=False), upgrade=upgrade)

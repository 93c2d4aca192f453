"""The superres app as the core sees it: the SRGAN of a config, aligned patches, a sample strip per epoch, the
generator exported as `image` in, `upscaled` out, and the tiled `Upscaler` that inference opens."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.superres import data as D
from ganapps.apps.superres import degradations
from ganapps.apps.superres import models
from ganapps.apps.superres.recipe import DEFAULTS, SHIPPED, TILE, TILE_OVERLAP, Config

from ganapps.core import metrics
from ganapps.core.app import App, Quality
from ganapps.core.config import TrainOptions
from ganapps.core.data import TFDS_PREFIX
from ganapps.core.errors import GanappsError
from ganapps.core.export import Handle, export_generator
from ganapps.core.images import save_image_grid
from ganapps.core.runs import compile_gan


class Upscaler(Handle):
    """A trained generator: `[N, h, w, 3]` in [0, 1] -> `[N, h*scale, w*scale, 3]`, clipped to [0, 1]."""

    def __init__(self, function, source: str):
        super().__init__(function, source)
        self.scale = int(self(np.zeros((1, 8, 8, 3), np.float32)).shape[1]) // 8

    def __call__(self, images) -> np.ndarray:
        return np.clip(np.asarray(self.function(images)), 0.0, 1.0)

    def self_ensemble(self, images: np.ndarray) -> np.ndarray:
        """The mean of the outputs for the 8 rotations and mirror images of `images` `[N, h, w, 3]`, each turned
        back (the geometric self-ensemble of EDSR, "+" in the published tables): a model's errors differ between
        orientations, the image does not; 8 times the work, about +0.3 dB on Set5 for the psnr model."""
        total = 0.0
        for turns in range(4):
            for mirror in (False, True):
                x = np.rot90(images, turns, axes=(1, 2))
                x = np.ascontiguousarray(x[:, :, ::-1] if mirror else x)
                y = self(x)
                total = total + np.rot90(y[:, :, ::-1] if mirror else y, -turns, axes=(1, 2))
        return total / 8

    def upscale(self, image: np.ndarray, tile: int = TILE, overlap: int = TILE_OVERLAP,
                dtype: type = np.float32, progress: Callable[[int, int], None] | None = None,
                self_ensemble: bool = False) -> np.ndarray:
        """One HWC RGB image in [0, 1], upscaled in `tile`-pixel tiles with `overlap` pixels of context each side
        (0: whole), each tile by `self_ensemble` when asked. The output is preallocated in `dtype` (uint8/uint16
        scale to their range), so memory stays at one output image plus one tile however big the input."""
        if image.ndim != 3 or image.shape[-1] != 3:
            raise GanappsError(f"expected an RGB image [h, w, 3], got shape {image.shape}")
        height, width = image.shape[:2]
        tile, s = tile or max(height, width), self.scale
        peak = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
        out = np.empty((height * s, width * s, 3), dtype)
        tiles = list(itertools.product(range(0, height, tile), range(0, width, tile)))
        for done, (top, left) in enumerate(tiles, 1):
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(top + tile + overlap, height), min(left + tile + overlap, width)
            bottom, right = min(top + tile, height), min(left + tile, width)
            model = self.self_ensemble if self_ensemble else self
            core = model(image[None, y0:y1, x0:x1])[0, (top - y0) * s : (bottom - y0) * s,
                                                    (left - x0) * s : (right - x0) * s]
            out[top * s : bottom * s, left * s : right * s] = np.round(core * peak) if peak != 1.0 else core
            if progress:
                progress(done, len(tiles))
        return out


def build(config: Config, options: TrainOptions) -> models.SRGAN:
    """The compiled SRGAN of `config`: the generator alone on L1 for the psnr stage, with the discriminator and
    the content loss for the gan stage."""
    generator = models.srresnet(config.scale, config.blocks, config.filters)
    adversarial = config.stage == "gan"
    extractor = models.vgg_features(config.vgg_weights) if adversarial and config.content == "vgg" else None
    gan = models.SRGAN(generator, models.discriminator(config.d_width), feature_extractor=extractor,
                       ema_decay=options.ema or None, seed=options.seed)
    return compile_gan(gan, options, adversarial_weight=config.adversarial_weight if adversarial else 0.0)


def prepare(config: Config) -> Config:
    """The data folder as an absolute path (a run resumes from anywhere)."""
    if config.data is None or config.data.startswith(TFDS_PREFIX):
        return config
    return replace(config, data=str(Path(config.data).expanduser().resolve()))


def dataset(config: Config, options: TrainOptions, start_step: int) -> tf.data.Dataset:
    pairs = D.training_pairs(config.data, config.scale, config.patch)
    scale = config.scale
    degrade = None if config.degradation == "bicubic" else lambda high, key: degradations.realistic(high, scale, key)
    return D.patch_dataset(pairs, config.scale, config.patch, options.batch_size, options.seed, start_step, degrade)


@functools.cache
def sample_pair(scale: int, degradation: str = "bicubic", size: int = 48) -> D.Pair:
    """A held-out crop for the sample strips: the centre of Set5's first image, else a synthetic pattern, its low
    resolution made as training makes it."""
    folder = D.default_eval_folder("set5")
    if folder.is_dir():
        high = D.load_pairs(folder, scale)[0].high
    else:
        y, x = np.mgrid[0:256, 0:256] / 256.0
        high = np.stack([0.5 + 0.5 * np.sin(40 * x * y), x, y], -1).astype(np.float32)
    top, left = [(s // 2 - size * scale // 2) // scale * scale for s in high.shape[:2]]
    high = high[top : top + size * scale, left : left + size * scale]
    low = D.downscale(high, scale) if degradation == "bicubic" else degradations.degraded_image(high, scale, 0)
    return D.Pair("sample", low, high)


def samples(gan: models.SRGAN, config: Config, options: TrainOptions, path: Path) -> None:
    """bicubic | model | original for the held-out crop."""
    shown = sample_pair(config.scale, config.degradation)
    model = Upscaler.from_gan(gan, config, "training").upscale(shown.low)
    save_image_grid(np.stack([D.upscale_bicubic(shown.low, config.scale), model, shown.high]), path, columns=3,
                    value_range=(0.0, 1.0))


def export(gan: models.SRGAN, config: Config, folder: Path, version: int = 1, format: str = "saved_model") -> Path:
    """The sampling generator: `image` [N, h, w, 3] in [0, 1] in, `upscaled` [N, h x scale, w x scale, 3] out."""
    return export_generator(gan.sampling_generator, folder, version, input_names=["image"], output_name="upscaled",
                            input_ranges={"image": (0.0, 1.0)}, output_range=(0.0, 1.0), dynamic_size=True,
                            format=format, info={"scale": config.scale})


def quality(gan: models.SRGAN, config: Config, options: TrainOptions) -> dict[str, float]:
    """Y-PSNR and SSIM on Set5 (x scale, borders shaved, as `evaluate` and the published tables), beside a checkout
    of the project's data; elsewhere on the sample crop."""
    from ganapps.apps.superres import lab  # the app's evaluate (lab imports this module)

    upscaler = Upscaler.from_gan(gan, config, "training")
    if D.default_eval_folder("set5").is_dir():
        summary = lab.evaluate(upscaler).summary
        return {"psnr": summary["psnr"], "ssim": summary["ssim"]}
    shown = sample_pair(config.scale)
    high = upscaler.upscale(shown.low)
    return {"psnr": float(metrics.psnr_y(high, shown.high, config.scale)),
            "ssim": float(metrics.ssim_y(high, shown.high, config.scale))}


APP = App("superres", Config, build, dataset, Upscaler, defaults=DEFAULTS["psnr"], prepare=prepare,
          samples=samples, export=export, shipped=SHIPPED, quality=Quality(quality, ("psnr", "ssim")))

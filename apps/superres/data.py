"""Super-resolution data: high-resolution images, their bicubic low-resolution versions, aligned random patches.

The low-resolution images are made once per image with Pillow's bicubic resampling, which filters with the
cubic kernel stretched by the scale (antialiasing, as MATLAB's `imresize` that published tables used), the same
function at training and evaluation. Training patches are cut inside TensorFlow from one flat pixel buffer per
resolution, at positions drawn from the seed and the step, so a resumed run sees the same patches as an
uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from ganapps.core.data import AUTOTUNE, TFDS_PREFIX, load_tfds
from ganapps.core.errors import GanappsError, ParameterError
from ganapps.core.images import list_images, load_image

SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sr").resolve()
TRAIN_FOLDER = SHARED_DATA / "train"  # the offline training set (T91 + BSD200) beside a developer checkout


def default_eval_folder(name: str = "set5") -> Path:
    return SHARED_DATA / "eval" / name


def crop_to_scale(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right edges so both sides divide by `scale` (the published tables' convention)."""
    height, width = image.shape[:2]
    return image[: height - height % scale, : width - width % scale]


def bicubic_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize float HWC [0, 1] RGB to (width, height) with Pillow's antialiased bicubic, per channel in float."""
    channels = [Image.fromarray(np.ascontiguousarray(image[..., c]), mode="F").resize(size, Image.BICUBIC)
                for c in range(image.shape[-1])]
    return np.clip(np.stack([np.asarray(c) for c in channels], axis=-1), 0.0, 1.0)


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The low-resolution input for a high-resolution image whose sides divide by `scale`."""
    return bicubic_resize(hr, (hr.shape[1] // scale, hr.shape[0] // scale))


def upscale_bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline every model is compared with."""
    return bicubic_resize(lr, (lr.shape[1] * scale, lr.shape[0] * scale))


@dataclass
class Pair:
    name: str
    low: np.ndarray  # float32 HWC in [0, 1]
    high: np.ndarray


def _pair(name: str, image: np.ndarray, scale: int) -> Pair:
    high = crop_to_scale(image, scale)
    return Pair(name, downscale(high, scale), high)


def load_pairs(folder: str | Path, scale: int, min_low_size: int = 1) -> list[Pair]:
    """Every image below `folder` as an (LR, HR) pair; images too small for `min_low_size` LR pixels are skipped."""
    images = ((path.name, load_image(path, channels=3)) for path in list_images(folder))
    pairs = [_pair(name, image, scale) for name, image in images if min(image.shape[:2]) // scale >= min_low_size]
    if not pairs:
        raise GanappsError(f"{folder}: no image is at least {min_low_size * scale} pixels on each side")
    return pairs


def tfds_pairs(name: str, scale: int) -> list[Pair]:
    """The HR training images of a TensorFlow Datasets set (e.g. `div2k`) as pairs, LR made with the same bicubic."""
    dataset = load_tfds(name, "train", "hr", "Name a folder of high-resolution images as the data instead.")
    return [_pair(f"{name}-{i}", example["hr"].astype(np.float32) / 255.0, scale)
            for i, example in enumerate(dataset.as_numpy_iterator())]


def training_pairs(data: str | Path | None, scale: int, patch: int) -> list[Pair]:
    """`data`: a folder of HR images, `tfds:NAME`, or None for the offline T91 + BSD200 set."""
    if data is None and not TRAIN_FOLDER.is_dir():
        raise ParameterError("data", f"not given, and the offline training set is not at {TRAIN_FOLDER}: name a "
                             "folder of high-resolution images or tfds:div2k")
    if str(data).startswith(TFDS_PREFIX):
        return tfds_pairs(str(data)[len(TFDS_PREFIX):], scale)
    return load_pairs(TRAIN_FOLDER if data is None else data, scale, patch)


def _flat(images: list[np.ndarray]) -> tuple[tf.Tensor, np.ndarray, np.ndarray]:
    """All images as one [pixels, 3] uint8 buffer, with each image's first pixel and width."""
    sizes = np.array([im.shape[0] * im.shape[1] for im in images])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pixels = np.concatenate([np.round(im * 255).astype(np.uint8).reshape(-1, 3) for im in images])
    return tf.constant(pixels), offsets, np.array([im.shape[1] for im in images])


def _crop(pixels, offset, width, top, left, size):
    """[B, size, size, 3] windows at (top, left) of images given by flat offset and width."""
    rows = tf.range(size, dtype=tf.int64)
    index = (offset[:, None, None] + (top[:, None, None] + rows[None, :, None]) * width[:, None, None]
             + left[:, None, None] + rows[None, None, :])
    return tf.cast(tf.gather(pixels, index), tf.float32) / 255.0


def patch_dataset(pairs: list[Pair], scale: int, patch: int, batch_size: int, seed: int,
                  start_step: int = 0, degrade: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None
                  ) -> tf.data.Dataset:
    """Endless `(lr, hr)` batches of aligned random patches with random flips and transposition.

    Images are picked in proportion to their area, so every pixel is equally likely to be seen. With `degrade`,
    `(hr_batch, seed) -> lr_batch`, the low-resolution patches are made from the high-resolution ones by it, with a
    seed of the step's own (`degradations.realistic`), instead of cut from the bicubic images.
    """
    low_pixels, low_offsets, low_widths = _flat([p.low for p in pairs])
    high_pixels, high_offsets, high_widths = _flat([p.high for p in pairs])
    low_heights = np.array([p.low.shape[0] for p in pairs])
    table = tf.constant(np.stack([low_offsets, low_widths, low_heights, high_offsets, high_widths], 1), tf.int64)
    log_area = tf.constant(np.log(low_widths * low_heights, dtype=np.float64)[None], tf.float32)

    def batch(step):
        keys = tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), step]), 4)
        image = tf.random.stateless_categorical(log_area, batch_size, keys[0], dtype=tf.int64)[0]
        row = tf.gather(table, image)
        u = tf.random.stateless_uniform([2, batch_size], keys[1])
        top = tf.cast(u[0] * tf.cast(row[:, 2] - patch + 1, tf.float32), tf.int64)
        left = tf.cast(u[1] * tf.cast(row[:, 1] - patch + 1, tf.float32), tf.int64)
        high = _crop(high_pixels, row[:, 3], row[:, 4], top * scale, left * scale, patch * scale)
        patches = [high] if degrade else [high, _crop(low_pixels, row[:, 0], row[:, 1], top, left, patch)]
        flips = tf.random.stateless_uniform([3, batch_size, 1, 1, 1], keys[2]) < 0.5
        patches = [tf.where(flips[0], tf.reverse(x, [2]), x) for x in patches]
        patches = [tf.where(flips[1], tf.reverse(x, [1]), x) for x in patches]
        high, *low = [tf.where(flips[2], tf.transpose(x, [0, 2, 1, 3]), x) for x in patches]
        if degrade:  # made from the flipped high patch, with the step's own key
            return tf.ensure_shape(degrade(high, keys[3]), [batch_size, patch, patch, 3]), high
        return low[0], high

    return tf.data.Dataset.counter(start_step, dtype=tf.int64).map(batch, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)

"""Image sets for the image apps: embedded glyphs, an image folder, or TensorFlow Datasets.

Every source becomes an `ImageSet` of uint8 NHWC arrays held in memory (a fixed size and channel count), so
training batches come from the core's resumable `array_dataset` and bad files fail before training starts,
with one line naming them.

- `glyphs`: 12,000 labelled digits rendered on first use by `ganapps.core.glyphs` (offline, no files), so an
  offline digit classifier can score samples.
- a folder: every image below it, centre-cropped to a square and resized.
- `tfds:NAME` (e.g. `tfds:mnist`, `tfds:celeb_a`): the `train` split of a TensorFlow Datasets set, from the
  local tfds folder or downloaded when possible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ganapps.core import glyphs
from ganapps.core.data import TFDS_PREFIX
from ganapps.core.data import load_tfds as load_tfds_split
from ganapps.core.errors import GanappsError
from ganapps.core.console import progress_bar
from ganapps.core.images import convert_channels, fit_image, list_images, load_image, to_uint8

GLYPHS = "glyphs"
HELD_OUT_FRACTION = 1 / 6  # 2,000 of the 12,000 glyphs; the same share of any other source


@dataclass(frozen=True)
class ImageSet:
    """uint8 images `[N, S, S, C]` and, when the source has them, integer labels `[N]`."""

    images: np.ndarray
    labels: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return int(self.images.shape[-1])

    def subset(self, index: np.ndarray) -> ImageSet:
        return ImageSet(self.images[index], None if self.labels is None else self.labels[index], self.source)


def _is_grey(images: np.ndarray) -> bool:
    return images.shape[-1] == 1 or bool(np.all(images[..., :1] == images[..., 1:]))


def _shape(images: np.ndarray, size: int, channels: int | None) -> np.ndarray:
    """Resize (if needed) and set channels: grey sources stay grey unless `channels` says otherwise."""
    if images.shape[1:3] != (size, size):
        images = np.stack([fit_image(image, size) for image in images])
    if channels is None:
        channels = 1 if _is_grey(images) else 3
    return convert_channels(images, channels)


# ---------------------------------------------------------------------------------------------------------- sources


def load_folder(folder: str | Path, size: int, channels: int | None = None, progress: bool = False) -> ImageSet:
    """Every image file below `folder`; a missing, empty or unreadable one gives a one-line `GanappsError`."""
    files = list_images(folder)
    images = np.stack([
        fit_image(to_uint8(load_image(path, channels=3), (0.0, 1.0)), size)
        for path in progress_bar(files, len(files), f"reading {folder}", progress)
    ])
    return ImageSet(_shape(images, size, channels), None, str(folder))


def load_tfds(
    name: str, size: int, channels: int | None = None, download: bool = True, data_dir: str | None = None,
    progress: bool = False,
) -> ImageSet:
    """The `train` split of a TensorFlow Datasets set with an `image` feature (and its `label`, if any)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    spec = TFDS_PREFIX + name
    dataset = load_tfds_split(name, "train", "image", f"Train on an image folder (data: its path) or on the embedded default (data: {GLYPHS})", download, data_dir)
    has_labels = "label" in dataset.element_spec and dataset.element_spec["label"].shape.rank == 0

    def square(example):
        image = example["image"]
        side = tf.minimum(tf.shape(image)[0], tf.shape(image)[1])
        image = tf.image.resize_with_crop_or_pad(image, side, side)
        image = tf.image.resize(image, (size, size), method="bicubic", antialias=True)
        label = tf.cast(example["label"], tf.int64) if has_labels else tf.constant(-1, tf.int64)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    total = int(dataset.cardinality())
    batches = dataset.map(square, num_parallel_calls=tf.data.AUTOTUNE).batch(1024)
    images, labels = [], []
    for image_batch, label_batch in progress_bar(tfds.as_numpy(batches), math.ceil(total / 1024) if total > 0 else None,
                                              f"reading {spec}", progress):
        images.append(image_batch)
        labels.append(label_batch)
    if not images:
        raise GanappsError(f"{spec}: the train split is empty")
    return ImageSet(_shape(np.concatenate(images), size, channels), np.concatenate(labels) if has_labels else None, spec)


def load(
    data: str = GLYPHS, size: int = glyphs.GLYPH_SIZE, channels: int | None = None, download: bool = True,
    data_dir: str | None = None, progress: bool = False,
) -> ImageSet:
    """Images from `glyphs`, `tfds:NAME` or a folder path, as uint8 `[N, size, size, channels]`.

    `channels=None` keeps grey sources grey (1) and colour ones RGB (3).
    """
    if data == GLYPHS:
        images, labels = glyphs.render_glyphs()
        return ImageSet(_shape(images, size, channels), labels, GLYPHS)
    if data.startswith(TFDS_PREFIX):
        return load_tfds(data[len(TFDS_PREFIX):], size, channels, download, data_dir, progress)
    return load_folder(Path(data).expanduser(), size, channels, progress)


def split(images: ImageSet, held_out: float = HELD_OUT_FRACTION) -> tuple[ImageSet, ImageSet]:
    """(training, held-out) parts: the same fixed shuffle every time, so evaluation never sees training images."""
    order = np.random.default_rng(12345).permutation(len(images))
    count = int(len(images) * held_out)
    return images.subset(np.sort(order[count:])), images.subset(np.sort(order[:count]))

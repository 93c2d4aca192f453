"""Input pipelines that can resume mid-run: every element is a pure function of its position.

`shuffled_index_batches` reshuffles each epoch with `tf.random.experimental.index_shuffle`, keyed by the seed
and the epoch, so skipping to step k costs nothing and a resumed run sees exactly the batches an
uninterrupted one would.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from ganapps.core.errors import GanappsError

AUTOTUNE = tf.data.AUTOTUNE


def to_float(images) -> tf.Tensor:
    """uint8 images (array or tensor) -> float32 in [-1, 1], the generators' tanh range."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def shuffled_index_batches(num_examples: int, batch_size: int, seed: int, start_step: int = 0) -> tf.data.Dataset:
    """Endless stream of index batches over [0, num_examples), a new permutation every epoch.

    Batch k holds positions k*batch_size ... (k+1)*batch_size - 1 of the endless shuffled sequence, so
    starting at `start_step` reproduces exactly what an uninterrupted run would see from there.
    """
    if num_examples < 1:
        raise ValueError("cannot stream an empty data set")
    n = tf.constant(num_examples, tf.int64)
    offsets = tf.range(batch_size, dtype=tf.int64)

    def indices(step):
        position = step * batch_size + offsets
        epoch, offset = position // n, position % n
        seeds = tf.stack([tf.fill([batch_size], tf.constant(seed, tf.int64)), epoch, tf.zeros_like(epoch)], axis=1)
        # The raw op: tf.random.experimental.index_shuffle pads batched [n, 2] seeds along the wrong axis.
        return tf.raw_ops.RandomIndexShuffle(index=offset, seed=seeds, max_index=tf.fill([batch_size], n - 1), rounds=4)

    return tf.data.Dataset.counter(start_step, dtype=tf.int64).map(indices)


def array_dataset(arrays, batch_size: int, seed: int, start_step: int = 0) -> tf.data.Dataset:
    """Resumable shuffled batches from in-memory arrays (one array or a tuple of equal length)."""
    arrays = tuple(np.asarray(a) for a in (arrays if isinstance(arrays, (tuple, list)) else (arrays,)))
    tensors = tuple(tf.constant(a) for a in arrays)

    def gather(indices):
        picked = tuple(tf.gather(t, indices) for t in tensors)
        return picked if len(picked) > 1 else picked[0]

    return shuffled_index_batches(len(arrays[0]), batch_size, seed, start_step).map(gather).prefetch(AUTOTUNE)


def indexed_dataset(
    num_examples: int, load: Callable[[tf.Tensor], object], batch_size: int, seed: int, start_step: int = 0
) -> tf.data.Dataset:
    """Resumable shuffled batches of examples loaded one by one (files: decode in parallel)."""
    return (
        shuffled_index_batches(num_examples, batch_size, seed, start_step)
        .unbatch()
        .map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(AUTOTUNE)
    )


TFDS_PREFIX = "tfds:"


def load_tfds(name: str, split: str, feature: str, instead: str, download: bool = True,
              data_dir: str | None = None) -> tf.data.Dataset:
    """A TensorFlow Datasets split whose examples have `feature`, with one-line errors for offline users.

    `instead` completes the error message with what to pass when the set cannot be had (e.g. a folder).
    """
    import tensorflow_datasets as tfds

    spec = TFDS_PREFIX + name
    try:
        dataset = tfds.load(name, split=split, download=download, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise GanappsError(f"{spec}: no such TensorFlow Datasets name (see tensorflow.org/datasets/catalog)") from None
    except Exception as error:  # tfds reports missing data and failed downloads with many exception types
        where = data_dir or tfds.core.constants.DATA_DIR
        how = "downloading is off" if not download else f"it could not be downloaded ({type(error).__name__}: {error})"
        first_line = f"{spec}: not in the local TensorFlow Datasets folder {where} and {how}".splitlines()[0]
        raise GanappsError(f"{first_line}. {instead}") from error
    if not isinstance(dataset.element_spec, dict) or feature not in dataset.element_spec:
        raise GanappsError(f"{spec}: has no {feature!r} feature")
    return dataset

"""Input pipelines that can resume mid-run: every element is a pure function of its position.

`shuffled_indices` reshuffles each epoch with `tf.random.experimental.index_shuffle`, keyed by the seed
and the epoch, so skipping to step k costs nothing and a resumed run sees exactly the batches an
uninterrupted one would.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def shuffled_indices(num_examples: int, seed: int, start: int = 0) -> tf.data.Dataset:
    """Endless stream of example indices in [0, num_examples), a new permutation every epoch."""
    if num_examples < 1:
        raise ValueError("cannot stream an empty data set")
    n = tf.constant(num_examples, tf.int64)

    def index(position):
        epoch, offset = position // n, position % n
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        return tf.random.experimental.index_shuffle(offset, key, n - 1)

    return tf.data.Dataset.counter(start, dtype=tf.int64).map(index)


def batched(
    indices: tf.data.Dataset,
    load: Callable[[tf.Tensor], object],
    batch_size: int,
    parallel: bool = True,
) -> tf.data.Dataset:
    """Map indices to examples, batch them (full batches only, so replicas split evenly) and prefetch."""
    calls = AUTOTUNE if parallel else None
    return indices.map(load, num_parallel_calls=calls, deterministic=True).batch(
        batch_size, drop_remainder=True
    ).prefetch(AUTOTUNE)


def array_dataset(arrays, batch_size: int, seed: int, start_step: int = 0) -> tf.data.Dataset:
    """Resumable shuffled batches from in-memory arrays (one array or a tuple of equal length)."""
    arrays = tuple(np.asarray(a) for a in (arrays if isinstance(arrays, (tuple, list)) else (arrays,)))
    tensors = tuple(tf.constant(a) for a in arrays)
    count = len(arrays[0])

    def load(i):
        picked = tuple(tf.gather(t, i) for t in tensors)
        return picked if len(picked) > 1 else picked[0]

    return batched(shuffled_indices(count, seed, start_step * batch_size), load, batch_size)

"""Discriminator layers that fight mode collapse: minibatch standard deviation and maxout."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable("ganapps")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's mean feature standard deviation as one extra channel (Karras et al. 2018).

    A collapsed generator makes batches with little spread; this lets the discriminator see it. Statistics
    are taken over groups of `group_size` samples of the local batch.
    """

    def __init__(self, group_size: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.group_size = group_size

    def call(self, x):
        batch = ops.shape(x)[0]
        group = ops.minimum(self.group_size, batch)
        # Sample i = g * (batch / group) + j lands at [g, j]; each j-column is one group.
        grouped = ops.reshape(ops.cast(x, "float32"), (group, -1, *x.shape[1:]))
        std = ops.sqrt(ops.var(grouped, axis=0) + 1e-8)
        stat = ops.mean(ops.reshape(std, (ops.shape(std)[0], -1)), axis=1)
        stat = ops.reshape(ops.tile(stat[None], (group, 1)), (-1, *([1] * (len(x.shape) - 1))))
        stat = ops.broadcast_to(stat, (*ops.shape(x)[:-1], 1))
        return ops.concatenate([x, ops.cast(stat, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


@keras.saving.register_keras_serializable("ganapps")
class Maxout(keras.layers.Layer):
    """Dense layer followed by the max over `pieces` linear pieces (Goodfellow et al. 2013)."""

    def __init__(self, units: int, pieces: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.pieces = pieces
        self.dense = keras.layers.Dense(units * pieces)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, x):
        y = self.dense(x)
        y = ops.reshape(y, (-1, self.units, self.pieces))
        return ops.max(y, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "pieces": self.pieces}

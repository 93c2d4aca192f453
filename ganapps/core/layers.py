"""Layers for GANs: batch normalisation over the global batch, minibatch standard deviation, maxout, a mixture latent
space, Fourier features."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable("ganapps")
class BatchNormalization(keras.layers.BatchNormalization):
    """Keras's batch normalisation with statistics over the global batch, in TensorFlow's fused kernel on one replica.

    Keras normalises with separate ops in float32 (moments, casts from and back to bfloat16), and when synchronized
    it also sums a tensor of ones per layer: in a small GAN that was a third of a step's time on a CPU. In training,
    on one replica, this layer computes the same batch statistics, output and moving averages with one fused op,
    natively in bfloat16; on several replicas it keeps Keras's synchronized moments, so the statistics stay those
    of the global batch and a step does not depend on the replica count.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("synchronized", True)
        super().__init__(**kwargs)

    def call(self, inputs, training=None, mask=None):
        rank = len(inputs.shape)
        fusable = (training and self.trainable and mask is None and not self.renorm and rank in (2, 4)
                   and self.axis in (-1, rank - 1))
        if not fusable or tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return super().call(inputs, training=training, mask=mask)
        x = inputs if rank == 4 else inputs[:, None, None, :]
        channels = inputs.shape[-1]
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, gamma, beta, epsilon=self.epsilon)[:3]
        # The kernel hands back the unbiased variance for the moving average; Keras averages the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(y if rank == 4 else y[:, 0, 0, :], self.compute_dtype)


@keras.saving.register_keras_serializable("ganapps")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's mean feature standard deviation as one extra channel (Karras et al. 2018).

    A collapsed generator makes batches with little spread; this lets the discriminator see it. Statistics are
    taken over groups of consecutive samples: `group_size`, or the largest smaller size that divides the batch. A
    replica's share of the global batch (a multiple of the group) then holds whole groups, so the statistic does not
    depend on the replica count.
    """

    def __init__(self, group_size: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.group_size = group_size

    def call(self, x):
        batch = ops.shape(x)[0]
        group = 1
        for size in range(2, self.group_size + 1):
            group = ops.where(batch % size == 0, size, group)
        grouped = ops.reshape(ops.cast(x, "float32"), (-1, group, *x.shape[1:]))
        std = ops.sqrt(ops.var(grouped, axis=1) + 1e-8)
        stat = ops.repeat(ops.mean(ops.reshape(std, (ops.shape(std)[0], -1)), axis=1), group, axis=0)
        stat = ops.broadcast_to(ops.reshape(stat, (-1, *([1] * (len(x.shape) - 1)))), (*ops.shape(x)[:-1], 1))
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


@keras.saving.register_keras_serializable("ganapps")
class MixtureLatent(keras.layers.Layer):
    """A learnt Gaussian-mixture latent space (DeLiGAN, Gurumurthy et al. 2017) inside the generator.

    The input stays a standard normal vector, so sampling, serving and inversion are unchanged: its first
    coordinate, through the normal CDF, picks one of `components` equally likely components, and the next
    `dim` coordinates are scaled and shifted by that component's learnt mean and scale. Disconnected data
    (separate modes) need a disconnected latent support; a continuous map of one Gaussian must put mass
    between the modes.
    """

    def __init__(self, components: int, dim: int, initial_scale: float = 0.05, mean_range: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.components = components
        self.dim = dim
        self.initial_scale = initial_scale
        self.mean_range = mean_range

    def build(self, input_shape):
        if input_shape[-1] < self.dim + 1:
            raise ValueError(f"MixtureLatent needs a latent of at least {self.dim + 1} values")
        self.means = self.add_weight(
            (self.components, self.dim), name="means",
            initializer=keras.initializers.RandomUniform(-self.mean_range, self.mean_range),
        )
        self.log_scales = self.add_weight(
            (self.components, self.dim), initializer=keras.initializers.Constant(np.log(self.initial_scale)),
            name="log_scales",
        )

    def call(self, z):
        uniform = 0.5 * (1.0 + ops.erf(z[:, 0] / np.sqrt(2.0)))
        index = ops.minimum(ops.cast(uniform * self.components, "int32"), self.components - 1)
        mean = ops.take(self.means, index, axis=0)
        scale = ops.exp(ops.take(self.log_scales, index, axis=0))
        return mean + scale * z[:, 1 : 1 + self.dim]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "components": self.components, "dim": self.dim,
                "initial_scale": self.initial_scale, "mean_range": self.mean_range}


@keras.saving.register_keras_serializable("ganapps")
class FourierFeatures(keras.layers.Layer):
    """Appends sin and cos of the inputs at octave-spaced frequencies (Tancik et al. 2020).

    An MLP on raw low-dimensional coordinates learns fine structure slowly (spectral bias); with these
    features a discriminator resolves narrow modes in a few hundred steps.
    """

    def __init__(self, octaves: int = 7, base: float = np.pi / 4, **kwargs):
        super().__init__(**kwargs)
        self.octaves = octaves
        self.base = base

    def call(self, x):
        frequencies = ops.convert_to_tensor(self.base * 2.0 ** np.arange(self.octaves), dtype=x.dtype)
        angles = ops.reshape(x[..., None] * frequencies, (-1, x.shape[-1] * self.octaves))
        return ops.concatenate([x, ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] * (1 + 2 * self.octaves))

    def get_config(self):
        return {**super().get_config(), "octaves": self.octaves, "base": self.base}

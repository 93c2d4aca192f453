"""Core layers against NumPy and Keras: batch normalisation, mixture latent, Fourier features, maxout."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import norm

from ganapps.core.layers import BatchNormalization, FourierFeatures, Maxout, MinibatchStdDev, MixtureLatent


def test_mixture_latent_picks_components_by_the_first_coordinate():
    layer = MixtureLatent(components=4, dim=2, initial_scale=0.5)
    layer.build((None, 3))
    means = np.arange(8, dtype=np.float32).reshape(4, 2)
    layer.means.assign(means)
    picks = np.array([0, 3, 1, 2])
    z = np.zeros((4, 3), np.float32)
    z[:, 0] = norm.ppf((picks + 0.5) / 4)
    z[:, 1:] = [[1, -1], [2, 0], [0, 0], [-2, 4]]
    out = np.asarray(layer(z))
    np.testing.assert_allclose(out, means[picks] + 0.5 * z[:, 1:], rtol=1e-5)


def test_mixture_latent_components_are_equally_likely():
    layer = MixtureLatent(components=5, dim=1, initial_scale=1e-6)
    layer.build((None, 2))
    layer.means.assign(np.arange(5, dtype=np.float32)[:, None])
    z = np.random.default_rng(0).standard_normal((20000, 2)).astype(np.float32)
    counts = np.bincount(np.round(np.asarray(layer(z))[:, 0]).astype(int), minlength=5)
    np.testing.assert_allclose(counts / 20000, 0.2, atol=0.015)


def test_fourier_features_match_numpy():
    x = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    out = np.asarray(FourierFeatures(octaves=3, base=1.0)(x))
    angles = (x[:, :, None] * np.array([1.0, 2.0, 4.0])).reshape(2, 6)
    np.testing.assert_allclose(out, np.concatenate([x, np.sin(angles), np.cos(angles)], axis=1), atol=1e-6)


def test_maxout_is_max_over_pieces():
    layer = Maxout(units=2, pieces=3)
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    out = np.asarray(layer(x))
    dense = x @ layer.dense.kernel.numpy() + layer.dense.bias.numpy()
    np.testing.assert_allclose(out, dense.reshape(4, 2, 3).max(axis=-1), rtol=1e-5)


@pytest.mark.parametrize("shape, kwargs", [((8, 5, 5, 6), {"momentum": 0.9}), ((16, 7), {}),
                                           ((8, 4, 4, 3), {"center": False, "scale": False})])
def test_fused_batch_norm_matches_keras(shape, kwargs):
    """Output, input and weight gradients and moving statistics equal Keras's unfused layer's on the same batch."""
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, shape), tf.float32)
    ours, keras_own = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    for layer in (ours, keras_own):
        layer.build(shape)
        if layer.scale:
            layer.gamma.assign(np.linspace(0.5, 1.5, shape[-1]))
            layer.beta.assign(np.linspace(-1.0, 1.0, shape[-1]))
    results = []
    for layer in (ours, keras_own):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y) * tf.reshape(tf.range(tf.size(y), dtype=tf.float32), shape) / 100.0)
        grads = tape.gradient(loss, [x, *layer.trainable_variables])
        results.append([y, *grads, layer.moving_mean, layer.moving_variance])
    for a, b in zip(*results):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    # Inference uses the moving statistics, as Keras's layer does.
    np.testing.assert_allclose(ours(x, training=False), keras_own(x, training=False), rtol=1e-5, atol=1e-6)


def test_fused_batch_norm_runs_in_bfloat16():
    layer = BatchNormalization(dtype="mixed_bfloat16")
    x = tf.constant(np.random.default_rng(1).normal(0.0, 1.0, (4, 3, 3, 2)), tf.float32)
    y = layer(x, training=True)
    assert y.dtype == tf.bfloat16
    expected = (x - tf.reduce_mean(x, [0, 1, 2])) / tf.sqrt(tf.math.reduce_variance(x, [0, 1, 2]) + layer.epsilon)
    np.testing.assert_allclose(np.asarray(tf.cast(y, tf.float32)), expected, atol=0.03)


def test_minibatch_std_over_consecutive_groups_matches_numpy_and_a_replica_split():
    x = np.random.default_rng(2).normal(size=(8, 3, 3, 2)).astype(np.float32)
    out = np.asarray(MinibatchStdDev(group_size=4)(x))
    np.testing.assert_array_equal(out[..., :2], x)
    for k in range(2):  # samples 4k .. 4k+3 form group k
        expected = np.sqrt(x[4 * k : 4 * k + 4].var(axis=0) + 1e-8).mean()
        np.testing.assert_allclose(out[4 * k : 4 * k + 4, ..., 2], expected, rtol=1e-5)
    half = np.asarray(MinibatchStdDev(group_size=4)(x[4:]))  # a second replica's share of the batch
    np.testing.assert_allclose(half, out[4:], rtol=1e-6)
    odd = np.asarray(MinibatchStdDev(group_size=4)(x[:6]))  # 6 samples: groups of 3
    np.testing.assert_allclose(odd[0, 0, 0, 2], np.sqrt(x[:3].var(axis=0) + 1e-8).mean(), rtol=1e-5)

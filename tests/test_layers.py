"""Core layers against NumPy: mixture latent, Fourier features, maxout."""

import numpy as np
from scipy.stats import norm

from ganapps.core.layers import FourierFeatures, Maxout, MixtureLatent


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

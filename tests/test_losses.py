"""Each loss family and penalty against a hand computation in NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from ganapps.core import losses as L

REAL = np.array([2.0, -0.5, 0.3, 1.2], np.float32)
FAKE = np.array([-1.0, 0.4, -2.5, 0.1], np.float32)


def softplus(x):
    return np.log1p(np.exp(x))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_bce_discriminator_loss(smoothing):
    t = 1 - smoothing
    expected = np.mean(-(t * np.log(sigmoid(REAL)) + (1 - t) * np.log(1 - sigmoid(REAL)))) + np.mean(
        -np.log(1 - sigmoid(FAKE)))
    for family in ("minimax", "non-saturating"):
        got = float(L.discriminator_loss(family, REAL, FAKE, smoothing))
        assert got == pytest.approx(expected, rel=1e-5)


def test_generator_losses_by_hand():
    assert float(L.generator_loss("minimax", FAKE)) == pytest.approx(np.mean(np.log(1 - sigmoid(FAKE))), rel=1e-5)
    assert float(L.generator_loss("non-saturating", FAKE)) == pytest.approx(-np.mean(np.log(sigmoid(FAKE))), rel=1e-5)
    assert float(L.generator_loss("wasserstein", FAKE)) == pytest.approx(-FAKE.mean(), rel=1e-6)
    assert float(L.generator_loss("hinge", FAKE)) == pytest.approx(-FAKE.mean(), rel=1e-6)
    assert float(L.generator_loss("least-squares", FAKE)) == pytest.approx(0.5 * np.mean((FAKE - 1) ** 2), rel=1e-6)


def test_other_discriminator_losses_by_hand():
    assert float(L.discriminator_loss("wasserstein", REAL, FAKE)) == pytest.approx(FAKE.mean() - REAL.mean(), rel=1e-6)
    hinge = np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE))
    assert float(L.discriminator_loss("hinge", REAL, FAKE)) == pytest.approx(hinge, rel=1e-6)
    ls = 0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE**2)
    assert float(L.discriminator_loss("least-squares", REAL, FAKE)) == pytest.approx(ls, rel=1e-6)


def test_unknown_family_names_the_choices():
    with pytest.raises(ValueError, match="hinge"):
        L.discriminator_loss("bogus", REAL, FAKE)
    assert L.check_family("wgan") == "wasserstein"


def test_gradient_penalty_of_linear_and_quadratic_critics():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(6, 3)).astype(np.float32)
    fake = rng.normal(size=(6, 3)).astype(np.float32)
    eps = rng.uniform(size=(6, 1)).astype(np.float32)
    w = np.array([0.5, -2.0, 1.0], np.float32)
    # Linear critic: gradient is w everywhere, so the penalty is (|w| - 1)^2.
    linear = lambda x: tf.linalg.matvec(x, w)  # noqa: E731
    assert float(L.gradient_penalty(linear, real, fake, eps)) == pytest.approx((np.linalg.norm(w) - 1) ** 2, rel=1e-5)
    # Quadratic critic sum(x^2): gradient 2 x_hat.
    quadratic = lambda x: tf.reduce_sum(x**2, axis=1)  # noqa: E731
    mixed = eps * real + (1 - eps) * fake
    expected = np.mean((np.linalg.norm(2 * mixed, axis=1) - 1) ** 2)
    assert float(L.gradient_penalty(quadratic, real, fake, eps)) == pytest.approx(expected, rel=1e-5)


def test_r1_penalty_of_quadratic_critic():
    real = np.random.default_rng(1).normal(size=(5, 2, 2, 1)).astype(np.float32)
    critic = lambda x: tf.reduce_sum(x**2, axis=[1, 2, 3])  # noqa: E731
    expected = 0.5 * np.mean(np.sum((2 * real) ** 2, axis=(1, 2, 3)))
    assert float(L.r1_penalty(critic, real)) == pytest.approx(expected, rel=1e-5)


def test_feature_matching_loss():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[0.0, 0.0], [2.0, 2.0]], np.float32)
    # means (2, 3) and (1, 1): mean squared difference (1 + 4) / 2
    assert float(L.feature_matching_loss(a, b)) == pytest.approx(2.5)

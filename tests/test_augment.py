"""DiffAugment (core/augment.py): each op against numpy, gradients through it, its wiring into the GAN step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganapps.core import augment
from ganapps.core import gan as core_gan
from ganapps.core.config import TrainOptions, augment_policy
from ganapps.core.errors import ParameterError
from ganapps.core.gan import GAN, Batch, Judgement


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """numpy: out[y, x] = image[y - dy, x - dx], zero where that is outside."""
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    for y in range(h):
        for x in range(w):
            if 0 <= y - dy < h and 0 <= x - dx < w:
                out[y, x] = image[y - dy, x - dx]
    return out


def test_translate_matches_numpy_shift_with_zero_fill():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(5, 7, 9, 2)).astype(np.float32)
    dy, dx = np.array([0, 3, -2, 8, -20]), np.array([1, -4, 0, -9, 2])  # some past the border
    out = augment.translate(tf.constant(images), tf.constant(dy), tf.constant(dx)).numpy()
    for n in range(5):
        np.testing.assert_array_equal(out[n], _shift(images[n], dy[n], dx[n]))


def test_cutout_zeroes_exactly_the_rectangle():
    images = np.ones((3, 8, 10, 1), np.float32)
    top, left = np.array([0, 5, -2]), np.array([0, 7, 3])
    out = augment.cutout(tf.constant(images), tf.constant(top), tf.constant(left), (4, 5)).numpy()
    for n in range(3):
        expected = np.ones((8, 10, 1), np.float32)
        expected[max(top[n], 0) : top[n] + 4, max(left[n], 0) : left[n] + 5] = 0
        np.testing.assert_array_equal(out[n], expected)


def test_color_is_the_papers_formula():
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, size=(4, 6, 6, 3)).astype(np.float32)
    draws = rng.uniform(size=(4, 3)).astype(np.float32)
    out = augment.diff_augment(tf.constant(images), ("color",), lambda shape: tf.constant(draws)).numpy()
    x = images + (draws[:, 0] - 0.5)[:, None, None, None]
    mean = x.mean(axis=3, keepdims=True)
    x = (x - mean) * (2 * draws[:, 1])[:, None, None, None] + mean
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * (draws[:, 2] + 0.5)[:, None, None, None] + mean
    np.testing.assert_allclose(out, x, rtol=1e-5, atol=1e-5)


def test_translation_and_cutout_draws_stay_in_the_papers_ranges():
    images = tf.ones((400, 32, 32, 1))
    rng = np.random.default_rng(2)
    uniform = lambda shape: tf.constant(rng.uniform(size=[int(s) for s in shape]), tf.float32)  # noqa: E731
    shifted = augment.diff_augment(images, ("translation",), uniform).numpy()[..., 0]
    # A shift of (dy, dx) leaves |dy| zero rows and |dx| zero columns: at most 4 each (1/8 of 32).
    empty_rows = (shifted.sum(axis=2) == 0).sum(axis=1)
    empty_columns = (shifted.sum(axis=1) == 0).sum(axis=1)
    assert empty_rows.max() == 4 and empty_columns.max() == 4 and (empty_rows == 0).any()
    holes = (augment.diff_augment(images, ("cutout",), uniform).numpy() == 0).sum(axis=(1, 2, 3))
    assert holes.max() == 16 * 16 and holes.min() >= 8 * 8  # half the side; at least a quarter inside


def test_gradients_flow_to_the_pixels_that_stay():
    images = tf.Variable(tf.ones((2, 8, 8, 1)))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(augment.translate(images, tf.constant([2, 0]), tf.constant([0, -3])))
    gradient = tape.gradient(total, images).numpy()[..., 0]
    expected = np.ones((2, 8, 8))
    expected[0, 6:, :] = 0  # shifted down by 2: the last two rows leave the image
    expected[1, :, :3] = 0  # shifted left by 3: the first three columns leave it
    np.testing.assert_array_equal(gradient, expected)


def test_policy_errors_name_the_parameter():
    assert augment_policy(" color, cutout ") == ("color", "cutout")
    assert augment_policy("") == ()
    with pytest.raises(ParameterError, match="augment.*flip"):
        TrainOptions(augment="translation,flip")
    with pytest.raises(ParameterError, match="augment"):
        augment.diff_augment(tf.ones((2, 8, 8)), ("cutout",), lambda shape: tf.zeros(shape))


class _Seeing(GAN):
    """A GAN whose judgement is the image it was shown, so a test reads what the discriminator sees."""

    def discriminate(self, samples, batch, training=True):
        return Judgement(samples)


def _gan(augmentable=True):
    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16 * 16), keras.layers.Reshape((16, 16, 1))])
    discriminator = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = type("G", (_Seeing,), {"augmentable": augmentable})(generator, discriminator, seed=3)
    return gan


def test_the_step_judges_augmented_samples_drawn_from_the_step():
    gan = _gan()
    gan.compile(augment="cutout")
    images = tf.ones((6, 16, 16, 1))
    core_gan._draws.count = 0  # as train_step does at each step's start
    first = gan.judge(images, Batch(images)).logits.numpy()
    again = gan.judge(images, Batch(images)).logits.numpy()
    holes = (first == 0).sum(axis=(1, 2, 3))
    assert (holes >= 16).all() and (holes <= 64).all() and len(set(holes)) > 1  # an 8x8 hole, clipped at borders
    assert not np.array_equal(first, again)  # each draw in a step is its own
    fresh = _gan()
    fresh.compile(augment="cutout")
    core_gan._draws.count = 0
    np.testing.assert_array_equal(fresh.judge(images, Batch(images)).logits.numpy(), first)  # keyed by seed/step
    plain = _gan()
    plain.compile()
    np.testing.assert_array_equal(plain.judge(images, Batch(images)).logits.numpy(), images.numpy())


def test_a_gan_whose_samples_are_aligned_refuses_augment():
    with pytest.raises(ParameterError, match="augment"):
        _gan(augmentable=False).compile(augment="translation")

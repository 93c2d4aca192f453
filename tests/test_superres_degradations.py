"""Real-ESRGAN degradations: each stage against an independent computation, the whole chain's determinism."""

import io
import math

import numpy as np
import pytest
import tensorflow as tf
from ganapps.apps.superres import degradations as D
from PIL import Image
from scipy import ndimage, special, stats


def photo(batch: int = 2, size: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth colour picture with some texture: gradients, a disc, mild noise (JPEG and blur see structure)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(batch):
        a, b, c = rng.uniform(0.5, 3.0, 3)
        disc = ((x - rng.uniform(0.3, 0.7)) ** 2 + (y - rng.uniform(0.3, 0.7)) ** 2 < 0.05).astype(float)
        image = np.stack([0.5 + 0.4 * np.sin(a * 6 * x), 0.5 + 0.4 * np.cos(b * 5 * y), 0.3 + 0.4 * disc * c / 3],
                         axis=-1)
        images.append(np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1))
    return np.asarray(images, np.float32)


# ---------------------------------------------------------------- the whole chain


@pytest.mark.parametrize("scale", [4, 2])
def test_realistic_shape_range_grid_and_seed(scale):
    high = photo()
    first = D.realistic(high, scale, tf.constant([3, 1])).numpy()
    assert first.shape == (2, 48 // scale, 48 // scale, 3) and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() <= 1.0
    np.testing.assert_allclose(first * 255, np.round(first * 255), atol=1e-3)  # on the 1/255 grid
    np.testing.assert_array_equal(D.realistic(high, scale, tf.constant([3, 1], tf.int64)).numpy(), first)
    assert not np.array_equal(D.realistic(high, scale, tf.constant([4, 1])).numpy(), first)
    assert np.abs(first - high[:, ::scale, ::scale]).mean() > 1 / 255  # something was done


def test_realistic_is_the_same_eagerly_in_tf_data_and_with_dynamic_shapes():
    high = photo(seed=1)
    seeds = [[s, 9] for s in range(4)]  # seeds 0-3 draw both noise types and both final orders
    eager = [D.realistic(high, 4, tf.constant(s)).numpy() for s in seeds]
    mapped = tf.data.Dataset.from_tensor_slices(tf.constant(seeds)).map(lambda s: D.realistic(high, 4, s))
    dynamic = tf.function(lambda x, s: D.realistic(x, 4, s),
                          input_signature=[tf.TensorSpec([None, None, None, 3]), tf.TensorSpec([2], tf.int32)])
    assert len({float(e.mean()) for e in eager}) == len(seeds)
    for s, expected, graph in zip(seeds, eager, mapped.as_numpy_iterator()):
        np.testing.assert_array_equal(graph, expected)
        np.testing.assert_array_equal(dynamic(high, tf.constant(s)).numpy(), expected)
    assert mapped.element_spec.shape.as_list() == [2, 12, 12, 3]


def test_realistic_rejects_sides_that_do_not_divide():
    with pytest.raises(ValueError, match="divide"):
        D.realistic(np.zeros([1, 10, 12, 3], np.float32), 4, [0, 0])


# ---------------------------------------------------------------- blur


@pytest.mark.parametrize("size", [5, 21])
def test_blur_is_convolution_with_mirrored_edges(size):
    images = photo(seed=2)
    kernels = np.random.default_rng(size).uniform(0, 1, (2, size, size)).astype(np.float32)  # not symmetric
    out = D.blur(tf.constant(images), tf.constant(kernels)).numpy()
    for b in range(2):
        for c in range(3):
            expected = ndimage.convolve(images[b, ..., c].astype(np.float64), kernels[b].astype(np.float64),
                                        mode="mirror")
            np.testing.assert_allclose(out[b, ..., c], expected, atol=1e-5 * kernels[b].sum())
    correlated = ndimage.correlate(images[0, ..., 0], kernels[0], mode="mirror")
    assert np.abs(out[0, ..., 0] - correlated).max() > 1e-3  # the test can tell convolution from correlation


def test_blur_mirrors_again_on_images_smaller_than_the_kernel():
    images = photo(batch=1, size=6, seed=3)
    kernel = np.random.default_rng(0).uniform(0, 1, (1, 21, 21)).astype(np.float32)
    out = D.blur(tf.constant(images), tf.constant(kernel)).numpy()
    expected = ndimage.convolve(images[0, ..., 1].astype(np.float64), kernel[0].astype(np.float64), mode="mirror")
    np.testing.assert_allclose(out[0, ..., 1], expected, rtol=1e-5)


def test_identity_kernels_leave_images_unchanged():
    images = photo(seed=4)
    np.testing.assert_array_equal(D.blur(tf.constant(images), D.identity_kernels(2)).numpy(), images)


# ---------------------------------------------------------------- kernels


def reference_kernel(family: str, sigma_x, sigma_y, rotation, beta, support, size=21) -> np.ndarray:
    """An independent numpy kernel: the covariance matrix built and inverted, evaluated on the support, padded."""
    half = support // 2
    axis = np.arange(-half, half + 1, dtype=np.float64)
    xx, yy = np.meshgrid(axis, axis)
    points = np.stack([xx, yy], axis=-1)
    if family.endswith("_iso") or family == "iso":
        sigma_y, rotation = sigma_x, 0.0
    turn = np.array([[np.cos(rotation), -np.sin(rotation)], [np.sin(rotation), np.cos(rotation)]])
    covariance = turn @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ turn.T
    q = np.einsum("...i,ij,...j->...", points, np.linalg.inv(covariance), points)
    if family.startswith("plateau"):
        kernel = 1 / (q ** beta + 1)
    elif family.startswith("generalized"):
        kernel = np.exp(-0.5 * q ** beta)
    else:
        kernel = np.exp(-0.5 * q)
    pad = (size - support) // 2
    return np.pad(kernel / kernel.sum(), pad)


def reference_sinc(cutoff: float, support: int, size: int = 21) -> np.ndarray:
    centre = (support - 1) / 2
    r = np.hypot(*np.meshgrid(np.arange(support) - centre, np.arange(support) - centre))
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    kernel[support // 2, support // 2] = cutoff ** 2 / (4 * np.pi)
    pad = (size - support) // 2
    return np.pad(kernel / kernel.sum(), pad)


def test_random_kernels_match_an_independent_computation_for_every_family():
    seed = tf.constant([5, 6])
    kernels = D.random_kernels(seed, 64, sinc_probability=0.2).numpy()
    p = {name: value.numpy() for name, value in D.kernel_parameters(seed, 64, sinc_probability=0.2)._asdict().items()}
    assert kernels.shape == (64, 21, 21) and kernels.dtype == np.float32
    np.testing.assert_allclose(kernels.sum(axis=(1, 2)), 1.0, atol=1e-5)
    assert (kernels[~p["sinc"]] >= 0).all()
    assert (kernels[p["sinc"]] < -1e-4).any(axis=(1, 2)).all()  # sinc ripples go negative
    assert set(p["family"][~p["sinc"]]) >= {0, 1, 2, 4}  # the common families all came up
    for i in range(64):
        if p["sinc"][i]:
            expected = reference_sinc(p["cutoff"][i], p["support"][i])
        else:
            expected = reference_kernel(D.KERNEL_FAMILIES[p["family"][i]], p["sigma_x"][i], p["sigma_y"][i],
                                        p["rotation"][i], p["beta"][i], p["support"][i])
        np.testing.assert_allclose(kernels[i], expected, atol=2e-6, err_msg=f"kernel {i}")


def test_isotropic_gaussian_kernel_is_a_gaussian():
    kernels = D.random_kernels([1, 2], 8, family_probabilities=(1, 0, 0, 0, 0, 0), sinc_probability=0.0).numpy()
    p = D.kernel_parameters([1, 2], 8, family_probabilities=(1, 0, 0, 0, 0, 0), sinc_probability=0.0)
    for kernel, sigma, support in zip(kernels, p.sigma_x.numpy(), p.support.numpy()):
        half = support // 2
        offsets = np.arange(-half, half + 1)
        profile = np.exp(-offsets ** 2 / (2 * sigma ** 2))
        gaussian = np.outer(profile, profile)
        np.testing.assert_allclose(kernel, np.pad(gaussian / gaussian.sum(), 10 - half), atol=1e-6)


def test_kernel_parameters_follow_the_reference_distributions():
    p = D.kernel_parameters([7, 8], 6000, sigma_range=(0.2, 3.0))
    family = p.family.numpy()
    frequencies = np.bincount(family, minlength=6) / len(family)
    np.testing.assert_allclose(frequencies, D.KERNEL_FAMILY_PROBABILITIES, atol=0.02)
    assert abs(p.sinc.numpy().mean() - D.SINC_PROBABILITY) < 0.02
    assert set(p.support.numpy()) == set(range(7, 22, 2))
    sigma_x, sigma_y, rotation, beta = (v.numpy() for v in (p.sigma_x, p.sigma_y, p.rotation, p.beta))
    assert sigma_x.min() >= 0.2 and sigma_x.max() <= 3.0
    isotropic = family % 2 == 0
    assert (sigma_y[isotropic] == sigma_x[isotropic]).all() and (rotation[isotropic] == 0).all()
    assert np.abs(rotation[~isotropic]).max() > 2.5  # rotations span [-pi, pi]
    assert (beta[family < 2] == 1).all()
    generalized, plateau = beta[(family == 2) | (family == 3)], beta[family >= 4]
    assert generalized.min() >= 0.5 and generalized.max() <= 4 and (generalized < 1).mean() > 0.4
    assert plateau.min() >= 1 and plateau.max() <= 2


def test_sinc_kernel_matches_bessel_j1():
    np.testing.assert_allclose(D.sinc_kernel(math.pi / 2, 21).numpy(), reference_sinc(math.pi / 2, 21), atol=1e-6)
    batched = D.sinc_kernel(tf.constant([1.2, 2.9]), 21, tf.constant([13, 7])).numpy()
    np.testing.assert_allclose(batched[0], reference_sinc(1.2, 13), atol=1e-6)
    np.testing.assert_allclose(batched[1], reference_sinc(2.9, 7), atol=1e-6)


# ---------------------------------------------------------------- JPEG


def pillow_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=quality,
                                                                 subsampling="4:2:0")
    return np.asarray(Image.open(buffer).convert("RGB"), np.float32) / 255


def test_jpeg_matches_pillow_at_each_samples_quality():
    image = photo(batch=1, seed=5)[0]
    out = D.jpeg(tf.constant(np.stack([image, image])), tf.constant([30, 90])).numpy()
    for sample, quality in enumerate([30, 90]):  # both libjpeg, 4:2:0, accurate inverse DCT: (nearly) equal
        assert np.abs(out[sample] - pillow_jpeg(image, quality)).mean() < 0.2 / 255
    assert np.abs(out[0] - out[1]).mean() > 1 / 255
    assert np.abs(out[0] - image).mean() > np.abs(out[1] - image).mean()  # lower quality, bigger error


def test_random_jpeg_draws_integer_qualities_per_sample():
    image = photo(batch=1, seed=6)[0]
    out = D.random_jpeg(tf.constant(np.stack([image] * 4)), tf.constant([1, 1]), (30, 95)).numpy()
    assert len({out[i].tobytes() for i in range(4)}) > 1
    qualities = tf.random.stateless_uniform([4], tf.constant([1, 1]), 30, 96, dtype=tf.int32).numpy()
    for i in range(4):
        assert np.abs(out[i] - pillow_jpeg(image, int(qualities[i]))).mean() < 0.2 / 255


# ---------------------------------------------------------------- noise


def grey(batch=2, size=128, value=0.5) -> tf.Tensor:
    return tf.fill([batch, size, size, 3], value)


def test_gaussian_noise_has_the_requested_deviation():
    out = D.gaussian_noise(grey(), tf.constant([1, 2]), sigma_range=(20, 20), grey_probability=0.0).numpy()
    noise = out - 0.5
    assert abs(noise.std() - 20 / 255) < 0.03 * 20 / 255 and abs(noise.mean()) < 0.002
    assert np.abs(noise[..., 0] - noise[..., 1]).mean() > 0.01  # colour noise


def test_gaussian_noise_per_sample_sigma_and_grey():
    out = D.gaussian_noise(grey(batch=4), tf.constant([3, 4]), sigma_range=(1, 30), grey_probability=1.0).numpy()
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    deviations = (out - 0.5).std(axis=(1, 2, 3)) * 255
    assert deviations.min() > 0.9 and deviations.max() < 31 and deviations.max() - deviations.min() > 1
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("rate", [3.0, 200.0])
def test_poisson_counts_follow_the_poisson_distribution(rate):
    counts = D.poisson_counts(tf.fill([200_000], rate), tf.constant([8, 9])).numpy()
    assert (counts == np.round(counts)).all()
    values, seen = np.unique(counts, return_counts=True)
    expected = stats.poisson.pmf(values, rate) * counts.size
    common = expected > 50
    assert (np.abs(seen[common] - expected[common]) < 5 * np.sqrt(expected[common])).all()
    assert abs(counts.var() / rate - 1) < 0.03


def test_poisson_noise_variance_grows_with_brightness():
    for value, scale in ((40 / 255, 1.0), (120 / 255, 2.0)):  # both far enough from 0 and 1 not to clip
        out = D.poisson_noise(grey(value=value), tf.constant([5, 5]), (scale, scale), grey_probability=0).numpy()
        noise = out - value
        assert abs(noise.var() / (scale ** 2 * value / 255) - 1) < 0.05
        assert abs(noise.mean()) < 0.002
    dark = D.poisson_noise(grey(value=0.0), tf.constant([5, 5]), scale_range=(3, 3)).numpy()
    assert (dark == 0).all()  # no photons, no shot noise


def test_poisson_grey_noise_counts_the_luma_and_is_the_same_on_all_channels():
    colour = np.array([0.3, 0.7, 0.5], np.float32)  # six deviations from 0 and 1: nothing clips
    luma = colour @ [0.2989, 0.587, 0.114]  # the grey noise follows the luma's rate, not any one channel's
    images = tf.constant(np.broadcast_to(colour, (2, 128, 128, 3)))
    out = D.poisson_noise(images, tf.constant([2, 2]), scale_range=(1, 1), grey_probability=1.0).numpy()
    noise = out - colour
    np.testing.assert_allclose(noise[..., 0], noise[..., 1], atol=1e-6)
    np.testing.assert_allclose(noise[..., 0], noise[..., 2], atol=1e-6)
    assert abs(noise[..., 0].var() / (np.round(luma * 255) / 255 ** 2) - 1) < 0.05


def test_random_noise_is_one_of_the_two():
    images = grey(batch=1, size=32)
    seed = tf.constant([0, 3])
    choice, noise_seed = D._keys(seed, 2)
    gaussian = tf.random.stateless_uniform([], choice).numpy() < D.GAUSSIAN_NOISE_PROBABILITY
    expected = (D.gaussian_noise(images, noise_seed) if gaussian else D.poisson_noise(images, noise_seed)).numpy()
    np.testing.assert_array_equal(D.random_noise(images, seed).numpy(), expected)


# ---------------------------------------------------------------- resize


@pytest.mark.parametrize("method", D.RESIZE_METHODS)
def test_resize_gives_the_requested_size(method):
    images = photo()
    for size in [(17, 31), (96, 60)]:
        out = D.resize(tf.constant(images), size, method).numpy()
        assert out.shape == (2, *size, 3)
        assert abs(out.mean() - images.mean()) < 0.02
    index = D.RESIZE_METHODS.index(method)
    np.testing.assert_array_equal(D.resize(images, (17, 31), tf.constant(index)).numpy(),
                                  D.resize(images, (17, 31), method).numpy())


def test_random_resize_sizes_stay_in_the_reference_ranges():
    images = tf.zeros([1, 40, 60, 3])
    sizes = {D.random_resize(images, tf.constant([s, 0])).shape[1:3] for s in range(40)}
    heights = {h for h, _ in sizes}
    assert min(heights) >= math.floor(40 * 0.15) and max(heights) <= 60
    assert min(heights) < 40 < max(heights) and (40, 60) in sizes  # down, up and keep all came up
    for h, w in sizes:
        assert abs(h / 40 - w / 60) < 0.05  # one scale for both sides
    second = D.random_resize(images, tf.constant([1, 0]), (10, 15), D.SECOND_RESIZE_PROBABILITIES,
                             D.SECOND_RESIZE_RANGE)
    assert 3 <= second.shape[1] <= 12

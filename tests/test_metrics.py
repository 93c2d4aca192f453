"""Metrics against independent references: scikit-image's published camera values, SciPy's sqrtm, loop-based
MMD, closed forms for FID/IS, and a digit classifier trained on the shared MNIST sample."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import keras
import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
from skimage import data as skdata
from skimage.metrics import structural_similarity

from ganapps.core import metrics
from ganapps.core.errors import GanappsError

MNIST_5K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist" / "mnist_5k.csv.gz"


@pytest.fixture(scope="module")
def camera_pair() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's metric tests' pair: `camera` and a copy with Gaussian noise (sigma 20), seed 5."""
    np.random.seed(5)
    cam = skdata.camera()
    noisy = np.clip(cam + 20.0 * np.random.randn(*cam.shape), 0, 255).astype(cam.dtype)
    return cam, noisy


# ---- paired image metrics ----------------------------------------------------------------------------------


def test_psnr_matches_ipol_reference(camera_pair):
    cam, noisy = camera_pair
    value = metrics.psnr(cam[..., None] / 255.0, noisy[..., None] / 255.0)
    assert value == pytest.approx(22.409353363576034, abs=1e-4)  # IPOL imdiff value in skimage's tests
    assert metrics.psnr(cam[..., None], noisy[..., None], max_value=255.0) == pytest.approx(value, abs=1e-4)


def test_ssim_matches_wang_gaussian_reference(camera_pair):
    cam, noisy = camera_pair
    value = metrics.ssim(cam[..., None] / 255.0, noisy[..., None] / 255.0)
    assert round(value, 4) == 0.3580
    reference = structural_similarity(
        cam, noisy, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert value == pytest.approx(reference, abs=1e-7)
    assert metrics.ssim(cam[..., None], noisy[..., None], max_value=255.0) == pytest.approx(value, abs=1e-7)


def test_ssim_and_psnr_batches_and_channels():
    rng = np.random.default_rng(0)
    a = rng.random((3, 24, 20, 3))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    per_image = metrics.ssim(a, b, per_image=True)
    assert per_image.shape == (3,)
    for i in range(3):
        reference = structural_similarity(
            a[i], b[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
        )
        assert per_image[i] == pytest.approx(reference, abs=1e-7)
    assert metrics.ssim(a, b) == pytest.approx(per_image.mean())
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    psnrs = metrics.psnr(a, b, per_image=True)
    expected = [10 * np.log10(1.0 / np.mean((a[i] - b[i]) ** 2)) for i in range(3)]
    np.testing.assert_allclose(psnrs, expected, atol=1e-4)
    with pytest.raises(ValueError):
        metrics.ssim(a[:, :8, :8], b[:, :8, :8])
    with pytest.raises(ValueError):
        metrics.psnr(a, b[:2])


def test_rgb_to_y_bt601():
    y = metrics.rgb_to_y(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(y[:, 0], [16 / 255, 235 / 255, (16 + 65.481) / 255])


def test_y_channel_metrics_shave_borders():
    rng = np.random.default_rng(1)
    hr = rng.random((2, 40, 36, 3))
    sr = np.clip(hr + 0.05 * rng.standard_normal(hr.shape), 0, 1)
    scale = 4

    def luma(x):
        y = 16 / 255 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255
        return y[:, scale:-scale, scale:-scale]

    y_sr, y_hr = luma(sr), luma(hr)
    expected_psnr = np.mean([10 * np.log10(1 / np.mean((y_sr[i] - y_hr[i]) ** 2)) for i in range(2)])
    assert metrics.psnr_y(sr, hr, scale) == pytest.approx(expected_psnr, abs=1e-4)
    expected_ssim = np.mean([
        structural_similarity(y_sr[i], y_hr[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                              data_range=1.0)
        for i in range(2)
    ])
    assert metrics.ssim_y(sr, hr, scale) == pytest.approx(expected_ssim, abs=1e-7)
    # The same images in [-1, 1], and a greyscale image counts as R = G = B.
    assert metrics.psnr_y(sr * 2 - 1, hr * 2 - 1, scale, value_range=(-1, 1)) == pytest.approx(expected_psnr, abs=1e-4)
    grey_sr, grey_hr = sr[..., :1], hr[..., :1]
    assert metrics.psnr_y(grey_sr, grey_hr, scale) == pytest.approx(
        metrics.psnr_y(np.repeat(grey_sr, 3, -1), np.repeat(grey_hr, 3, -1), scale), abs=1e-4
    )



def test_sharpness_is_sobel_energy_against_the_truth():
    rng = np.random.default_rng(2)
    hr = rng.random((2, 30, 26, 3))
    sr = scipy.ndimage.uniform_filter(hr, (1, 3, 3, 1))  # blurred: less gradient energy
    scale = 3

    def energy(x):  # mean Sobel magnitude of the shaved Y channel, with mirrored borders as TensorFlow pads
        y = (16 / 255 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255)
        y = y[:, scale:-scale, scale:-scale]
        return np.array([np.hypot(*(scipy.ndimage.sobel(image, axis=a, mode="mirror") for a in (0, 1))).mean()
                         for image in y])

    expected = energy(sr) / energy(hr)
    np.testing.assert_allclose(metrics.sharpness_y(sr, hr, scale, per_image=True), expected, rtol=1e-4)
    assert metrics.sharpness_y(sr, hr, scale) < 0.6 and metrics.sharpness_y(hr, hr, scale) == pytest.approx(1.0)

# ---- distribution metrics ----------------------------------------------------------------------------------


def _whitened(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Samples whose sample mean is exactly 0 and sample covariance (ddof 1) exactly the identity."""
    x = rng.standard_normal((n, d))
    x -= x.mean(0)
    chol = np.linalg.cholesky(x.T @ x / (n - 1))
    return scipy.linalg.solve_triangular(chol, x.T, lower=True).T


def test_fid_closed_form_2048_dims():
    a = _whitened(np.random.default_rng(0), 2100, 2048)  # N(0, I) in its exact sample moments
    np.testing.assert_allclose(np.cov(a, rowvar=False), np.eye(2048), atol=1e-8)
    assert metrics.frechet_distance(a, a + 1.0) == pytest.approx(2048.0, rel=1e-3)  # against N(1, I)


def test_fid_matches_scipy_sqrtm():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((300, 12)) @ rng.standard_normal((12, 12))
    b = rng.standard_normal((250, 12)) @ rng.standard_normal((12, 12)) + 0.5

    def reference(x, y):
        cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        root = scipy.linalg.sqrtm(cov_x @ cov_y).real
        return np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(cov_x + cov_y - 2 * root)

    assert metrics.frechet_distance(a, b) == pytest.approx(reference(a, b), rel=1e-8)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # Fewer samples than dimensions: singular covariances (the eigh path instead of Cholesky).
    assert metrics.frechet_distance(a[:5], b[:5]) == pytest.approx(reference(a[:5], b[:5]), rel=1e-6)


def _mmd2_loops(x: np.ndarray, y: np.ndarray) -> float:
    m, d = x.shape

    def k(u, v):
        return (float(u @ v) / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_loop_reference():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((30, 8))
    b = rng.standard_normal((30, 8)) * 1.3 + 0.4
    mean, std = metrics.kernel_inception_distance(a, b, num_subsets=1, subset_size=30)
    assert mean == pytest.approx(_mmd2_loops(a, b), rel=1e-10)
    assert std is None  # one subset has no spread
    whole = metrics.kernel_inception_distance(a, b, num_subsets=5, subset_size=1000)  # every subset is all 30 rows
    assert whole[0] == pytest.approx(mean, rel=1e-10) and whole[1] is None
    # Several subsets: the mean of per-subset unbiased estimates, close to zero for one distribution.
    same = metrics.kernel_inception_distance(rng.standard_normal((400, 8)), rng.standard_normal((400, 8)),
                                             num_subsets=20, subset_size=100)
    shifted = metrics.kernel_inception_distance(a, b + 1.0, num_subsets=20, subset_size=20)
    assert abs(same[0]) < 3 * same[1] + 1e-3 and shifted[0] > 0.1 and shifted[1] > 0


def test_inception_score_closed_forms():
    assert metrics.inception_score(np.full((100, 10), 0.1)) == pytest.approx((1.0, 0.0))
    one_hot = np.tile(np.eye(10), (100, 1))
    assert metrics.inception_score(one_hot, splits=10) == pytest.approx((10.0, 0.0))
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(5), size=60)
    marginal = probs.mean(0)
    kl = [sum(p[c] * np.log(p[c] / marginal[c]) for c in range(5)) for p in probs]
    assert metrics.inception_score(probs, splits=1)[0] == pytest.approx(np.exp(np.mean(kl)))


def test_precision_recall_extremes():
    rng = np.random.default_rng(5)
    real = rng.standard_normal((200, 16))
    assert metrics.precision_recall(real, real.copy(), k=3) == (1.0, 1.0)
    assert metrics.precision_recall(real, real + 100.0, k=3) == (0.0, 0.0)
    # Fakes collapsed onto a few real points: faithful (precision 1) but not diverse (low recall).
    precision, recall = metrics.precision_recall(real, np.repeat(real[:4], 50, axis=0), k=3, batch_size=64)
    assert precision == 1.0 and recall < 0.2


# ---- feature extractors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["download", "get_file"])
def test_inception_offline_gives_clear_error(tmp_path, monkeypatch, failure):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    if failure == "download":  # the real get_file finds an empty cache and tries to download
        import keras.src.utils.file_utils as file_utils

        monkeypatch.setattr(file_utils, "urlretrieve", refuse)
    else:
        monkeypatch.setattr(keras.utils, "get_file", refuse)
    with pytest.raises(metrics.FeatureExtractorUnavailable, match="extractor 'digits'") as caught:
        metrics.inception_v3_extractor()
    assert isinstance(caught.value, GanappsError) and str(tmp_path / "models") in str(caught.value)
    with pytest.raises(metrics.FeatureExtractorUnavailable):
        metrics.inception_v3_extractor(tmp_path / "missing.h5")


def test_keras_model_extractor_layers_resizing_and_range(tmp_path):
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Dense(4, name="hidden")(keras.layers.GlobalAveragePooling2D()(inputs))
    outputs = keras.layers.Softmax(name="probs")(hidden)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "tiny.keras")

    images = np.random.default_rng(6).random((10, 16, 16, 1)).astype(np.float32)  # grey, twice the size
    extractor = metrics.FeatureExtractor.load(
        tmp_path / "tiny.keras", feature_layer="hidden", probability_layer="probs"
    )
    features, probs = metrics.compute_features(extractor, images, batch_size=4)
    assert features.shape == (10, 4) and probs.shape == (10, 4)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    # Generator-range input gives the same features once value_range says so.
    shifted, _ = metrics.compute_features(extractor, images * 2 - 1, batch_size=3, value_range=(-1, 1))
    np.testing.assert_allclose(shifted, features, atol=1e-5)
    plain, none = metrics.compute_features(metrics.FeatureExtractor(model), images)
    assert plain.shape == (10, 4) and none is None
    with pytest.raises(metrics.FeatureExtractorUnavailable, match="no layer"):
        metrics.FeatureExtractor(model, feature_layer="missing")
    with pytest.raises(metrics.FeatureExtractorUnavailable):
        metrics.FeatureExtractor.load(tmp_path / "absent.keras")


@pytest.fixture(scope="module")
def mnist():
    if not MNIST_5K.is_file():
        pytest.skip(f"{MNIST_5K} not available")
    return metrics.load_mnist_5k(MNIST_5K)


def test_load_mnist_5k(mnist):
    images, labels = mnist
    assert images.shape == (5000, 28, 28, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() == 1.0
    assert np.array_equal(np.bincount(labels), np.full(10, 500))


def test_digit_classifier_accuracy_and_features(mnist):
    images, labels = mnist
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:4000], order[4000:]
    extractor = metrics.DigitFeatureExtractor.train(images[train], labels[train], epochs=3, seed=0)
    features, probs = metrics.compute_features(extractor, images[test], batch_size=250)
    assert features.shape == (1000, 128) and probs.shape == (1000, 10)
    accuracy = np.mean(probs.argmax(1) == labels[test])
    assert accuracy > 0.9, accuracy
    # Real digits against themselves score better than against noise on these features.
    noise = np.random.default_rng(1).random((200, 28, 28, 1)).astype(np.float32)
    noise_features, _ = metrics.compute_features(extractor, noise)
    half_a, half_b = features[:500], features[500:]
    assert metrics.frechet_distance(half_a, half_b) < metrics.frechet_distance(half_a, noise_features)

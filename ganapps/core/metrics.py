"""Image-quality metrics shared by every app, and the feature extractors that feed them.

Paired metrics (PSNR, SSIM, and their Y-channel, border-shaved variants for super-resolution) compare images
pixel by pixel. Distribution metrics (FID, KID, Inception Score, precision/recall) compare feature matrices
of shape [N, D] computed by a pluggable `FeatureExtractor`: InceptionV3 (ImageNet) when its weights can be
had, any Keras model, or a small digit classifier trained offline.

Value conventions: generators in the core emit float images in [-1, 1]; the metrics here take float images
in [0, 1]. `psnr`/`ssim` take images in [0, max_value] (255 for 8-bit values), so map generator output with
(x + 1) / 2 first; the Y-channel metrics and `compute_features` take a `value_range` instead. Feature metrics
work in float64 NumPy.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from ganapps.core.errors import GanappsError

Images = np.ndarray | tf.Tensor

# Wang et al. 2004, "Image quality assessment: from error visibility to structural similarity".
SSIM_FILTER_SIZE = 11
SSIM_FILTER_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03

# ITU-R BT.601 luma for RGB in [0, 1], as MATLAB's rgb2ycbcr computes it (Y in [16/255, 235/255]).
_BT601_Y = np.array([65.481, 128.553, 24.966]) / 255.0
_BT601_OFFSET = 16.0 / 255.0

INCEPTION_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
)
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"


class FeatureExtractorUnavailable(GanappsError, RuntimeError):
    """The requested feature network cannot be built here (weights missing and not downloadable, bad model file)."""


# --------------------------------------------------------------------------------------------------------------
# Paired image metrics


def _image_pair(a: Images, b: Images, dtype: tf.DType) -> tuple[tf.Tensor, tf.Tensor]:
    """Both images as NHWC tensors of `dtype` (an HWC image becomes a batch of one), with equal shapes."""
    tensors = []
    for image in (a, b):
        x = tf.cast(tf.convert_to_tensor(image), dtype)
        if x.shape.rank == 3:
            x = x[None]
        if x.shape.rank != 4:
            raise ValueError(f"expected HWC or NHWC images, got shape {tuple(x.shape)}")
        tensors.append(x)
    if tensors[0].shape != tensors[1].shape:
        raise ValueError(f"image shapes differ: {tuple(tensors[0].shape)} vs {tuple(tensors[1].shape)}")
    return tensors[0], tensors[1]


def _batch_result(values: tf.Tensor, per_image: bool) -> float | np.ndarray:
    values = np.asarray(values, np.float64)
    return values if per_image else float(values.mean())


def psnr(a: Images, b: Images, max_value: float = 1.0, per_image: bool = False) -> float | np.ndarray:
    """Peak signal-to-noise ratio in dB via `tf.image.psnr`: the batch mean, or one value per image.

    `max_value` is the data range: 1 for images in [0, 1], 255 for 8-bit values.
    """
    a, b = _image_pair(a, b, tf.float32)
    return _batch_result(tf.image.psnr(a, b, max_val=max_value), per_image)


def _gaussian_blur_valid(images: tf.Tensor) -> tf.Tensor:
    """Separable 11x11 Gaussian (sigma 1.5) per channel, 'valid' padding, in the images' dtype."""
    channels = images.shape[-1]
    coords = tf.range(SSIM_FILTER_SIZE, dtype=images.dtype) - (SSIM_FILTER_SIZE - 1) / 2
    weights = tf.exp(-0.5 * tf.square(coords / SSIM_FILTER_SIGMA))
    weights = weights / tf.reduce_sum(weights)
    column = tf.tile(tf.reshape(weights, (-1, 1, 1, 1)), (1, 1, channels, 1))
    row = tf.reshape(column, (1, -1, channels, 1))
    blurred = tf.nn.depthwise_conv2d(images, column, strides=(1, 1, 1, 1), padding="VALID")
    return tf.nn.depthwise_conv2d(blurred, row, strides=(1, 1, 1, 1), padding="VALID")


def ssim(a: Images, b: Images, max_value: float = 1.0, per_image: bool = False) -> float | np.ndarray:
    """Structural similarity with Wang et al.'s settings (Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03).

    Images must lie in [0, max_value]: the luminance term is not shift-invariant, so [-1, 1] generator output
    scores differently unless mapped to [0, 1] first. The SSIM map is averaged over pixels and channels, then
    over the batch unless `per_image`. The definition
    is `tf.image.ssim`'s ('valid' filtering, population statistics, as scikit-image's
    `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`), but computed in
    float64: `tf.image.ssim` works in float32, where E[x^2] - E[x]^2 cancels enough to shift the mean by ~2e-5
    (0.35795 instead of the reference 0.35796 on scikit-image's noisy `camera` test).
    """
    a, b = _image_pair(a, b, tf.float64)
    if min(a.shape[1], a.shape[2]) < SSIM_FILTER_SIZE:
        raise ValueError(f"SSIM needs images of at least {SSIM_FILTER_SIZE}x{SSIM_FILTER_SIZE}, got {tuple(a.shape)}")
    c1 = (SSIM_K1 * max_value) ** 2
    c2 = (SSIM_K2 * max_value) ** 2
    mean_a, mean_b = _gaussian_blur_valid(a), _gaussian_blur_valid(b)
    var_a = _gaussian_blur_valid(a * a) - mean_a * mean_a
    var_b = _gaussian_blur_valid(b * b) - mean_b * mean_b
    cov = _gaussian_blur_valid(a * b) - mean_a * mean_b
    luminance = (2 * mean_a * mean_b + c1) / (mean_a * mean_a + mean_b * mean_b + c1)
    structure = (2 * cov + c2) / (var_a + var_b + c2)
    return _batch_result(tf.reduce_mean(luminance * structure, axis=(1, 2, 3)), per_image)


def rgb_to_y(images: Images) -> np.ndarray:
    """ITU-R BT.601 luma of RGB images in [0, 1]: Y = 16/255 + (65.481 R + 128.553 G + 24.966 B)/255, shape [..., 1].

    This is the Y channel on which super-resolution papers report PSNR/SSIM (MATLAB's rgb2ycbcr, scaled to [0, 1]).
    """
    images = np.asarray(images, np.float64)
    if images.shape[-1] != 3:
        raise ValueError(f"expected RGB images (3 channels), got shape {images.shape}")
    return (_BT601_OFFSET + images @ _BT601_Y)[..., None]


def _shaved_luma(images: Images, scale: int, value_range: tuple[float, float]) -> np.ndarray:
    """Y channel in [0, 1] (greyscale counts as R = G = B) with `scale` pixels cut from each border."""
    if scale < 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    low, high = value_range
    x = (np.asarray(images, np.float64) - low) / (high - low)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    y = rgb_to_y(x)
    return y[..., scale:-scale, scale:-scale, :] if scale else y


def psnr_y(
    sr: Images, hr: Images, scale: int, value_range: tuple[float, float] = (0.0, 1.0), per_image: bool = False
) -> float | np.ndarray:
    """PSNR on the BT.601 Y channel after shaving `scale` pixels from each border: the super-resolution convention."""
    return psnr(_shaved_luma(sr, scale, value_range), _shaved_luma(hr, scale, value_range), 1.0, per_image)


def ssim_y(
    sr: Images, hr: Images, scale: int, value_range: tuple[float, float] = (0.0, 1.0), per_image: bool = False
) -> float | np.ndarray:
    """SSIM on the BT.601 Y channel after shaving `scale` pixels from each border: the super-resolution convention."""
    return ssim(_shaved_luma(sr, scale, value_range), _shaved_luma(hr, scale, value_range), 1.0, per_image)



def sharpness_y(
    sr: Images, hr: Images, scale: int, value_range: tuple[float, float] = (0.0, 1.0), per_image: bool = False
) -> float | np.ndarray:
    """Gradient energy of `sr` as a share of the truth's: the mean Sobel gradient magnitude of the shaved Y channel
    over the same for `hr`. 1 is as sharp as the original; blur falls below it, noise and ringing rise above it,
    which PSNR alone does not tell apart."""

    def energy(images):
        luma = _shaved_luma(images, scale, value_range)
        gradients = tf.image.sobel_edges(tf.constant(luma[None] if luma.ndim == 3 else luma, tf.float32))
        return tf.reduce_mean(tf.norm(gradients, axis=-1), axis=(1, 2, 3)).numpy()

    return _batch_result(energy(sr) / energy(hr), per_image)

# --------------------------------------------------------------------------------------------------------------
# Distribution metrics on feature matrices


def _feature_matrix(features: np.ndarray, name: str) -> np.ndarray:
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"{name}: expected an [N, D] feature matrix with N >= 2, got shape {features.shape}")
    return features


def _feature_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _feature_matrix(a, "first feature set"), _feature_matrix(b, "second feature set")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return a, b


def _trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """Tr sqrtm(Ca Cb) for covariance matrices, without complex arithmetic or SciPy.

    For any square R with R R^T = Ca, Ca Cb = R (R^T Cb) has the eigenvalues of R^T Cb R, which is symmetric
    PSD, so the trace is the sum of the square roots of its (clipped) eigenvalues. R is the Cholesky factor,
    or, when Ca is singular (fewer samples than dimensions), the symmetric root from eigh.
    """
    try:
        root = np.linalg.cholesky(cov_a)
    except np.linalg.LinAlgError:
        eigenvalues, eigenvectors = np.linalg.eigh(cov_a)
        root = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    middle = root.T @ cov_b @ root
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum())


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID on InceptionV3 pool features).

    ||mu_a - mu_b||^2 + Tr(Ca + Cb - 2 sqrtm(Ca Cb)), with covariances normalised by N - 1 as in pytorch-fid
    and clean-fid. The trace of the matrix square root comes from a symmetric eigenproblem (see
    `_trace_sqrt_product`), so singular covariances (N <= D) are fine and no imaginary round-off is discarded.
    """
    a, b = _feature_pair(feats_a, feats_b)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    mean_term = np.sum((a.mean(0) - b.mean(0)) ** 2)
    distance = mean_term + np.trace(cov_a) + np.trace(cov_b) - 2 * _trace_sqrt_product(cov_a, cov_b)
    return max(float(distance), 0.0)


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between equal-sized samples under k(x, y) = (x.y / d + 1)^3."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.mean())


def kernel_inception_distance(
    feats_a: np.ndarray, feats_b: np.ndarray, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float | None]:
    """KID (Bińkowski et al. 2018): mean and standard deviation of the unbiased cubic-kernel MMD^2 over subsets.

    Each of `num_subsets` draws takes `subset_size` rows (capped at the smaller set) from each set without
    replacement, as torch-fidelity and clean-fid do. Unlike FID the estimate is unbiased, so it can be compared
    across sample sizes; it can be slightly negative when the sets match. The standard deviation is None when it
    would measure nothing: one subset, or subsets that are the whole of both sets (too few samples to draw from).
    """
    a, b = _feature_pair(feats_a, feats_b)
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    rng = np.random.default_rng(seed)
    values = np.array([
        _mmd2_unbiased(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
        for _ in range(num_subsets)
    ])
    spread = num_subsets > 1 and size < max(len(a), len(b))
    return float(values.mean()), float(values.std()) if spread else None


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016), exp(E_x KL(p(y|x) || p(y))): mean and std over `splits` parts.

    `probs` holds one class-probability row per generated image. Values are comparable only between runs that
    use the same classifier (Keras' 1000-class InceptionV3 is not the 1008-class graph of the original paper).
    """
    p = _feature_matrix(probs, "probabilities")
    if np.any(p < 0):
        raise ValueError("probabilities must be non-negative")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be between 1 and the number of rows ({len(p)}), got {splits}")
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        log_part = np.log(part, out=np.zeros_like(part), where=part > 0)
        log_marginal = np.log(marginal, out=np.zeros_like(marginal), where=marginal > 0)
        scores.append(np.exp(np.mean(np.sum(part * (log_part - log_marginal), axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :], 0.0)


def _manifold_coverage(manifold: np.ndarray, samples: np.ndarray, k: int, batch_size: int) -> float:
    """Share of `samples` inside some ball around a `manifold` point reaching that point's k-th nearest neighbour."""
    if not 1 <= k < len(manifold):
        raise ValueError(f"k must be between 1 and the set size minus one ({len(manifold) - 1}), got {k}")
    # Index k of each sorted distance row: index 0 is the point itself.
    radii = np.concatenate([
        np.partition(_squared_distances(manifold[i : i + batch_size], manifold), k, axis=1)[:, k]
        for i in range(0, len(manifold), batch_size)
    ])
    inside = np.concatenate([
        np.any(_squared_distances(samples[i : i + batch_size], manifold) <= radii[None, :], axis=1)
        for i in range(0, len(samples), batch_size)
    ])
    return float(inside.mean())


def precision_recall(
    real_feats: np.ndarray, fake_feats: np.ndarray, k: int = 3, batch_size: int = 1024
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) from k-nearest-neighbour manifold estimates.

    Precision (fidelity) is the share of fake samples inside the real manifold; recall (diversity) the share of
    real samples inside the fake manifold. Distances are computed `batch_size` rows at a time to bound memory.
    """
    real, fake = _feature_pair(real_feats, fake_feats)
    return _manifold_coverage(real, fake, k, batch_size), _manifold_coverage(fake, real, k, batch_size)


# --------------------------------------------------------------------------------------------------------------
# Feature extractors


class FeatureExtractor:
    """A Keras model turned into images in [0, 1] -> (features [N, D], class probabilities [N, C] or None).

    Features come from `feature_layer` (default: the model's output) and probabilities, when a layer is named,
    from `probability_layer`. Images are converted between greyscale and RGB and resized (bilinear, antialiased)
    to the model's input size, then passed through `preprocess`, which maps [0, 1] to the model's convention
    (identity by default).
    """

    def __init__(
        self,
        model: keras.Model,
        feature_layer: str | None = None,
        probability_layer: str | None = None,
        preprocess: Callable[[tf.Tensor], tf.Tensor] | None = None,
        name: str | None = None,
    ):
        outputs = [_layer_output(model, feature_layer) if feature_layer else model.output]
        if probability_layer:
            outputs.append(_layer_output(model, probability_layer))
        self.model = keras.Model(model.inputs, outputs)
        self.name = name or model.name
        self.has_probabilities = bool(probability_layer)
        height, width, self.channels = model.input_shape[1:]
        self.image_size = (height, width) if height and width else None
        self._preprocess = preprocess or (lambda x: x)
        self._forward = tf.function(self._run, reduce_retracing=True)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        feature_layer: str | None = None,
        probability_layer: str | None = None,
        preprocess: Callable[[tf.Tensor], tf.Tensor] | None = None,
    ) -> FeatureExtractor:
        """An extractor from a saved Keras model file (.keras); a one-line error when it cannot be read."""
        path = Path(path)
        if not path.is_file():
            raise FeatureExtractorUnavailable(f"{path}: no such Keras model file")
        try:
            model = keras.saving.load_model(path, compile=False)
        except (ValueError, OSError, TypeError) as error:
            raise FeatureExtractorUnavailable(f"{path}: not a loadable Keras model ({error})") from error
        return cls(model, feature_layer, probability_layer, preprocess, name=path.stem)

    def _run(self, images: tf.Tensor) -> list[tf.Tensor]:
        x = tf.cast(images, tf.float32)
        if x.shape[-1] != self.channels:
            if (x.shape[-1], self.channels) == (1, 3):
                x = tf.image.grayscale_to_rgb(x)
            elif (x.shape[-1], self.channels) == (3, 1):
                x = tf.image.rgb_to_grayscale(x)
            else:
                raise ValueError(f"{self.name} takes {self.channels}-channel images, got {x.shape[-1]} channels")
        if self.image_size and tuple(x.shape[1:3]) != self.image_size:
            x = tf.image.resize(x, self.image_size, method="bilinear", antialias=True)
        outputs = self.model(self._preprocess(x), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [tf.reshape(output, (tf.shape(output)[0], -1)) for output in outputs]

    def __call__(self, images: Images) -> tuple[tf.Tensor, tf.Tensor | None]:
        """Features (flattened) and probabilities for one NHWC batch of images in [0, 1]."""
        outputs = self._forward(images)
        return outputs[0], (outputs[1] if self.has_probabilities else None)


def _layer_output(model: keras.Model, name: str) -> keras.KerasTensor:
    try:
        return model.get_layer(name).output
    except ValueError:
        known = ", ".join(layer.name for layer in model.layers)
        raise FeatureExtractorUnavailable(f"model {model.name!r} has no layer {name!r}; layers: {known}") from None


def _keras_cache() -> Path:
    """Keras' cache folder, read at call time so that a KERAS_HOME set after import is honoured."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def _inception_weights() -> Path:
    """The InceptionV3 ImageNet weights from the Keras cache, downloaded into it if missing and possible."""
    try:
        return Path(keras.utils.get_file(
            INCEPTION_WEIGHTS_FILE,
            INCEPTION_WEIGHTS_URL,
            cache_subdir="models",
            file_hash=INCEPTION_WEIGHTS_MD5,
            cache_dir=str(_keras_cache()),
        ))
    except Exception as error:  # get_file turns URL errors into a bare Exception
        cache = _keras_cache() / "models"
        raise FeatureExtractorUnavailable(
            f"InceptionV3 ImageNet weights are not in the Keras cache ({cache}) and cannot be downloaded "
            f"({error.__class__.__name__}: {error}). Use the extractor 'digits' (the offline digit classifier), "
            f"or a path to a Keras model (.keras), or copy {INCEPTION_WEIGHTS_FILE} into {cache}."
        ) from error


def inception_v3_extractor(weights: str | os.PathLike | None = None) -> FeatureExtractor:
    """InceptionV3 (ImageNet): 2048-d pool features for FID/KID/precision-recall and 1000 class probabilities for IS.

    Images are resized to 299x299 and mapped with `keras.applications.inception_v3.preprocess_input`. Weights
    come from `weights` or the Keras cache (downloaded once when possible), else `FeatureExtractorUnavailable`.
    Scores compare between runs of this extractor, not exactly with papers that use the TF-slim Inception graph.
    """
    path = Path(weights) if weights else _inception_weights()
    if not path.is_file():
        raise FeatureExtractorUnavailable(f"{path}: no such InceptionV3 weights file")
    try:
        base = keras.applications.InceptionV3(weights=str(path))
    except (ValueError, OSError) as error:
        raise FeatureExtractorUnavailable(f"{path}: not usable InceptionV3 ImageNet weights ({error})") from error
    return FeatureExtractor(
        base,
        feature_layer="avg_pool",
        probability_layer="predictions",
        preprocess=lambda x: keras.applications.inception_v3.preprocess_input(x * 255.0),
        name="inception_v3",
    )


def load_mnist_5k(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read the shared MNIST sample (`mnist_5k.csv.gz`: rows of 784 pixel values 0-255, then the label).

    Returns float32 images [N, 28, 28, 1] in [0, 1] and int64 labels. The file has no header; one is skipped if
    present. Rows are sorted by label, so shuffle before splitting.
    """
    path = Path(path)
    if not path.is_file():
        raise GanappsError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        first_field = handle.readline().split(",")[0]
    try:
        float(first_field)
        header_lines = 0
    except ValueError:
        header_lines = 1
    table = np.loadtxt(path, delimiter=",", skiprows=header_lines, dtype=np.float32, ndmin=2)
    if table.shape[1] != 28 * 28 + 1:
        raise GanappsError(f"{path}: expected 785 columns (784 pixels and a label), got {table.shape[1]}")
    images = (table[:, :-1] / 255.0).reshape(-1, 28, 28, 1)
    return images, table[:, -1].astype(np.int64)


def train_digit_classifier(
    images: np.ndarray, labels: np.ndarray, epochs: int = 3, seed: int = 0, batch_size: int = 64
) -> keras.Model:
    """Train the small CNN that stands in for InceptionV3 on digits, so evaluation needs no download.

    Layer "features" (128-d, penultimate) gives features and layer "probabilities" class probabilities. Seeded
    initialisers and shuffling keep runs repeatable without touching global random state.
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels, np.int64)
    initializer = [keras.initializers.GlorotUniform(seed=seed + i) for i in range(4)]
    model = keras.Sequential(
        [
            keras.Input(images.shape[1:]),
            keras.layers.Conv2D(32, 3, activation="relu", kernel_initializer=initializer[0]),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", kernel_initializer=initializer[1]),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu", kernel_initializer=initializer[2], name="features"),
            keras.layers.Dense(
                int(labels.max()) + 1, activation="softmax", kernel_initializer=initializer[3], name="probabilities"
            ),
        ],
        name="digit_classifier",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(data, epochs=epochs, shuffle=False, verbose=0)  # `data` shuffles itself, seeded
    return model


class DigitFeatureExtractor(FeatureExtractor):
    """Features and probabilities from a `train_digit_classifier` model: the offline extractor for digit data.

    Scores (FID, KID, IS, ...) are comparable only between runs that use the same trained classifier.
    """

    def __init__(self, classifier: keras.Model):
        super().__init__(classifier, "features", "probabilities", name="digits")

    @classmethod
    def train(cls, images: np.ndarray, labels: np.ndarray, epochs: int = 3, seed: int = 0) -> DigitFeatureExtractor:
        """Train a digit classifier (see `train_digit_classifier`) and wrap it."""
        return cls(train_digit_classifier(images, labels, epochs=epochs, seed=seed))


def compute_features(
    extractor: FeatureExtractor,
    images: Images | tf.data.Dataset,
    batch_size: int = 64,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> tuple[np.ndarray, np.ndarray | None]:
    """Run `extractor` over images in batches: float64 features [N, D] and probabilities [N, C] (or None).

    `images` is an NHWC array or a tf.data.Dataset of NHWC batches (e.g. generator output); values are mapped
    from `value_range` to [0, 1] and clipped, so generator output in [-1, 1] needs `value_range=(-1, 1)`.
    """
    low, high = value_range
    if not isinstance(images, tf.data.Dataset):
        images = tf.data.Dataset.from_tensor_slices(images).batch(batch_size)
    data = images.map(lambda x: tf.clip_by_value((tf.cast(x, tf.float32) - low) / (high - low), 0.0, 1.0))
    features, probabilities = [], []
    for batch in data.prefetch(tf.data.AUTOTUNE):
        batch_features, batch_probabilities = extractor(batch)
        features.append(batch_features.numpy())
        if batch_probabilities is not None:
            probabilities.append(batch_probabilities.numpy())
    if not features:
        raise ValueError("no images to compute features from")
    return (
        np.concatenate(features).astype(np.float64),
        np.concatenate(probabilities).astype(np.float64) if probabilities else None,
    )

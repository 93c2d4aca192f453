"""Real-world degradations for blind super-resolution: Real-ESRGAN's two-order model in TensorFlow ops.

Bicubic downscaling alone teaches a network one clean degradation, and such a network fails on photographs that
were blurred, resized, noisy and JPEG-compressed, often several times over. Real-ESRGAN (Wang et al. 2021,
"Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data") makes the low-resolution
input by running the chain blur -> random resize -> noise -> JPEG twice with random parameters, then resizing to
the target size with a final sinc (ringing) filter. `realistic` does the same from a stateless seed, in pure
TensorFlow, so it runs in a `tf.data` pipeline or eagerly and gives the same pixels for the same seed in both.

The probabilities and ranges are those of the reference implementation (xinntao/Real-ESRGAN
`options/train_realesrgan_x4plus.yml`, `realesrgan/models/realesrgan_model.py`, and BasicSR's
`basicsr/data/realesrgan_dataset.py` and `basicsr/data/degradations.py`). Where this module differs:

- JPEG is TensorFlow's libjpeg encoder (4:2:0 chroma subsampling) at integer qualities, not the differentiable
  DiffJPEG at real-valued qualities; no gradient flows through the degradations anyway.
- Resizing is `tf.image.resize`: its bicubic is Keys' cubic with a = -0.5 (PyTorch's uses -0.75), and "area"
  averages exact pixel areas. As in the reference (PyTorch's `F.interpolate` default), bilinear and bicubic
  are not antialiased: the aliasing of a careless downscale is one of the degradations.
- Blur is a true convolution (the kernel flipped), where the reference correlates; every kernel drawn here is
  point-symmetric, so the two are the same on these kernels.
- Poisson noise counts at 256 levels; the reference counts at the next power of two above the number of
  distinct values in the image, which is 256 for almost every natural image. The draws come from alias tables
  (`poisson_counts`: the same distribution, five times faster than `tf.random.stateless_poisson` here).
- The second-order blur and the final sinc filter are each applied per sample with their probabilities (an
  unfiltered sample gets the identity kernel); the reference decides the second blur once per batch. As in the
  reference, one resize direction, scale and method, one noise type (Gaussian or Poisson) and one order of the
  final stage are drawn per batch; kernels, noise levels, grey-or-colour noise and JPEG qualities per sample.
- The unsharp masking Real-ESRGAN applies to the high-resolution target is not part of the degradation.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Sequence

import numpy as np
import tensorflow as tf

from ganapps.core.errors import ParameterError

KERNEL_SIZE = 21  # every blur kernel is padded to this size, so one batch holds kernels of all sizes
KERNEL_SUPPORTS = (7, 21)  # the odd sizes the kernels are drawn from: 7, 9, ..., 21
KERNEL_FAMILIES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
KERNEL_FAMILY_PROBABILITIES = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
GENERALIZED_BETA_RANGE = (0.5, 4.0)  # the shape exponent of generalized Gaussian kernels
PLATEAU_BETA_RANGE = (1.0, 2.0)  # the shape exponent of plateau kernels
SINC_PROBABILITY = 0.1  # the chance that a blur kernel is a sinc (ringing) filter instead
SINC_SMALL_SUPPORT = 13  # sinc kernels smaller than this get cutoffs in SINC_CUTOFF_RANGE, larger ones lower too
SINC_CUTOFF_RANGE = (math.pi / 3, math.pi)
SINC_WIDE_CUTOFF_RANGE = (math.pi / 5, math.pi)

JPEG_DCT_METHOD = "INTEGER_ACCURATE"  # libjpeg's default decoder (JDCT_ISLOW), the one Pillow and viewers use

RESIZE_METHODS = ("area", "bilinear", "bicubic")
RESIZE_DIRECTIONS = ("up", "down", "keep")

GAUSSIAN_NOISE_PROBABILITY = 0.5  # otherwise Poisson noise
GREY_NOISE_PROBABILITY = 0.4  # the same noise on the three channels
POISSON_LEVELS = 255.0  # images are counted as photons at 256 levels
# Levels become [0, 1] by multiplying with the reciprocal, as `tf.image.convert_image_dtype` does: a graph
# optimiser turns a division by a constant into that product, and eager and graph results must agree to the bit.
PER_LEVEL = 1.0 / 255.0

FIRST_BLUR_SIGMA_RANGE = (0.2, 3.0)
FIRST_RESIZE_PROBABILITIES = (0.2, 0.7, 0.1)  # up, down, keep
FIRST_RESIZE_RANGE = (0.15, 1.5)
FIRST_NOISE_SIGMA_RANGE = (1.0, 30.0)  # Gaussian standard deviation in 1/255 units
FIRST_POISSON_SCALE_RANGE = (0.05, 3.0)
FIRST_JPEG_RANGE = (30, 95)

SECOND_BLUR_PROBABILITY = 0.8
SECOND_BLUR_SIGMA_RANGE = (0.2, 1.5)
SECOND_RESIZE_PROBABILITIES = (0.3, 0.4, 0.3)
SECOND_RESIZE_RANGE = (0.3, 1.2)  # relative to the target (low-resolution) size
SECOND_NOISE_SIGMA_RANGE = (1.0, 25.0)
SECOND_POISSON_SCALE_RANGE = (0.05, 2.5)
SECOND_JPEG_RANGE = (30, 95)

FINAL_SINC_PROBABILITY = 0.8
FINAL_SINC_CUTOFF_RANGE = (math.pi / 3, math.pi)
RESIZE_THEN_JPEG_PROBABILITY = 0.5  # else JPEG first, then the resize and sinc filter

# Stage numbers folded into the seed of `realistic`: each stage draws from its own stream.
(_FIRST_KERNELS, _FIRST_RESIZE, _FIRST_NOISE, _FIRST_JPEG, _SECOND_BLUR_USE, _SECOND_KERNELS, _SECOND_RESIZE,
 _SECOND_NOISE, _FINAL) = range(9)


def _keys(seed: tf.Tensor, count: int) -> list[tf.Tensor]:
    """`count` independent stateless seeds from one."""
    return tf.unstack(tf.random.experimental.stateless_split(_as_seed(seed), count))


def _as_seed(seed) -> tf.Tensor:
    seed = tf.convert_to_tensor(seed)
    return seed if seed.dtype in (tf.int32, tf.int64) else tf.cast(seed, tf.int64)


def _uniform(seed: tf.Tensor, shape, bounds: Sequence[float]) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, seed, float(bounds[0]), float(bounds[1]))


def _choose(seed: tf.Tensor, probabilities: Sequence[float], shape=()) -> tf.Tensor:
    """Indices into `probabilities` (which need not sum to 1) drawn with those weights, as int32 of `shape`."""
    cumulative = np.cumsum(np.asarray(probabilities, np.float64))
    thresholds = tf.constant(cumulative[:-1] / cumulative[-1], tf.float32)
    draw = tf.random.stateless_uniform(shape, seed)
    return tf.reduce_sum(tf.cast(draw[..., None] >= thresholds, tf.int32), axis=-1)


def _odd_supports(seed: tf.Tensor, shape, supports: Sequence[int]) -> tf.Tensor:
    """Odd kernel sizes uniform among supports[0], supports[0] + 2, ..., supports[1]."""
    low, high = supports[0] // 2, supports[1] // 2
    return 2 * tf.random.stateless_uniform(shape, seed, low, high + 1, dtype=tf.int32) + 1


def _grid(size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Column (x) and row (y) offsets from the centre of a size x size kernel."""
    axis = tf.range(size, dtype=tf.float32) - (size // 2)
    return axis[None, :] + tf.zeros([size, 1]), axis[:, None] + tf.zeros([1, size])


def _support_mask(supports: tf.Tensor, size: int) -> tf.Tensor:
    """[B, size, size] 1 inside each centred supports[b] x supports[b] square, 0 outside (the zero padding)."""
    x, y = _grid(size)
    radius = tf.cast(tf.reshape(supports, [-1, 1, 1]) // 2, tf.float32)
    return tf.cast((tf.abs(x) <= radius) & (tf.abs(y) <= radius), tf.float32)


def _normalised(kernels: tf.Tensor) -> tf.Tensor:
    return kernels / tf.reduce_sum(kernels, axis=[-2, -1], keepdims=True)


def identity_kernels(batch, size: int = KERNEL_SIZE) -> tf.Tensor:
    """[batch, size, size] kernels that leave an image as it is (a one at the centre)."""
    pulse = tf.one_hot((size // 2) * size + size // 2, size * size)
    return tf.reshape(tf.tile(pulse[None], tf.stack([batch, 1])), tf.stack([batch, size, size]))


def sinc_kernel(cutoff, size: int = KERNEL_SIZE, support=None) -> tf.Tensor:
    """The circular low-pass (2-D sinc) filter with cutoff frequency `cutoff` radians per pixel (pi: none).

    Its ripples imitate the ringing and overshoot that sharp low-pass filters (and many resizers) leave at edges.
    `cutoff` scalar -> [size, size]; `cutoff` [B] -> [B, size, size]. `support` (odd, at most `size`, scalar or
    [B]; default `size`) is the width of the filter itself, the rest zero, and the filter sums to 1 over it.
    """
    cutoff = tf.convert_to_tensor(cutoff, tf.float32)
    batched = cutoff.shape.rank == 1
    cutoffs = tf.reshape(cutoff, [-1, 1, 1])
    x, y = _grid(size)
    radius = tf.sqrt(x * x + y * y)
    safe = tf.where(radius > 0, radius, 1.0)
    ripples = cutoffs * tf.math.special.bessel_j1(cutoffs * safe) / (2 * math.pi * safe)
    kernels = tf.where(radius > 0, ripples, cutoffs ** 2 / (4 * math.pi))  # the limit at r = 0
    supports = tf.fill(tf.shape(cutoff), size) if support is None else tf.convert_to_tensor(support, tf.int32)
    kernels = _normalised(kernels * _support_mask(tf.broadcast_to(supports, tf.shape(cutoff)), size))
    return kernels if batched else kernels[0]


class KernelParameters(NamedTuple):
    """The random draws behind a batch of blur kernels, [B] each (drawn apart from building so they can be
    checked against an independent computation)."""

    family: tf.Tensor  # int32 index into KERNEL_FAMILIES
    sigma_x: tf.Tensor  # standard deviation along the kernel's own x axis, in pixels
    sigma_y: tf.Tensor  # equal to sigma_x for the isotropic families
    rotation: tf.Tensor  # radians, 0 for the isotropic families
    beta: tf.Tensor  # the shape exponent (1 for Gaussian kernels)
    support: tf.Tensor  # int32 odd width of the kernel before zero padding
    sinc: tf.Tensor  # bool: a sinc filter instead of the family's kernel
    cutoff: tf.Tensor  # the sinc filter's cutoff in radians


def kernel_parameters(seed: tf.Tensor, batch, sigma_range: Sequence[float] = FIRST_BLUR_SIGMA_RANGE,
                      sinc_probability: float = SINC_PROBABILITY,
                      family_probabilities: Sequence[float] = KERNEL_FAMILY_PROBABILITIES,
                      generalized_beta_range: Sequence[float] = GENERALIZED_BETA_RANGE,
                      plateau_beta_range: Sequence[float] = PLATEAU_BETA_RANGE,
                      supports: Sequence[int] = KERNEL_SUPPORTS) -> KernelParameters:
    """Draw the parameters of `batch` blur kernels as the reference does (see `random_kernels`)."""
    keys = _keys(seed, 10)
    shape = tf.reshape(tf.cast(batch, tf.int32), [1])
    family = _choose(keys[0], family_probabilities, shape)
    isotropic = family % 2 == 0
    sigma_x = _uniform(keys[1], shape, sigma_range)
    sigma_y = tf.where(isotropic, sigma_x, _uniform(keys[2], shape, sigma_range))
    rotation = tf.where(isotropic, 0.0, _uniform(keys[3], shape, (-math.pi, math.pi)))

    def shape_exponent(key, bounds):  # half below 1 and half above, as the reference draws it
        coin, below, above = _keys(key, 3)
        small = tf.random.stateless_uniform(shape, coin) < 0.5
        return tf.where(small, _uniform(below, shape, (bounds[0], 1.0)), _uniform(above, shape, (1.0, bounds[1])))

    beta = tf.where(family < 2, 1.0, tf.where(family < 4, shape_exponent(keys[4], generalized_beta_range),
                                               shape_exponent(keys[5], plateau_beta_range)))
    support = _odd_supports(keys[6], shape, supports)
    sinc = tf.random.stateless_uniform(shape, keys[7]) < sinc_probability
    cutoff = tf.where(support < SINC_SMALL_SUPPORT, _uniform(keys[8], shape, SINC_CUTOFF_RANGE),
                      _uniform(keys[9], shape, SINC_WIDE_CUTOFF_RANGE))
    return KernelParameters(family, sigma_x, sigma_y, rotation, beta, support, sinc, cutoff)


def kernels_from_parameters(parameters: KernelParameters, size: int = KERNEL_SIZE) -> tf.Tensor:
    """[B, size, size] kernels summing to 1 from their parameters, each zero-padded from its support to `size`."""
    p = parameters
    column = lambda v: tf.reshape(v, [-1, 1, 1])  # noqa: E731
    cos, sin = column(tf.cos(p.rotation)), column(tf.sin(p.rotation))
    inv_x, inv_y = column(p.sigma_x ** -2), column(p.sigma_y ** -2)
    x, y = _grid(size)
    # [x y] S^-1 [x y]^T with S = R diag(sigma_x^2, sigma_y^2) R^T, R the rotation by `rotation`
    quadratic = ((cos * cos * inv_x + sin * sin * inv_y) * x * x + 2 * cos * sin * (inv_x - inv_y) * x * y
                 + (sin * sin * inv_x + cos * cos * inv_y) * y * y)
    powered = tf.pow(tf.maximum(quadratic, 0.0), column(p.beta))
    shaped = tf.where(column(p.family) >= 4, 1 / (powered + 1), tf.exp(-0.5 * powered))
    shaped = _normalised(shaped * _support_mask(p.support, size))
    sincs = sinc_kernel(p.cutoff, size, p.support)
    return tf.where(column(p.sinc), sincs, shaped)


def random_kernels(seed: tf.Tensor, batch, size: int = KERNEL_SIZE,
                   sigma_range: Sequence[float] = FIRST_BLUR_SIGMA_RANGE,
                   sinc_probability: float = SINC_PROBABILITY,
                   family_probabilities: Sequence[float] = KERNEL_FAMILY_PROBABILITIES,
                   generalized_beta_range: Sequence[float] = GENERALIZED_BETA_RANGE,
                   plateau_beta_range: Sequence[float] = PLATEAU_BETA_RANGE,
                   supports: Sequence[int] = KERNEL_SUPPORTS) -> tf.Tensor:
    """[batch, size, size] float32 blur kernels summing to 1, one random kernel per sample.

    The families stand for camera and lens blur of many shapes: Gaussian, generalized Gaussian
    exp(-q^beta / 2) (sharper or flatter peak) and plateau 1 / (1 + q^beta), each isotropic or rotated
    anisotropic, q the Mahalanobis form of the sigmas. With `sinc_probability` the kernel is a sinc filter
    instead (ringing). The support is a random odd size in `supports`, zero-padded to `size`.
    """
    parameters = kernel_parameters(seed, batch, sigma_range, sinc_probability, family_probabilities,
                                   generalized_beta_range, plateau_beta_range, supports)
    return kernels_from_parameters(parameters, size)


def _reflect_indices(length: tf.Tensor, pad: int) -> tf.Tensor:
    """Indices of `pad` mirrored pixels each side of `length` ones, edge not repeated (abcd -> cb abcd cb), and
    mirrored again where the pad is wider than the image, so a big kernel on a small image still works."""
    index = tf.range(-pad, length + pad)
    period = tf.maximum(2 * (length - 1), 1)
    folded = tf.math.floormod(tf.abs(index), period)
    return tf.where(length > 1, tf.minimum(folded, period - folded), 0)


def blur(images: tf.Tensor, kernels: tf.Tensor) -> tf.Tensor:
    """Convolve each image of [B, H, W, C] with its own kernel of [B, k, k] (k odd), reflect-padded (mirrored
    about the edge pixels) so the output keeps the size and the edges get no dark border.

    The batch is folded into the channels of one depthwise convolution, which TensorFlow runs as one kernel.
    """
    size = kernels.shape[-1]
    if size is None or size % 2 != 1:
        raise ParameterError("kernels", f"must have an odd static size, got {kernels.shape}")
    pad = size // 2
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    padded = tf.gather(tf.gather(images, _reflect_indices(height, pad), axis=1),
                       _reflect_indices(width, pad), axis=2)
    folded = tf.reshape(tf.transpose(padded, [1, 2, 0, 3]),
                        tf.stack([1, height + 2 * pad, width + 2 * pad, batch * channels]))
    flipped = tf.cast(kernels, images.dtype)[:, ::-1, ::-1]  # convolution; depthwise_conv2d correlates
    per_channel = tf.tile(tf.transpose(flipped, [1, 2, 0])[..., None], tf.stack([1, 1, 1, channels]))
    filters = tf.reshape(per_channel, tf.stack([size, size, batch * channels, 1]))
    out = tf.nn.depthwise_conv2d(folded, filters, [1, 1, 1, 1], "VALID")
    out = tf.transpose(tf.reshape(out, tf.stack([height, width, batch, channels])), [2, 0, 1, 3])
    return tf.ensure_shape(out, images.shape)


def resize(images: tf.Tensor, size, method, antialias: bool = False) -> tf.Tensor:
    """Resize [B, H, W, C] to `size` (height, width) by `method`: a name in RESIZE_METHODS or an int32 tensor
    indexing it (one method drawn inside a graph). No clipping: bicubic may overshoot [0, 1] as in the reference.

    `antialias` widens the bilinear and bicubic filters when downscaling; off by default as in the reference,
    whose aliasing is part of what the model learns to undo ("area" always averages).
    """
    size = tf.cast(tf.convert_to_tensor(size), tf.int32)
    images = tf.convert_to_tensor(images, tf.float32)
    if isinstance(method, str):
        if method not in RESIZE_METHODS:
            raise ParameterError("method", f"{method!r}: choose one of {', '.join(RESIZE_METHODS)}")
        return tf.image.resize(images, size, method, antialias=antialias)
    branches = [lambda m=m: tf.image.resize(images, size, m, antialias=antialias) for m in RESIZE_METHODS]
    return tf.switch_case(tf.cast(method, tf.int32), branches)


def random_resize(images: tf.Tensor, seed: tf.Tensor, base_size=None,
                  probabilities: Sequence[float] = FIRST_RESIZE_PROBABILITIES,
                  scale_range: Sequence[float] = FIRST_RESIZE_RANGE) -> tf.Tensor:
    """Resize the batch up, down or not (`probabilities`, in RESIZE_DIRECTIONS order) to floor(base_size * s)
    by a random method, s uniform in [1, scale_range[1]] up or [scale_range[0], 1] down; one s and method per
    batch, as the reference. `base_size` (height, width) defaults to the images' own size."""
    direction_key, up_key, down_key, method_key = _keys(seed, 4)
    direction = _choose(direction_key, probabilities)
    scale = tf.where(direction == 0, _uniform(up_key, [], (1.0, scale_range[1])),
                     tf.where(direction == 1, _uniform(down_key, [], (scale_range[0], 1.0)), 1.0))
    base = tf.shape(images)[1:3] if base_size is None else base_size
    size = tf.maximum(tf.cast(tf.floor(tf.cast(base, tf.float32) * scale), tf.int32), 1)
    return resize(images, size, _choose(method_key, [1.0] * len(RESIZE_METHODS)))


def _per_sample(values: tf.Tensor) -> tf.Tensor:
    return tf.reshape(values, [-1, 1, 1, 1])


def gaussian_noise(images: tf.Tensor, seed: tf.Tensor, sigma_range: Sequence[float] = FIRST_NOISE_SIGMA_RANGE,
                   grey_probability: float = GREY_NOISE_PROBABILITY) -> tf.Tensor:
    """Add white Gaussian noise of a per-sample standard deviation uniform in `sigma_range` / 255 (sensor read
    noise), the same on all channels for a `grey_probability` share of the samples, and clip to [0, 1]."""
    sigma_key, grey_key, noise_key = _keys(seed, 3)
    batch = tf.shape(images)[:1]
    sigma = _uniform(sigma_key, batch, sigma_range) * PER_LEVEL
    grey = tf.random.stateless_uniform(batch, grey_key) < grey_probability
    noise = tf.random.stateless_normal(tf.shape(images), noise_key)
    noise = tf.where(_per_sample(grey), noise[..., :1], noise)
    return tf.clip_by_value(images + noise * _per_sample(sigma), 0.0, 1.0)


_COUNT_BITS = 9  # a Poisson draw here is one of 0..511; Poisson(255) exceeds 511 with odds below 1e-40
_THRESHOLD_BITS = 22  # the resolution of an alias table's acceptance probabilities


@functools.cache
def _poisson_alias_table() -> np.ndarray:
    """Walker's alias tables of Poisson(rate) over the counts 0..511 for each integer rate 0..255, built once
    (Vose's method, 0.1 s): [256 * 512] int32, each entry its acceptance threshold in units of 2^-22 shifted
    above its 9-bit alias, so one lookup gives both."""
    counts = 1 << _COUNT_BITS
    rate = np.arange(int(POISSON_LEVELS) + 1, dtype=np.float64)[:, None]
    count = np.arange(counts, dtype=np.float64)[None, :]
    log_factorial = np.array([math.lgamma(k + 1.0) for k in range(counts)])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = np.where(rate > 0, count * np.log(np.where(rate > 0, rate, 1.0)) - rate - log_factorial,
                           np.where(count == 0, 0.0, -np.inf))
    pmf = np.exp(log_pmf)
    pmf /= pmf.sum(axis=1, keepdims=True)
    threshold = np.ones(pmf.shape)  # what no pair claims keeps itself: threshold 1, alias itself
    alias = np.tile(np.arange(counts), (pmf.shape[0], 1))
    for row, probabilities in enumerate(pmf):
        scaled = probabilities * counts
        small = [k for k in range(counts) if scaled[k] < 1.0]
        large = [k for k in range(counts) if scaled[k] >= 1.0]
        while small and large:
            under, over = small.pop(), large.pop()
            threshold[row, under], alias[row, under] = scaled[under], over
            scaled[over] += scaled[under] - 1.0
            (small if scaled[over] < 1.0 else large).append(over)
    # a threshold of 1 (kept at 2^22 - 1) only ever meets its own alias, so the clamp changes nothing
    quantised = np.minimum(np.round(threshold * (1 << _THRESHOLD_BITS)), (1 << _THRESHOLD_BITS) - 1)
    return ((quantised.astype(np.int64) << _COUNT_BITS) | alias).astype(np.int32).reshape(-1)


def poisson_counts(rates: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Poisson draws (float32) for integer-valued rates in 0..255 of any shape, by Walker's alias method: one
    32-bit random number and one table lookup per draw. The distribution is `tf.random.stateless_poisson`'s
    (to 2^-22 in each probability), at a fifth of its time on this CPU, which matters at millions of pixels."""
    rows = tf.cast(tf.clip_by_value(tf.round(rates), 0.0, POISSON_LEVELS), tf.int32)
    bits = tf.random.stateless_uniform(tf.shape(rates), _as_seed(seed), None, None, dtype=tf.uint32)
    column = tf.cast(tf.bitwise.right_shift(bits, 32 - _COUNT_BITS), tf.int32)  # the top 9 bits pick a count
    fraction = tf.cast(tf.bitwise.bitwise_and(bits, (1 << _THRESHOLD_BITS) - 1), tf.int32)  # the low 22 accept
    entry = tf.gather(tf.constant(_poisson_alias_table()), tf.bitwise.left_shift(rows, _COUNT_BITS) | column)
    accepted = fraction < tf.bitwise.right_shift(entry, _COUNT_BITS)
    return tf.cast(tf.where(accepted, column, tf.bitwise.bitwise_and(entry, (1 << _COUNT_BITS) - 1)), tf.float32)


def poisson_noise(images: tf.Tensor, seed: tf.Tensor, scale_range: Sequence[float] = FIRST_POISSON_SCALE_RANGE,
                  grey_probability: float = GREY_NOISE_PROBABILITY) -> tf.Tensor:
    """Add shot noise: each pixel, quantised to 256 levels, taken as a photon count, the noise poisson(count) -
    count over 255 times a per-sample scale uniform in `scale_range` (brighter pixels noisier); for a
    `grey_probability` share of the samples counted on the luma and the same on all channels. Clipped to [0, 1].
    """
    scale_key, grey_key, noise_key = _keys(seed, 3)
    batch = tf.shape(images)[:1]
    scale = _uniform(scale_key, batch, scale_range)
    grey = _per_sample(tf.random.stateless_uniform(batch, grey_key) < grey_probability)
    counts = tf.round(tf.clip_by_value(images, 0.0, 1.0) * POISSON_LEVELS)
    luma = tf.round(tf.clip_by_value(tf.image.rgb_to_grayscale(images), 0.0, 1.0) * POISSON_LEVELS)
    # a grey sample counts its luma in channel 0 and uses only that channel's noise
    rates = tf.where(grey, tf.concat([luma, counts[..., 1:]], axis=-1), counts)
    noise = (poisson_counts(rates, noise_key) - rates) * PER_LEVEL
    noise = tf.where(grey, noise[..., :1], noise)
    return tf.clip_by_value(images + noise * _per_sample(scale), 0.0, 1.0)


def random_noise(images: tf.Tensor, seed: tf.Tensor, sigma_range: Sequence[float] = FIRST_NOISE_SIGMA_RANGE,
                 poisson_scale_range: Sequence[float] = FIRST_POISSON_SCALE_RANGE,
                 gaussian_probability: float = GAUSSIAN_NOISE_PROBABILITY,
                 grey_probability: float = GREY_NOISE_PROBABILITY) -> tf.Tensor:
    """Gaussian noise with `gaussian_probability`, else Poisson noise: one choice per batch, as the reference."""
    choice_key, noise_key = _keys(seed, 2)
    return tf.cond(tf.random.stateless_uniform([], choice_key) < gaussian_probability,
                   lambda: gaussian_noise(images, noise_key, sigma_range, grey_probability),
                   lambda: poisson_noise(images, noise_key, poisson_scale_range, grey_probability))


def jpeg(images: tf.Tensor, qualities) -> tf.Tensor:
    """JPEG-compress and decode each RGB image of [B, H, W, 3] at its own integer quality (0-100, scalar or
    [B]), after rounding to 8 bits; libjpeg through TensorFlow, 4:2:0 chroma subsampling, decoded with the
    accurate inverse DCT as image viewers and Pillow do (TensorFlow's default is a faster, rougher one).
    Float in [0, 1]."""
    images = tf.ensure_shape(tf.convert_to_tensor(images, tf.float32), [None, None, None, 3])
    pixels = tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.uint8)
    qualities = tf.broadcast_to(tf.cast(qualities, tf.int32), tf.shape(images)[:1])
    compressed = tf.map_fn(lambda pair: tf.image.adjust_jpeg_quality(pair[0], pair[1], JPEG_DCT_METHOD),
                           (pixels, qualities),
                           fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
    return tf.ensure_shape(tf.cast(compressed, tf.float32) * PER_LEVEL, images.shape)


def random_jpeg(images: tf.Tensor, seed: tf.Tensor, quality_range: Sequence[int] = FIRST_JPEG_RANGE) -> tf.Tensor:
    """JPEG at a per-sample quality uniform among the integers of `quality_range` (both ends included)."""
    qualities = tf.random.stateless_uniform(tf.shape(images)[:1], _as_seed(seed), int(quality_range[0]),
                                            int(quality_range[1]) + 1, dtype=tf.int32)
    return jpeg(images, qualities)


def _resize_and_sinc(images: tf.Tensor, seed: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """The final resize to the target size by a random method, then per sample (FINAL_SINC_PROBABILITY) a sinc
    filter of random support and cutoff."""
    method_key, use_key, cutoff_key, support_key = _keys(seed, 4)
    out = resize(images, size, _choose(method_key, [1.0] * len(RESIZE_METHODS)))
    batch = tf.shape(images)[:1]
    sincs = sinc_kernel(_uniform(cutoff_key, batch, FINAL_SINC_CUTOFF_RANGE), KERNEL_SIZE,
                        _odd_supports(support_key, batch, KERNEL_SUPPORTS))
    use = tf.random.stateless_uniform(batch, use_key) < FINAL_SINC_PROBABILITY
    return blur(out, tf.where(use[:, None, None], sincs, identity_kernels(batch[0])))


def _check_scale(high: tf.Tensor, scale: int) -> None:
    if not isinstance(scale, int) or scale < 1:
        raise ParameterError("scale", f"must be a positive integer, got {scale!r}")
    for side in high.shape[1:3]:
        if side is not None and side % scale:
            raise ParameterError("high", f"sides must divide by the scale {scale}, got shape {high.shape}")


def realistic(high: tf.Tensor, scale: int, seed: tf.Tensor) -> tf.Tensor:
    """[B, H, W, 3] float32 in [0, 1] (H, W divisible by scale; static or dynamic) -> [B, H//scale, W//scale, 3]
    float32 in [0, 1], quantised to multiples of 1/255, by the two-order degradation. `seed`: int32/int64 shape
    [2] stateless seed; the same seed and input give the identical output, in eager and in graph (tf.data) mode.
    """
    high = tf.convert_to_tensor(high, tf.float32)
    _check_scale(high, scale)
    seed = _as_seed(seed)
    key = lambda stage: tf.random.experimental.stateless_fold_in(seed, stage)  # noqa: E731
    shape = tf.shape(high)
    batch = shape[0]
    target = shape[1:3] // scale

    out = blur(high, random_kernels(key(_FIRST_KERNELS), batch, sigma_range=FIRST_BLUR_SIGMA_RANGE))
    out = random_resize(out, key(_FIRST_RESIZE), None, FIRST_RESIZE_PROBABILITIES, FIRST_RESIZE_RANGE)
    out = random_noise(out, key(_FIRST_NOISE), FIRST_NOISE_SIGMA_RANGE, FIRST_POISSON_SCALE_RANGE)
    out = random_jpeg(out, key(_FIRST_JPEG), FIRST_JPEG_RANGE)

    kernels = random_kernels(key(_SECOND_KERNELS), batch, sigma_range=SECOND_BLUR_SIGMA_RANGE)
    use = tf.random.stateless_uniform([batch], key(_SECOND_BLUR_USE)) < SECOND_BLUR_PROBABILITY
    out = blur(out, tf.where(use[:, None, None], kernels, identity_kernels(batch)))
    out = random_resize(out, key(_SECOND_RESIZE), target, SECOND_RESIZE_PROBABILITIES, SECOND_RESIZE_RANGE)
    out = random_noise(out, key(_SECOND_NOISE), SECOND_NOISE_SIGMA_RANGE, SECOND_POISSON_SCALE_RANGE)

    order_key, resize_key, jpeg_key = _keys(key(_FINAL), 3)
    out = tf.cond(tf.random.stateless_uniform([], order_key) < RESIZE_THEN_JPEG_PROBABILITY,
                  lambda: random_jpeg(_resize_and_sinc(out, resize_key, target), jpeg_key, SECOND_JPEG_RANGE),
                  lambda: _resize_and_sinc(random_jpeg(out, jpeg_key, SECOND_JPEG_RANGE), resize_key, target))
    out = tf.round(tf.clip_by_value(out, 0.0, 1.0) * 255.0) * PER_LEVEL
    static = high.shape
    return tf.ensure_shape(out, [static[0], None if static[1] is None else static[1] // scale,
                                 None if static[2] is None else static[2] // scale, 3])


def degraded_image(high: np.ndarray, scale: int, seed: int, index: int = 0) -> np.ndarray:
    """The realistic low-resolution version of one HWC image, fixed by `seed` and `index` (its place in an
    evaluation set), so that every model and every call sees the same input."""
    key = tf.constant([seed, index], tf.int64)
    return realistic(tf.constant(high[None], tf.float32), scale, key)[0].numpy()

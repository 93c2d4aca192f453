"""SRResNet generator, SRGAN discriminator and the SRGAN model (Ledig et al. 2017, "Photo-realistic single image
super-resolution using a generative adversarial network").

The generator works on images in [0, 1], `[N, h, w, 3]` -> `[N, h*s, w*s, 3]`, fully convolutional, so one
SavedModel upscales any size. As in EDSR (Lim et al. 2017) the residual blocks have no batch normalisation: it
lowers PSNR, and without it a tiled image equals a whole one. Two departures from SRResNet, both measured on this
CPU (`train`'s psnr stage, Set5 x4): everything runs at the low resolution and one sub-pixel convolution (ESPCN's
output layer, Shi et al. 2016: a convolution to 3 s^2 channels, then depth-to-space by s) makes the image, instead
of SRResNet's 2x stages with convolutions at the higher resolutions (five times cheaper per step); and the network
adds a residual to bicubic upsampling (VDSR's global residual learning, Kim et al. 2016) through a zero-initialised
last layer, so an untrained generator is exactly bicubic. SRResNet's own layout stalled at bicubic's PSNR, or
below it, for the first thousand steps here.
"""

from __future__ import annotations

from pathlib import Path

import math

import keras
import tensorflow as tf
from ganapps.apps.superres.recipe import SCALES, VGG_LAYER, VGG_RESCALE
from keras import layers

from ganapps.core.errors import GanappsError, ParameterError, check_choice
from ganapps.core.gan import GAN, Batch, Judgement, judgement
from ganapps.core.layers import BatchNormalization


class _ByFactor(keras.layers.Layer):
    """A layer that enlarges height and width by an integer `factor` (output shapes are traced from `call`)."""

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable("ganapps")
class PixelShuffle(_ByFactor):
    """Depth-to-space by `factor` (sub-pixel convolution, Shi et al. 2016)."""

    def call(self, x):
        return tf.nn.depth_to_space(x, self.factor)


def _cubic(distance: float) -> float:
    """Keys' cubic convolution kernel with a = -0.5, the one `tf.image.resize(method="bicubic")` uses."""
    d = abs(distance)
    if d <= 1:
        return 1.5 * d ** 3 - 2.5 * d ** 2 + 1
    return -0.5 * d ** 3 + 2.5 * d ** 2 - 4 * d + 2 if d < 2 else 0.0


@keras.saving.register_keras_serializable("ganapps")
class BicubicUpsample(_ByFactor):
    """Bicubic upsampling by an integer `factor` of any input size (the base the generator adds its residual to).

    It equals `tf.image.resize(x, size * factor, method="bicubic")` (half-pixel centres; taps outside the image get
    no weight and the rest are renormalised) but is built from shifts, sums and reshapes, so LiteRT and ONNX run it
    with their builtin ops (TensorFlow's ResizeBicubic has no LiteRT kernel). Output pixel j of a row reads input
    (j + 0.5) / factor - 0.5: each of the `factor` phases j mod factor is one fixed 5-tap filter.
    """

    def build(self, input_shape):
        taps = []
        for phase in range(self.factor):
            source = (phase + 0.5) / self.factor - 0.5  # relative to input pixel j // factor
            base = math.floor(source)
            fraction = round((source - base) * 1024) / 1024  # TensorFlow reads its weights from a 1024-step table
            weights = {base + k: _cubic(fraction - k) for k in range(-1, 3)}
            taps.append([weights.get(offset, 0.0) for offset in range(-2, 3)])
        self.taps = taps  # [phase][offset + 2]

    def _along(self, x: tf.Tensor, axis: int) -> tf.Tensor:
        """Upsample `x` along `axis` (1: height, 2: width) with renormalised weights at the borders."""
        length = tf.shape(x)[axis]
        padding = [[0, 0]] * 4
        padding[axis] = [2, 2]
        padded = tf.pad(x, padding)
        inside = tf.pad(tf.ones_like(tf.gather(x, [0], axis=3)), padding)  # 1 on the image, 0 beyond it
        shifted = [tf.gather(padded, tf.range(length) + k, axis=axis) for k in range(5)]
        weights = [tf.gather(inside, tf.range(length) + k, axis=axis) for k in range(5)]
        phases = []
        for taps in self.taps:
            total = sum(w * s for w, s in zip(taps, shifted) if w)
            norm = sum(w * m for w, m in zip(taps, weights) if w)
            phases.append(total / norm)
        stacked = tf.stack(phases, axis=axis + 1)  # [..., length, factor, ...]
        shape = tf.shape(x)
        new_shape = tf.tensor_scatter_nd_update(shape, [[axis]], [length * self.factor])
        return tf.reshape(stacked, new_shape)

    def call(self, x):
        return self._along(self._along(x, 1), 2)


def srresnet(scale: int = 4, blocks: int = 16, filters: int = 64) -> keras.Model:
    """A 9x9 head, `blocks` residual blocks (conv-PReLU-conv), a long skip, one sub-pixel convolution to the
    output, added to the bicubic upsampling of the input."""
    check_choice("scale", scale, SCALES)
    image = keras.Input((None, None, 3), name="image")
    head = layers.Conv2D(filters, 9, padding="same", name="head")(layers.Rescaling(2.0, offset=-1.0)(image))
    head = layers.PReLU(shared_axes=[1, 2])(head)
    x = head
    for i in range(blocks):
        y = layers.Conv2D(filters, 3, padding="same", name=f"block{i}_conv1")(x)
        y = layers.PReLU(shared_axes=[1, 2])(y)
        y = layers.Conv2D(filters, 3, padding="same", name=f"block{i}_conv2")(y)
        x = layers.Add()([x, y])
    x = layers.Conv2D(filters, 3, padding="same", name="body_end")(x)
    x = layers.Add()([head, x])
    x = layers.Conv2D(3 * scale**2, 3, padding="same", kernel_initializer="zeros", name="tail", dtype="float32")(x)
    detail = layers.Rescaling(0.5, dtype="float32")(PixelShuffle(scale, dtype="float32")(x))
    base = BicubicUpsample(scale, dtype="float32", name="bicubic")(image)
    # Outputs in [0, 1] without a saturating activation: clipping happens in inference, not in training.
    return keras.Model(image, layers.Add(dtype="float32", name="upscaled")([base, detail]), name=f"srresnet_x{scale}")


def discriminator(filters: int = 64) -> keras.Model:
    """The SRGAN discriminator: 8 convolutions (strides 1, 2 alternating, filters doubling every two) with batch
    normalisation and LeakyReLU, then Dense 1024 and one logit. Global average pooling replaces flattening so that
    any patch size works."""
    image = keras.Input((None, None, 3), name="image")
    x = layers.Conv2D(filters, 3, padding="same")(layers.Rescaling(2.0, offset=-1.0)(image))
    x = layers.LeakyReLU(0.2)(x)
    for i, (width, stride) in enumerate([(1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)]):
        x = layers.Conv2D(filters * width, 3, strides=stride, padding="same", use_bias=False)(x)
        x = BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(filters * 16)(x)
    x = layers.LeakyReLU(0.2)(x)
    return keras.Model(image, layers.Dense(1, dtype="float32")(x), name="srgan_discriminator")


def vgg_features(weights: str | None = None) -> keras.Model:
    """VGG19 up to `block5_conv4` on images in [0, 1], rescaled as in SRGAN; one-line error offline."""
    if weights and not Path(weights).is_file():
        raise ParameterError("vgg_weights", f"{weights}: no such file")
    try:
        vgg = keras.applications.VGG19(include_top=False, weights=weights or "imagenet", input_shape=(None, None, 3))
    except Exception as error:  # a failed download surfaces as many exception types
        if weights:
            raise ParameterError("vgg_weights", f"{weights}: not VGG19 no-top weights ({type(error).__name__})"
                                 ) from None
        raise GanappsError(
            "VGG19 ImageNet weights could not be downloaded for the content loss; give vgg_weights a local "
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 or use the pixel content loss"
        ) from None
    image = keras.Input((None, None, 3), name="image")
    x = keras.applications.vgg19.preprocess_input(image * 255.0)
    features = keras.Model(vgg.input, vgg.get_layer(VGG_LAYER).output)(x)
    return keras.Model(image, features * VGG_RESCALE, name="vgg19_features")


class SRGAN(GAN):
    """The generator maps the low-resolution half of each `(lr, hr)` batch; the discriminator judges HR images.

    `adversarial_weight` 0 (compile) is the pixel stage: the generator alone on the L1 loss. Otherwise the
    generator minimises the weighted adversarial term plus `content`, the MSE of `feature_extractor` maps (SRGAN),
    or without one the L1 pixel loss (Real-ESRGAN's pixel term, offline).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 feature_extractor: keras.Model | None = None, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.feature_extractor = feature_extractor
        if feature_extractor is not None:
            feature_extractor.trainable = False

    def unpack_batch(self, data) -> Batch:
        return Batch(real=data[1], condition=data[0])  # (lr, hr)

    def generate(self, batch: Batch, training: bool = True):
        return self.generator(batch.condition, training=training)

    def discriminate(self, samples, batch: Batch, training: bool = True) -> Judgement:
        return judgement(self.discriminator(samples, training=training))

    def generator_extra_losses(self, batch: Batch, fake, scores: Judgement | None,
                               training: bool = True) -> dict[str, tf.Tensor]:
        fake = tf.cast(fake, tf.float32)
        if self.feature_extractor is None or not self.adversarial:  # the psnr stage, or the gan stage on pixels
            return {"l1": tf.reduce_mean(tf.abs(fake - batch.real))}
        features = lambda x: tf.cast(self.feature_extractor(x, training=False), tf.float32)  # noqa: E731
        return {"content": tf.reduce_mean(tf.square(features(fake) - features(batch.real)))}

    def metric_names(self) -> list[str]:
        return super().metric_names() + (["content"] if self.adversarial and self.feature_extractor else ["l1"])

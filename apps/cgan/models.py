"""Conditional generators and discriminators, and the `ConditionalGAN` that trains them through the core hooks.

A `conditions.Condition` gives both networks the condition's inputs and turns it into a vector, separately in each
network (the generator's and the discriminator's embeddings are their own, so that neither trains the other's).

Generators are DCGAN-shaped (4x4 projection, stride-2 transposed convolutions, tanh images in [-1, 1]); the
condition vector is appended to the noise and also sets the scale and shift of every batch norm (conditional batch
norm). Discriminators mirror them and end in a linear logit plus one of: a projection term <embed(c), h> (Miyato
and Koyama 2018, the default), an auxiliary head that classifies labels / regresses metadata / predicts a
caption's words (AC-GAN, Odena et al. 2017), or nothing, the condition's embedding being appended to the image as
constant feature maps instead (`concat`: the original conditional GAN's "y appended to the discriminator's input",
Mirza and Osindero 2014).

Conditional generators tend to stop listening to their noise and draw one image per condition; a mode-seeking term
(Mao et al. 2019) on the generator keeps two samples of one condition apart.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.cgan.recipe import EMBED_DIM
from keras import layers

from ganapps.core.errors import ParameterError
from ganapps.core.gan import GAN, Batch, Judgement, judgement
from ganapps.core.layers import BatchNormalization

BASE = 4
KERNEL = 4
BN_MOMENTUM = 0.9  # moving statistics follow the last ~10 steps, as in the dcgan app
CONCAT_DIM = 16  # concat discriminator: channels of the condition's feature maps


def _stages(image_size: int) -> int:
    return (image_size // BASE).bit_length() - 1


def _init() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=0.02)


def normalizer(ranges, name: str) -> layers.Layer:
    """Fixed scaling of attributes from their ranges to [-1, 1]."""
    ranges = np.asarray(ranges, np.float32)
    centre, half = ranges.mean(axis=1), np.maximum((ranges[:, 1] - ranges[:, 0]) / 2.0, 1e-6)
    return layers.Normalization(mean=centre, variance=half**2, name=name)


def _conditional_norm(x: keras.KerasTensor, condition: keras.KerasTensor | None) -> keras.KerasTensor:
    """Batch norm whose scale and shift are functions of the condition (de Vries et al. 2017; Miyato and Koyama
    2018), starting as plain batch norm: the condition reaches every layer of the generator, not only its input."""
    channels = x.shape[-1]
    if condition is None:
        return BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = BatchNormalization(momentum=BN_MOMENTUM, center=False, scale=False)(x)
    gain = layers.Reshape((1, 1, channels))(layers.Dense(channels, kernel_initializer="zeros")(condition))
    shift = layers.Reshape((1, 1, channels))(layers.Dense(channels, kernel_initializer="zeros")(condition))
    return layers.Add()([x, layers.Multiply()([x, gain]), shift])


def _decoder(x: keras.KerasTensor, condition: keras.KerasTensor, image_size: int, channels: int,
             width: int) -> keras.KerasTensor:
    """A `[N, k]` vector to tanh images through a 4x4 map and stride-2 transposed convolutions (DCGAN), with
    batch norm conditioned on `condition` `[N, E]`."""
    n = _stages(image_size)
    x = layers.Dense(BASE * BASE * width * 2 ** (n - 1), use_bias=False, kernel_initializer=_init())(x)
    x = layers.Reshape((BASE, BASE, width * 2 ** (n - 1)))(x)
    x = layers.ReLU()(_conditional_norm(x, condition))
    for stage in range(n - 1):
        x = layers.Conv2DTranspose(width * 2 ** (n - 2 - stage), KERNEL, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=_init())(x)
        x = layers.ReLU()(_conditional_norm(x, condition))
    x = layers.Conv2DTranspose(channels, KERNEL, strides=2, padding="same", kernel_initializer=_init())(x)
    return layers.Activation("tanh", dtype="float32", name="images")(x)


def encoder(x: keras.KerasTensor, image_size: int, width: int, batch_norm: bool = True) -> keras.KerasTensor:
    """Images to the flattened 4x4 feature map through stride-2 convolutions and LeakyReLU (DCGAN)."""
    for stage in range(_stages(image_size)):
        x = layers.Conv2D(width * 2**stage, KERNEL, strides=2, padding="same", use_bias=stage == 0 or not batch_norm,
                          kernel_initializer=_init())(x)
        if batch_norm and stage > 0:
            x = BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.LeakyReLU(0.2)(x)
    return layers.Flatten(name="features")(x)


def generator(condition, embed_dim: int = EMBED_DIM) -> keras.Model:
    """`[latent, condition]` -> images `[N, S, S, C]` in [-1, 1]; image+metadata: `[image, metadata]` -> images.

    `condition` (a `conditions.Condition`) gives the inputs, their embedding and what the images are drawn from.
    """
    config = condition.config
    channels = config.channels or 1
    inputs = condition.inputs()
    source, code = condition.generator_source(config.image_size, channels, config.latent_dim, config.width)
    vector = condition.embed(inputs[0], embed_dim, "g")
    images = _decoder(layers.Concatenate()([code, vector]), vector if config.conditional_norm else None,
                      config.image_size, channels, config.width)
    return keras.Model([source, *inputs], images, name="cgan_generator")


def discriminator(condition, batch_norm: bool = True) -> keras.Model:
    """`[images, condition]` -> {"logit" [N, 1], "features" [N, F], "aux" (class logits, metadata in [-1, 1], or
    one logit per vocabulary word)}.

    The auxiliary head comes with `discriminator="acgan"` (whose logit is then unconditional) or with a positive
    `aux_weight` beside a projection or concat logit (`condition.aux`).

    image+metadata: `[images, original, metadata]`, the original concatenated to the image along channels.
    """
    config = condition.config
    size, channels, kind = config.image_size, config.channels or 1, config.discriminator
    images = keras.Input((size, size, channels), name="images")
    sources = condition.discriminator_sources(size, channels)
    inputs = condition.inputs()
    seen = [images, *sources]
    if kind == "concat":  # the condition's embedding as constant feature maps beside the image
        maps = layers.Reshape((1, 1, CONCAT_DIM))(condition.embed(inputs[0], CONCAT_DIM, "d"))
        seen.append(layers.UpSampling2D(size)(maps))
    seen = layers.Concatenate()(seen) if len(seen) > 1 else seen[0]
    features = encoder(seen, size, config.width, batch_norm)
    logit = layers.Dense(1, kernel_initializer=_init(), name="unconditional")(features)
    outputs = {"features": features}
    if kind == "projection":
        projected = condition.embed(inputs[0], features.shape[-1], "d", scale=0.02)
        inner = layers.Dot(axes=1, name="projection")([projected, features])
        logit = layers.Add()([logit, inner])
    if condition.aux:
        outputs["aux"] = layers.Dense(condition.aux_size, dtype="float32", kernel_initializer=_init(),
                                      name="aux")(features)
    outputs["logit"] = layers.Activation("linear", dtype="float32", name="logit")(logit)
    return keras.Model([images, *sources, *inputs], outputs, name="cgan_discriminator")


class ConditionalGAN(GAN):
    """Batches are `(images, condition)`; image+metadata: `(images, (original, metadata))`. The condition makes the
    generator's inputs and the extra terms (auxiliary heads read from the judgements, mismatch, L1, match, mode
    seeking); `matcher` is the frozen network the text condition reads samples with."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, condition,
                 matcher: keras.Model | None = None, **kwargs):
        if kwargs.get("pack", 1) != 1:
            raise ParameterError("pack", "must be 1: the discriminator judges each image with its own condition; "
                                 "packing is not supported by cgan")
        super().__init__(generator, discriminator, **kwargs)
        self.condition = condition
        self.matcher = matcher
        if matcher is not None:
            matcher.trainable = False

    def metric_names(self) -> list[str]:
        return super().metric_names() + self.condition.metric_names()

    def generate(self, batch: Batch, training: bool = True):
        return self.generator(self.condition.generator_inputs(self, batch), training=training)

    def discriminate(self, samples, batch: Batch, training: bool = True) -> Judgement:
        return judgement(self.discriminator([samples, *tf.nest.flatten(batch.condition)], training=training))

    def discriminator_extra_losses(self, batch: Batch, fake, real: Judgement, fake_scores: Judgement
                                   ) -> dict[str, tf.Tensor]:
        return self.condition.discriminator_terms(self, batch, real)

    def generator_extra_losses(self, batch: Batch, fake, scores: Judgement | None,
                               training: bool = True) -> dict[str, tf.Tensor]:
        return self.condition.generator_terms(self, batch, fake, scores, training)

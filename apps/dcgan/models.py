"""The DCGAN networks (Radford et al. 2016, "Unsupervised representation learning with deep convolutional
generative adversarial networks"), sized by image size and channels.

Generator: project and reshape the latent to 4x4, then stride-2 transposed convolutions with batch norm and
ReLU, doubling the resolution and halving the width each time, to a tanh image in [-1, 1].
Discriminator: the mirror image with stride-2 convolutions and LeakyReLU(0.2), batch norm on every layer but
the first, no fully connected hidden layer, one logit. Weights start from N(0, 0.02) as in the paper.
"""

from __future__ import annotations

import keras
from keras import layers

from ganapps.apps.dcgan.recipe import check_shape
from ganapps.core.layers import BatchNormalization, MinibatchStdDev

BASE = 4  # side of the first feature map; every stage doubles it (recipe.IMAGE_SIZES: 16 ... 256)
KERNEL = 4  # a kernel divisible by the stride: no checkerboard from uneven overlap
# Moving statistics follow the last ~10 steps (PyTorch's default, which the DCGAN reference code uses): a GAN's
# generator changes fast, and Keras' default 0.99 would make inference-mode samples lag ~100 steps behind.
BN_MOMENTUM = 0.9


def stages(image_size: int) -> int:
    """Stride-2 stages between the 4x4 base and the image."""
    return (image_size // BASE).bit_length() - 1


def _init() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=0.02)


def generator(image_size: int = 32, channels: int = 1, latent_dim: int = 100, width: int = 32) -> keras.Model:
    """Latent `[N, latent_dim]` -> images `[N, image_size, image_size, channels]` in [-1, 1].

    `width` is the number of filters of the last hidden layer; each earlier stage has twice as many
    (the paper's 64x64 model is width 128: 1024-512-256-128).
    """
    check_shape(image_size, channels)
    n = stages(image_size)
    z = keras.Input((latent_dim,), name="latent")
    x = layers.Dense(BASE * BASE * width * 2 ** (n - 1), use_bias=False, kernel_initializer=_init(), name="project")(z)
    x = layers.Reshape((BASE, BASE, width * 2 ** (n - 1)))(x)
    x = BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = layers.ReLU()(x)
    for stage in range(n - 1):
        filters = width * 2 ** (n - 2 - stage)
        x = layers.Conv2DTranspose(filters, KERNEL, strides=2, padding="same", use_bias=False, kernel_initializer=_init())(x)
        x = BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.ReLU()(x)
    x = layers.Conv2DTranspose(channels, KERNEL, strides=2, padding="same", kernel_initializer=_init())(x)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(z, images, name="dcgan_generator")


def discriminator(image_size: int = 32, channels: int = 1, width: int = 32, batch_norm: bool = True, pack: int = 1,
                  features: bool = False, minibatch_std: bool = False) -> keras.Model:
    """Images `[N, S, S, channels * pack]` -> logits `[N, 1]` (and the flattened last feature map when `features`).

    `width` is the number of filters of the first layer; each later stage has twice as many. Pass
    `batch_norm=False` with a gradient or R1 penalty: those penalise each sample's own input gradient, which
    batch statistics couple across the batch (Gulrajani et al. 2017, section 4). `minibatch_std` appends the
    spread of groups of four samples to the last 4x4 map (Karras et al. 2018), so that a batch with too little
    variety looks fake.
    """
    check_shape(image_size, channels)
    n = stages(image_size)
    images = keras.Input((image_size, image_size, channels * pack), name="images")
    x = images
    for stage in range(n):
        x = layers.Conv2D(width * 2**stage, KERNEL, strides=2, padding="same", use_bias=stage == 0 or not batch_norm,
                          kernel_initializer=_init())(x)
        if batch_norm and stage > 0:
            x = BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.LeakyReLU(0.2)(x)
    if minibatch_std:
        x = MinibatchStdDev()(x)
    flat = layers.Flatten(name="features")(x)
    logits = layers.Dense(1, dtype="float32", kernel_initializer=_init(), name="logit")(flat)
    return keras.Model(images, [logits, flat] if features else logits, name="dcgan_discriminator")

"""Generators and discriminators for the 2-D lab.

`mixture` (the default) beats PacGAN's published rows: a DeLiGAN mixture latent gives the generator a
disconnected support, as the data has (a continuous map of one Gaussian must put mass between modes), and a
discriminator on Fourier features resolves modes 0.05 wide. `mlp` is the classic pair of PacGAN's 2-D
experiments (MLP generator, maxout discriminator), kept to show mode collapse.
"""

from __future__ import annotations

import keras
from keras import layers

from ganapps.core.layers import BatchNormalization, FourierFeatures, Maxout, MixtureLatent


def generator(latent_dim: int = 2, width: int = 128, depth: int = 3) -> keras.Model:
    """MLP with batch norm and ReLU, linear 2-D output (PacGAN's uses 4 x 400)."""
    z = keras.Input((latent_dim,), name="latent")
    x = z
    for _ in range(depth):
        x = layers.Dense(width)(x)
        x = BatchNormalization()(x)
        x = layers.ReLU()(x)
    return keras.Model(z, layers.Dense(2, dtype="float32")(x), name="toy_generator")


def discriminator(pack: int = 1, width: int = 128, depth: int = 2, pieces: int = 5) -> keras.Model:
    """MLP with maxout units (as in PacGAN's 2-D experiments); input is `pack` points side by side."""
    points = keras.Input((2 * pack,), name="points")
    x = points
    for _ in range(depth):
        x = Maxout(width, pieces)(x)
    return keras.Model(points, layers.Dense(1, dtype="float32")(x), name="toy_discriminator")


def mixture_generator(scale: float, components: int = 400) -> keras.Model:
    """Each sample is one of `components` learnt Gaussians in the plane, in units of the data's `scale`.

    Means start uniform with unit variance. Components settle on modes and stay there, so a mode nobody
    reaches stays empty: with 200 components 3 of 10 grid seeds left one or two of the 25 modes empty, with
    400 (16 per mode) none of those seeds did.
    """
    z = keras.Input((3,), name="latent")
    points = MixtureLatent(components, 2, initial_scale=0.05, mean_range=3**0.5)(z)
    return keras.Model(z, layers.Rescaling(scale, dtype="float32")(points), name="toy_mixture_generator")


def fourier_discriminator(pack: int = 1, scale: float = 1.0, width: int = 128, depth: int = 2,
                          octaves: int = 5) -> keras.Model:
    """MLP on Fourier features of the standardised points; input is `pack` points side by side."""
    points = keras.Input((2 * pack,), name="points")
    x = FourierFeatures(octaves)(layers.Rescaling(1.0 / scale)(points))
    for _ in range(depth):
        x = layers.Dense(width, activation=layers.LeakyReLU(0.2))(x)
    return keras.Model(points, layers.Dense(1, dtype="float32")(x), name="toy_fourier_discriminator")

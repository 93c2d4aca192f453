"""Small MLP generator and discriminator for the 2-D lab."""

from __future__ import annotations

import keras
from keras import layers

from ganapps.core.layers import Maxout


def generator(latent_dim: int = 2, width: int = 128, depth: int = 3) -> keras.Model:
    """MLP with batch norm and ReLU, linear 2-D output (PacGAN's uses 4 x 400)."""
    z = keras.Input((latent_dim,), name="latent")
    x = z
    for _ in range(depth):
        x = layers.Dense(width)(x)
        x = layers.BatchNormalization(synchronized=True)(x)
        x = layers.ReLU()(x)
    return keras.Model(z, layers.Dense(2, dtype="float32")(x), name="toy_generator")


def discriminator(pack: int = 1, width: int = 128, depth: int = 2, pieces: int = 5) -> keras.Model:
    """MLP with maxout units (as in PacGAN's 2-D experiments); input is `pack` points side by side."""
    points = keras.Input((2 * pack,), name="points")
    x = points
    for _ in range(depth):
        x = Maxout(width, pieces)(x)
    return keras.Model(points, layers.Dense(1, dtype="float32")(x), name="toy_discriminator")

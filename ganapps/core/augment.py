"""Differentiable augmentation of what the discriminator sees (DiffAugment, Zhao et al. 2020, "Differentiable
augmentation for data-efficient GAN training").

With little data the discriminator memorises the real images and its feedback to the generator collapses onto
them. Augmenting real and generated samples alike, in the generator's update too (the ops are differentiable, so
the generator learns through them), keeps the discriminator from memorising without the generator learning the
augmentations: they never reach the images it makes. The three policies are the paper's, with its strengths:

- `color`: brightness + U(-0.5, 0.5), saturation x U(0, 2) about the pixel's channel mean, contrast x U(0.5, 1.5)
  about the image mean (for images in [-1, 1]);
- `translation`: an integer shift of up to 1/8 of the side each way, zeros shifted in;
- `cutout`: a rectangle of half each side, zeroed, centred anywhere in the image.

Every draw is per sample and comes from `uniform` (the GAN's step-keyed, replica-correct draws), so a resumed or
distributed run augments as an uninterrupted single-device one does.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from ganapps.core.errors import ParameterError

TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2

Uniform = Callable[[list], tf.Tensor]  # shape -> U[0, 1) draws of that shape


def translate(images: tf.Tensor, dy: tf.Tensor, dx: tf.Tensor) -> tf.Tensor:
    """`images [N, H, W, C]` shifted by the integers `dy[n]` down and `dx[n]` right, zeros shifted in."""
    height, width = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])  # every index past a border reads this zero ring
    rows = tf.clip_by_value(tf.range(height)[None, :] - tf.cast(dy, tf.int32)[:, None], -1, height) + 1
    columns = tf.clip_by_value(tf.range(width)[None, :] - tf.cast(dx, tf.int32)[:, None], -1, width) + 1
    shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(shifted, columns, axis=2, batch_dims=1)


def cutout(images: tf.Tensor, top: tf.Tensor, left: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """`images` with the `size` (height, width) rectangle at (`top[n]`, `left[n]`) zeroed (it may reach past the
    border)."""
    height, width = images.shape[1], images.shape[2]
    top, left = tf.cast(top, tf.int32)[:, None], tf.cast(left, tf.int32)[:, None]
    inside_rows = (tf.range(height)[None, :] >= top) & (tf.range(height)[None, :] < top + size[0])
    inside_columns = (tf.range(width)[None, :] >= left) & (tf.range(width)[None, :] < left + size[1])
    hole = inside_rows[:, :, None] & inside_columns[:, None, :]
    return images * tf.cast(~hole, images.dtype)[..., None]


def _color(images: tf.Tensor, uniform: Uniform) -> tf.Tensor:
    n = tf.shape(images)[0]
    draws = tf.cast(uniform([n, 3]), images.dtype)[:, None, None, :]  # [N, 1, 1, 3]
    images = images + (draws[..., 0:1] - 0.5)
    mean = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - mean) * (2 * draws[..., 1:2]) + mean
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * (draws[..., 2:3] + 0.5) + mean


def _integers(uniform: Uniform, n, counts: tuple[int, int]) -> tf.Tensor:
    """`[N, 2]` integers, column k uniform on [0, counts[k])."""
    upper = tf.constant(counts, tf.float32)
    return tf.minimum(tf.cast(tf.floor(uniform([n, 2]) * upper), tf.int32), tf.constant(counts, tf.int32) - 1)


def diff_augment(images: tf.Tensor, policy: tuple[str, ...], uniform: Uniform) -> tf.Tensor:
    """`images [N, H, W, C]` through each op of `policy` in the paper's order (color, translation, cutout)."""
    if images.shape.rank != 4:
        raise ParameterError("augment", f"needs image batches [N, H, W, C]; this app's discriminator judges "
                                        f"{images.shape}")
    n, sides = tf.shape(images)[0], images.shape[1:3]
    if "color" in policy:
        images = _color(images, uniform)
    if "translation" in policy:
        reach = [int(side * TRANSLATION_RATIO + 0.5) for side in sides]
        shifts = _integers(uniform, n, (2 * reach[0] + 1, 2 * reach[1] + 1)) - tf.constant(reach)
        images = translate(images, shifts[:, 0], shifts[:, 1])
    if "cutout" in policy:
        size = [int(side * CUTOUT_RATIO + 0.5) for side in sides]
        corners = _integers(uniform, n, (sides[0] + 1, sides[1] + 1)) - tf.constant([s // 2 for s in size])
        images = cutout(images, corners[:, 0], corners[:, 1], size)
    return images

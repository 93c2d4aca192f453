"""Adversarial loss families, gradient penalties and auxiliary terms.

Every function takes discriminator *logits* (unbounded scores) and returns the per-replica mean as a
scalar tensor; scaling for the number of replicas happens once, in `GAN.apply_update`.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from ganapps.core.config import LOSS_FAMILIES


def check_family(family: str) -> str:
    """Return `family` normalised (underscores allowed), or raise with the valid names."""
    name = family.replace("_", "-").lower()
    aliases = {"ns": "non-saturating", "wgan": "wasserstein", "lsgan": "least-squares", "ls": "least-squares"}
    name = aliases.get(name, name)
    if name not in LOSS_FAMILIES:
        raise ValueError(f"unknown loss family {family!r}; choose one of {', '.join(LOSS_FAMILIES)}")
    return name


def discriminator_loss(
    family: str, real_logits: tf.Tensor, fake_logits: tf.Tensor, label_smoothing: float = 0.0
) -> tf.Tensor:
    """Loss the discriminator minimises; `label_smoothing` is one-sided (real target 1 - s)."""
    family = check_family(family)
    real_logits = tf.cast(real_logits, tf.float32)
    fake_logits = tf.cast(fake_logits, tf.float32)
    if family in ("minimax", "non-saturating"):
        # Binary cross-entropy with logits: -t log s(x) - (1 - t) log(1 - s(x)).
        target = 1.0 - label_smoothing
        real = target * tf.nn.softplus(-real_logits) + (1.0 - target) * tf.nn.softplus(real_logits)
        return tf.reduce_mean(real) + tf.reduce_mean(tf.nn.softplus(fake_logits))
    if family == "wasserstein":
        return tf.reduce_mean(fake_logits) - tf.reduce_mean(real_logits)
    if family == "hinge":
        return tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))
    target = 1.0 - label_smoothing
    return 0.5 * tf.reduce_mean(tf.square(real_logits - target)) + 0.5 * tf.reduce_mean(tf.square(fake_logits))


def generator_loss(family: str, fake_logits: tf.Tensor) -> tf.Tensor:
    """Loss the generator minimises against the discriminator's scores of its samples."""
    family = check_family(family)
    fake_logits = tf.cast(fake_logits, tf.float32)
    if family == "minimax":
        # The original saturating objective: minimise log(1 - D(G(z))) = -softplus(logit).
        return -tf.reduce_mean(tf.nn.softplus(fake_logits))
    if family == "non-saturating":
        return tf.reduce_mean(tf.nn.softplus(-fake_logits))
    if family in ("wasserstein", "hinge"):
        return -tf.reduce_mean(fake_logits)
    return 0.5 * tf.reduce_mean(tf.square(fake_logits - 1.0))


def _per_example_grad_sq_norm(critic: Callable[[tf.Tensor], tf.Tensor], inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        total = tf.reduce_sum(tf.cast(critic(inputs), tf.float32))
    grads = tf.cast(tape.gradient(total, inputs), tf.float32)
    return tf.reduce_sum(tf.reshape(tf.square(grads), [tf.shape(grads)[0], -1]), axis=1)


def gradient_penalty(
    critic: Callable[[tf.Tensor], tf.Tensor], real: tf.Tensor, fake: tf.Tensor, epsilon: tf.Tensor
) -> tf.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2] on x_hat = eps*real + (1-eps)*fake.

    `epsilon` holds one uniform draw per example, broadcastable to `real`.
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    epsilon = tf.cast(epsilon, tf.float32)
    mixed = epsilon * real + (1.0 - epsilon) * fake
    norms = tf.sqrt(_per_example_grad_sq_norm(critic, mixed) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


def r1_penalty(critic: Callable[[tf.Tensor], tf.Tensor], real: tf.Tensor) -> tf.Tensor:
    """R1 (Mescheder et al. 2018): 0.5 * E[||grad D(x_real)||^2]; the weight gamma is applied by the caller."""
    return 0.5 * tf.reduce_mean(_per_example_grad_sq_norm(critic, real))


def feature_matching_loss(real_features: tf.Tensor, fake_features: tf.Tensor) -> tf.Tensor:
    """Salimans et al. 2016: mean squared difference of the mean discriminator features of real and fake."""
    real_mean = tf.reduce_mean(tf.cast(real_features, tf.float32), axis=0)
    fake_mean = tf.reduce_mean(tf.cast(fake_features, tf.float32), axis=0)
    return tf.reduce_mean(tf.square(real_mean - fake_mean))

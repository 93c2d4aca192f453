"""Next-frame prediction networks and their GAN (Mathieu, Couprie and LeCun 2016, "Deep multi-scale video
prediction beyond mean square error").

The generator maps K past frames stacked on channels, `[N, S, S, K*C]` in [-1, 1], to the next frame at three
scales, finest first: `[N, S, S, C]`, `[N, S/2, S/2, C]`, `[N, S/4, S/4, C]`. Its outputs are linear, as in the
paper, so that no scale can saturate and stop learning; `next_frame_model` clips the finest one to [-1, 1] for
use. The discriminator has one small convolutional net per scale, each judging [context, frame] at its scale,
and returns one logit per scale. As in the paper, the adversarial term judges the generator's own prediction at
each scale, and the generator also minimises an Lp distance and the gradient difference loss (GDL) at each scale.
Training can also roll the generator out over several steps, feeding its predictions back as
`predict` does, and score every step (`NextFrameGAN(rollout=R)`).

Loss normalisation: every term is a mean (over pixels, scales and the batch) where the paper sums over pixels;
Adam does not care about the overall scale, but the adversarial term weighs relatively more here at the same
lambda_adv.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf
from ganapps.apps.nextframe.recipe import GENERATORS, check_shape
from keras import layers

from ganapps.core.errors import ParameterError, check_at_least, check_choice
from ganapps.core.gan import GAN, Batch, Judgement, judgement

SCALES = (1, 2, 4)  # downsampling factor of each scale, finest first (the order of every pyramid here)
# Kernel sizes per scale, as the paper's first three scales (its 128-256-128 maps become width-2*width-width).
KERNELS = ((5, 3, 3, 5), (5, 3, 3, 5), (3, 3, 3, 3))


def pyramid(frames: tf.Tensor) -> list[tf.Tensor]:
    """A frame batch averaged down to every scale, finest first (as the generator's outputs)."""
    return [tf.nn.avg_pool2d(frames, f, f, "VALID") if f > 1 else frames for f in SCALES]


def multiscale_generator(image_size: int = 64, channels: int = 1, context: int = 4, width: int = 16) -> keras.Model:
    """The paper's coarse-to-fine generator: the coarsest scale predicts the frame from the context averaged down
    to its size; each finer one sees the context at its size and the coarser prediction upsampled, and adds a
    correction to that prediction."""
    check_shape(image_size, channels, context)
    frames = keras.Input((image_size, image_size, context * channels), name="context")
    prediction, outputs = None, []
    for factor, kernels in reversed(list(zip(SCALES, KERNELS))):
        size = image_size // factor
        x = layers.AveragePooling2D(factor, name=f"context_{size}")(frames) if factor > 1 else frames
        upsampled = None
        if prediction is not None:
            upsampled = layers.UpSampling2D(2, interpolation="bilinear", name=f"upsampled_{size}")(prediction)
            x = layers.Concatenate(name=f"input_{size}")([x, upsampled])
        for filters, kernel in zip((width, 2 * width, width), kernels):
            x = layers.Conv2D(filters, kernel, padding="same", activation="relu")(x)
        x = layers.Conv2D(channels, kernels[-1], padding="same", dtype="float32")(x)
        prediction = x if upsampled is None else layers.Add()([upsampled, x])
        prediction = layers.Identity(name=f"frame_{size}", dtype="float32")(prediction)
        outputs.insert(0, prediction)
    return keras.Model(frames, outputs, name="multiscale_generator")


def convlstm_generator(image_size: int = 64, channels: int = 1, context: int = 4, width: int = 16) -> keras.Model:
    """A recurrent alternative: each frame encoded by strided convolutions to 1/4 size, a ConvLSTM over the K
    frames, a transposed-convolution decoder beside the context at full size. It predicts one frame; the coarser
    outputs are that frame averaged down, so it trains against the same multi-scale discriminator."""
    check_shape(image_size, channels, context)
    frames = keras.Input((image_size, image_size, context * channels), name="context")
    sequence = layers.Reshape((image_size, image_size, context, channels))(frames)
    sequence = layers.Permute((3, 1, 2, 4), name="frames")(sequence)  # [N, K, S, S, C]
    x = layers.TimeDistributed(layers.Conv2D(width, 3, strides=2, padding="same", activation="relu"))(sequence)
    x = layers.TimeDistributed(layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu"))(x)
    x = layers.ConvLSTM2D(2 * width, 3, padding="same", name="convlstm")(x)
    x = layers.Conv2DTranspose(2 * width, 4, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", activation="relu")(x)
    x = layers.Concatenate()([x, frames])
    x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    frame = layers.Conv2D(channels, 3, padding="same", dtype="float32", name=f"frame_{image_size}")(x)
    coarser = [layers.AveragePooling2D(f, name=f"frame_{image_size // f}")(frame) for f in SCALES[1:]]
    return keras.Model(frames, [frame, *coarser], name="convlstm_generator")


def generator(kind: str = "multiscale", image_size: int = 64, channels: int = 1, context: int = 4,
              width: int = 16) -> keras.Model:
    """`multiscale` or `convlstm`: context `[N, S, S, K*C]` -> the next frame at the three scales."""
    check_choice("kind", kind, GENERATORS)
    return (multiscale_generator if kind == "multiscale" else convlstm_generator)(image_size, channels, context, width)


def discriminator(image_size: int = 64, channels: int = 1, context: int = 4, width: int = 16) -> keras.Model:
    """[frame at each scale (finest first), context] -> one logit per scale `[N, 3]`.

    Each scale's net sees the context averaged down to its size beside the frame, and halves the resolution
    with strided convolutions (LeakyReLU 0.2) down to 4x4 before one linear logit.
    """
    check_shape(image_size, channels, context)
    frames = [keras.Input((image_size // f, image_size // f, channels), name=f"frame_{image_size // f}")
              for f in SCALES]
    past = keras.Input((image_size, image_size, context * channels), name="context")
    logits = []
    for factor, frame in zip(SCALES, frames):
        size = image_size // factor
        x = layers.AveragePooling2D(factor)(past) if factor > 1 else past
        x = layers.Concatenate(name=f"judged_{size}")([x, frame])
        for stage in range((size // 4).bit_length() - 1):
            x = layers.Conv2D(width * 2 ** min(stage, 2), 3, strides=2, padding="same")(x)
            x = layers.LeakyReLU(0.2)(x)
        logits.append(layers.Dense(1, dtype="float32", name=f"logit_{size}")(layers.Flatten()(x)))
    return keras.Model([*frames, past], layers.Concatenate(name="logits", dtype="float32")(logits),
                       name="multiscale_discriminator")


def next_frame_model(pyramid_generator: keras.Model) -> keras.Model:
    """A view of a generator that returns only its finest prediction, clipped to the frame range [-1, 1] (it
    shares the generator's weights): what roll-outs, prediction and export use."""
    frame = layers.Lambda(lambda x: keras.ops.clip(x, -1.0, 1.0), name="frame")(pyramid_generator.outputs[0])
    return keras.Model(pyramid_generator.inputs[0], frame, name="next_frame")


# ------------------------------------------------------------------------------------------------------ losses


def lp_loss(prediction: tf.Tensor, target: tf.Tensor, p: int = 1) -> tf.Tensor:
    """Mean |prediction - target|^p over pixels and batch."""
    return tf.reduce_mean(tf.abs(tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32)) ** p)


def gradient_difference_loss(prediction: tf.Tensor, target: tf.Tensor, alpha: float = 1.0) -> tf.Tensor:
    """The paper's GDL: | |Y(i,j) - Y(i-1,j)| - |P(i,j) - P(i-1,j)| |^alpha plus the same along j.

    Each direction is averaged over its neighbour pairs and the batch (the paper sums over pixels).
    """
    prediction, target = tf.cast(prediction, tf.float32), tf.cast(target, tf.float32)

    def gradients(x):
        return tf.abs(x[:, 1:, :, :] - x[:, :-1, :, :]), tf.abs(x[:, :, 1:, :] - x[:, :, :-1, :])

    (target_i, target_j), (pred_i, pred_j) = gradients(target), gradients(prediction)
    return tf.reduce_mean(tf.abs(target_i - pred_i) ** alpha) + tf.reduce_mean(tf.abs(target_j - pred_j) ** alpha)


class NextFrameGAN(GAN):
    """Batches are (context `[N, S, S, K*C]`, the next R frames `[N, R, S, S, C]`); R is `rollout`.

    Training rolls the generator out as `predict` does (exposure bias: a model that only ever sees true contexts
    drifts, then fades, once it reads its own predictions): step 1 predicts from the true context, each further
    step from the last K frames with the earlier predictions (clipped, as in `rollout`) fed back in, gradients
    flowing through them. Every step is scored against its true frame: the generator's extra terms are
    `lp_weight * Lp + gdl_weight * GDL`, each averaged over the three scales and the R steps; the adversarial term
    comes from the core at `adversarial_weight` (0 gives the Lp-only model: the same generator, no
    discriminator). The discriminator judges each step's frame beside that step's *true* context, so "real"
    keeps meaning "the frame that follows these true frames", whichever step made the fake. The generator takes
    no noise (the paper found it made no difference). `rollout` 1 trains one step only.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, p: int = 1, lp_weight: float = 1.0,
                 gdl_weight: float = 1.0, gdl_alpha: float = 1.0, rollout: int = 1, **kwargs):
        if kwargs.get("pack", 1) != 1:
            raise ParameterError("pack", "is not supported: next-frame prediction judges a pyramid of frames")
        super().__init__(generator, discriminator, **kwargs)
        check_choice("p", p, (1, 2))
        check_at_least("rollout", rollout, 1)
        self.p = int(p)
        self.lp_weight = float(lp_weight)
        self.gdl_weight = float(gdl_weight)
        self.gdl_alpha = float(gdl_alpha)
        self.rollout = int(rollout)

    def unpack_batch(self, data) -> Batch:
        """real: each step's true frame as a pyramid; condition: each step's true context, step 1's first."""
        context, future = data
        if future.shape[1] != self.rollout:
            raise ValueError(f"batches hold {future.shape[1]} future frames; rollout {self.rollout} needs that many")
        channels = future.shape[-1]
        frames = tf.concat([context, *tf.unstack(future, axis=1)], axis=-1)  # [N, S, S, (K+R)*C], oldest first
        width = context.shape[-1]
        contexts = tuple(frames[..., r * channels : r * channels + width] for r in range(self.rollout))
        return Batch(tuple(pyramid(future[:, r]) for r in range(self.rollout)), contexts)

    def generate(self, batch: Batch, training: bool = True) -> tuple[list[tf.Tensor], ...]:
        """Each roll-out step's pyramid, step 1 from the true context, later ones from fed-back predictions."""
        context, steps = batch.condition[0], []
        for step in range(self.rollout):
            steps.append(list(self.generator(context, training=training)))
            if step + 1 < self.rollout:
                frame = tf.clip_by_value(steps[-1][0], -1.0, 1.0)
                context = tf.concat([context[..., frame.shape[-1]:], frame], axis=-1)
        return tuple(steps)

    def discriminate(self, samples, batch: Batch, training: bool = True) -> Judgement:
        """One logit per step, sample and scale: `[R*N, 3]`, the steps stacked on the batch axis."""
        frames = [tf.concat([step[scale] for step in samples], axis=0) for scale in range(len(SCALES))]
        return judgement(self.discriminator([*frames, tf.concat(batch.condition, axis=0)], training=training))

    def generator_extra_losses(self, batch: Batch, fake, scores: Judgement | None,
                               training: bool = True) -> dict[str, tf.Tensor]:
        terms = len(SCALES) * self.rollout
        pairs = [(f, r) for fake_step, real_step in zip(fake, batch.real) for f, r in zip(fake_step, real_step)]
        lp = tf.add_n([lp_loss(f, r, self.p) for f, r in pairs]) / terms
        gdl = tf.add_n([gradient_difference_loss(f, r, self.gdl_alpha) for f, r in pairs]) / terms
        return {"lp": self.lp_weight * lp, "gdl": self.gdl_weight * gdl}

    def metric_names(self) -> list[str]:
        return super().metric_names() + ["lp", "gdl"]


# ------------------------------------------------------------------------------------------------------ roll-out


def rollout(generator: Callable, context, steps: int) -> tf.Tensor:
    """The next `steps` frames `[N, T, S, S, C]`: each predicted from the last K frames, earlier predictions fed
    back in. `generator` maps context to the next frame (e.g. `next_frame_model(g)`)."""
    context = tf.convert_to_tensor(context, tf.float32)
    frames = []
    for _ in range(steps):
        frame = tf.cast(generator(context), tf.float32)
        frames.append(frame)
        context = tf.concat([context[..., frame.shape[-1]:], frame], axis=-1)
    return tf.stack(frames, axis=1)

"""Video prediction networks and their GAN: the adversarial training of Mathieu, Couprie and LeCun (2016, "Deep
multi-scale video prediction beyond mean square error") around a generator that predicts every future frame in one
pass (SimVP, Gao et al. 2022) or the paper's one-step multi-scale generator.

A generator maps K past frames stacked on channels, `[N, S, S, K*C]` in [-1, 1], to the next T frames stacked the
same way at three scales, finest first: `[N, S, S, T*C]`, `[N, S/2, S/2, T*C]`, `[N, S/4, S/4, T*C]`. Its
outputs are linear, as in the paper, so that no scale can saturate and stop learning; `clip_model` clips the finest
one to [-1, 1] and unstacks it for use. The discriminator judges the clip (context and prediction) at each scale and
each predicted frame on its own. The generator also minimises an Lp distance and the gradient difference loss
(GDL) at each scale. Training can roll the generator out over several passes, feeding its predictions back as
`predict` does, and score every pass (`NextFrameGAN(rollout=R)`).

Loss normalisation: every term is a mean (over pixels, scales and the batch) where the paper sums over pixels;
Adam does not care about the overall scale, but the adversarial term weighs relatively more here at the same
lambda_adv.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf
from ganapps.apps.nextframe.data import stack_context
from ganapps.apps.nextframe.recipe import GENERATORS, check_shape
from keras import layers

from ganapps.core.errors import ParameterError, check_at_least, check_choice
from ganapps.core.gan import GAN, Batch, Judgement, judgement

SCALES = (1, 2, 4)  # downsampling factor of each scale, finest first (the order of every pyramid here)
FRAME_SCALES = (1, 2)  # the scales at which the spatial critic judges single frames
# Kernel sizes per scale, as the paper's first three scales (its 128-256-128 maps become width-2*width-width).
KERNELS = ((5, 3, 3, 5), (5, 3, 3, 5), (3, 3, 3, 3))


def pyramid(frames: tf.Tensor) -> list[tf.Tensor]:
    """A frame batch averaged down to every scale, finest first (as the generator's outputs)."""
    return [tf.nn.avg_pool2d(frames, f, f, "VALID") if f > 1 else frames for f in SCALES]


def _coarser(finest: tf.Tensor, image_size: int) -> list[tf.Tensor]:
    """A generator's finest output averaged down to the coarser scales, named as the pyramid's outputs."""
    return [layers.AveragePooling2D(f, name=f"frames_{image_size // f}")(finest) for f in SCALES[1:]]


def multiscale_generator(image_size: int = 64, channels: int = 1, context: int = 4, future: int = 1,
                         width: int = 16) -> keras.Model:
    """The paper's coarse-to-fine generator: the coarsest scale predicts the frames from the context averaged down
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
        x = layers.Conv2D(future * channels, kernels[-1], padding="same", dtype="float32")(x)
        prediction = x if upsampled is None else layers.Add()([upsampled, x])
        prediction = layers.Identity(name=f"frames_{size}", dtype="float32")(prediction)
        outputs.insert(0, prediction)
    return keras.Model(frames, outputs, name="multiscale_generator")


def convlstm_generator(image_size: int = 64, channels: int = 1, context: int = 4, future: int = 1,
                       width: int = 16) -> keras.Model:
    """A recurrent alternative: each frame encoded by strided convolutions to 1/4 size, a ConvLSTM over the K
    frames, a transposed-convolution decoder beside the context at full size. The coarser outputs are its frames
    averaged down, so it trains against the same multi-scale discriminator."""
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
    finest = layers.Conv2D(future * channels, 3, padding="same", dtype="float32", name=f"frames_{image_size}")(x)
    return keras.Model(frames, [finest, *_coarser(finest, image_size)], name="convlstm_generator")


def _frames_on_batch(stacked: tf.Tensor, channels: int) -> tf.Tensor:
    """`[N, H, W, T*C]` -> `[N*T, H, W, C]`, frame by frame (oldest first within each sample)."""
    height, width = stacked.shape[1:3]
    x = keras.ops.reshape(stacked, (-1, height, width, stacked.shape[-1] // channels, channels))
    return keras.ops.reshape(keras.ops.transpose(x, (0, 3, 1, 2, 4)), (-1, height, width, channels))


def _frames_on_channels(frames: tf.Tensor, count: int) -> tf.Tensor:
    """`[N*T, H, W, C]` -> `[N, H, W, T*C]`: the inverse of `_frames_on_batch`."""
    height, width, channels = frames.shape[1:]
    x = keras.ops.reshape(frames, (-1, count, height, width, channels))
    return keras.ops.reshape(keras.ops.transpose(x, (0, 2, 3, 1, 4)), (-1, height, width, count * channels))


def translator_block(x: tf.Tensor, kernel: int = 7, expansion: int = 2, name: str = "block") -> tf.Tensor:
    """A residual block of the temporal translator: a large depthwise convolution mixes space, a pointwise MLP mixes
    the stacked time x channel maps (ConvNeXt's block, the large-kernel spatial mixing of SimVP v2)."""
    channels = x.shape[-1]
    y = layers.DepthwiseConv2D(kernel, padding="same", name=f"{name}_spatial")(x)
    y = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm")(y)
    y = layers.Conv2D(expansion * channels, 1, activation="gelu", name=f"{name}_expand")(y)
    y = layers.Conv2D(channels, 1, name=f"{name}_project")(y)
    return layers.Add(name=f"{name}_residual")([x, y])


def simvp_generator(image_size: int = 64, channels: int = 1, context: int = 10, future: int = 10,
                    width: int = 16, blocks: int = 6) -> keras.Model:
    """All `future` frames in one pass, as SimVP (Gao et al. 2022): a per-frame encoder down to 1/4 size, a
    translator over the K frames' maps stacked on channels, a per-frame decoder up to full size.

    The encoder (`width` then `2*width` maps) and decoder are shared by all frames; the translator (`16*width` maps,
    `blocks` residual blocks) is where motion is modelled, at 1/4 resolution where a 7x7 kernel spans 28 pixels.
    Every predicted frame also sees the last context frame's full-size features (the decoder's skip connection:
    the digits' shapes, which the future mostly moves). Outputs are linear; coarser scales are averages.
    """
    check_shape(image_size, channels, context)
    check_at_least("future", future, 1)
    stacked = keras.Input((image_size, image_size, context * channels), name="context")
    frames = layers.Lambda(lambda x: _frames_on_batch(x, channels), name="context_frames")(stacked)
    full = layers.Conv2D(width, 3, padding="same", activation="leaky_relu", name="encode_full")(frames)
    x = layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="leaky_relu", name="encode_half")(full)
    x = layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="leaky_relu", name="encode_quarter")(x)
    x = layers.Lambda(lambda x: _frames_on_channels(x, context), name="stack_time")(x)
    x = layers.Conv2D(16 * width, 1, name="translator_in")(x)
    for block in range(blocks):
        x = translator_block(x, name=f"translator_{block + 1}")
    x = layers.Conv2D(future * 2 * width, 1, activation="leaky_relu", name="translator_out")(x)
    x = layers.Lambda(lambda x: _frames_on_batch(x, 2 * width), name="future_frames")(x)
    x = layers.Conv2DTranspose(2 * width, 4, strides=2, padding="same", activation="leaky_relu", name="decode_half")(x)
    x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", activation="leaky_relu", name="decode_full")(x)
    last = layers.Lambda(lambda f: keras.ops.repeat(f[context - 1 :: context], future, axis=0),
                         name="last_context_features")(full)
    x = layers.Concatenate(name="skip")([x, last])
    x = layers.Conv2D(width, 3, padding="same", activation="leaky_relu", name="decode_refine")(x)
    x = layers.Conv2D(channels, 3, padding="same", dtype="float32", name="decode_frame")(x)
    finest = layers.Lambda(lambda f: _frames_on_channels(f, future), name=f"frames_{image_size}", dtype="float32")(x)
    return keras.Model(stacked, [finest, *_coarser(finest, image_size)], name="simvp_generator")


def generator(kind: str = "simvp", image_size: int = 64, channels: int = 1, context: int = 10, future: int = 10,
              width: int = 16) -> keras.Model:
    """`simvp`, `multiscale` or `convlstm`: context `[N, S, S, K*C]` -> the next `future` frames stacked on channels
    at the three scales, `[N, S/f, S/f, future*C]`, finest first."""
    check_choice("kind", kind, GENERATORS)
    build = {"simvp": simvp_generator, "multiscale": multiscale_generator, "convlstm": convlstm_generator}[kind]
    return build(image_size, channels, context, future, width)


def _critic(x: tf.Tensor, width: int, name: str) -> tf.Tensor:
    """Strided convolutions (LeakyReLU 0.2) halving the resolution down to 4x4, then one linear logit."""
    for stage in range((x.shape[1] // 4).bit_length() - 1):
        x = layers.Conv2D(width * 2 ** min(stage, 2), 3, strides=2, padding="same", name=f"{name}_conv{stage + 1}")(x)
        x = layers.LeakyReLU(0.2)(x)
    return layers.Dense(1, dtype="float32", name=f"{name}_logit")(layers.Flatten()(x))


def discriminator(image_size: int = 64, channels: int = 1, context: int = 10, future: int = 10,
                  width: int = 16) -> keras.Model:
    """[predicted frames at each scale (finest first, stacked on channels), context] -> logits
    `[N, len(SCALES) + len(FRAME_SCALES) * future]`.

    Temporal critics, one per scale, judge the whole clip (the context averaged down to that scale beside the
    frames, all on channels: motion is what they see). Spatial critics judge each predicted frame on its own at
    full and half size (sharp, digit-like frames, whatever the motion), as video GANs since Mathieu et al. do.
    """
    check_shape(image_size, channels, context)
    frames = [keras.Input((image_size // f, image_size // f, future * channels), name=f"frames_{image_size // f}")
              for f in SCALES]
    past = keras.Input((image_size, image_size, context * channels), name="context")
    logits = []
    for factor, judged in zip(SCALES, frames):
        size = image_size // factor
        x = layers.AveragePooling2D(factor)(past) if factor > 1 else past
        logits.append(_critic(layers.Concatenate(name=f"clip_{size}")([x, judged]), width, f"clip_{size}"))
    single = layers.Lambda(lambda x: _frames_on_batch(x, channels), name="single_frames")(frames[0])
    for factor in FRAME_SCALES:
        size = image_size // factor
        x = layers.AveragePooling2D(factor)(single) if factor > 1 else single
        logit = _critic(x, width, f"frame_{size}")
        logits.append(layers.Lambda(lambda x: keras.ops.reshape(x, (-1, future)), name=f"frame_{size}_per_clip")(logit))
    return keras.Model([*frames, past], layers.Concatenate(name="logits", dtype="float32")(logits),
                       name="clip_and_frame_discriminator")


def clip_model(pyramid_generator: keras.Model, channels: int) -> keras.Model:
    """A view of a generator for use (roll-outs, prediction, export; it shares the generator's weights): past
    frames `[N, K, S, S, C]` in, its finest prediction clipped to the frame range [-1, 1] out, `[N, T, S, S, C]`."""
    size = pyramid_generator.inputs[0].shape[1]
    context = pyramid_generator.inputs[0].shape[-1] // channels
    future = pyramid_generator.outputs[0].shape[-1] // channels
    frames = keras.Input((context, size, size, channels), name="frames")
    stacked = layers.Lambda(stack_context, name="stacked")(frames)
    finest = pyramid_generator(stacked)[0]
    clipped = keras.ops.clip(finest, -1.0, 1.0)
    predicted = layers.Lambda(lambda x: keras.ops.transpose(
        keras.ops.reshape(x, (-1, size, size, future, channels)), (0, 3, 1, 2, 4)), name="predicted")(clipped)
    return keras.Model(frames, predicted, name="clip_predictor")


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
    """Batches are (context `[N, S, S, K*C]`, the next R*T frames `[N, R*T, S, S, C]`): R roll-out passes
    (`rollout`) of a generator that predicts T frames a pass (T is 10 for the one-pass SimVP default, 1 for the
    paper's next-frame models).

    Training rolls the generator out as `predict` does (exposure bias: a model that only ever sees true contexts
    drifts, then fades, once it reads its own predictions): pass 1 predicts from the true context, each further
    pass from the last K frames with the earlier predictions (clipped, as in `rollout`) fed back in, gradients
    flowing through them. Every pass is scored against its true frames: the generator's extra terms are
    `lp_weight * Lp + gdl_weight * GDL`, each averaged over the three scales and the R passes; the adversarial term
    comes from the core at `adversarial_weight` (0 gives the Lp-only model: the same generator, no
    discriminator). The discriminator judges each pass's frames beside that pass's *true* context, so "real"
    keeps meaning "the frames that follow these true frames", whichever pass made the fake. The generator takes
    no noise (the paper found it made no difference).
    """

    augmentable = False  # the critics see a pyramid of scales beside the true context

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
        """real: each pass's true frames as a pyramid (stacked on channels); condition: each pass's true context,
        pass 1's first."""
        context, future = data
        channels, width = future.shape[-1], context.shape[-1]
        per_pass = self.generator.outputs[0].shape[-1] // channels
        if future.shape[1] != self.rollout * per_pass:
            raise ValueError(f"batches hold {future.shape[1]} future frames; rollout {self.rollout} of {per_pass} "
                             f"frames needs {self.rollout * per_pass}")
        frames = tf.concat([context, *tf.unstack(future, axis=1)], axis=-1)  # [N, S, S, (K+R*T)*C], oldest first
        step = per_pass * channels
        contexts = tuple(frames[..., r * step : r * step + width] for r in range(self.rollout))
        reals = tuple(pyramid(frames[..., width + r * step : width + (r + 1) * step]) for r in range(self.rollout))
        return Batch(reals, contexts)

    def generate(self, batch: Batch, training: bool = True) -> tuple[list[tf.Tensor], ...]:
        """Each roll-out pass's pyramid, pass 1 from the true context, later ones from fed-back predictions."""
        context, passes = batch.condition[0], []
        for step in range(self.rollout):
            passes.append(list(self.generator(context, training=training)))
            if step + 1 < self.rollout:
                frames = tf.clip_by_value(passes[-1][0], -1.0, 1.0)
                context = tf.concat([context, frames], axis=-1)[..., -context.shape[-1]:]
        return tuple(passes)

    def discriminate(self, samples, batch: Batch, training: bool = True) -> Judgement:
        """Each pass's logits (`discriminator`'s), the passes stacked on the batch axis: `[R*N, L]`."""
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


def rollout(predictor: Callable, context, steps: int) -> tf.Tensor:
    """The next `steps` frames `[N, steps, S, S, C]` after `context [N, K, S, S, C]`: each pass predicts from the
    last K frames, earlier predictions fed back in. `predictor` maps past frames to the next T (`clip_model(g)`)."""
    context = tf.convert_to_tensor(context, tf.float32)
    frames, made = [], 0
    while made < steps:
        predicted = tf.cast(predictor(context), tf.float32)
        frames.append(predicted)
        made += predicted.shape[1]
        context = tf.concat([context, predicted], axis=1)[:, -context.shape[1]:]
    return tf.concat(frames, axis=1)[:, :steps]

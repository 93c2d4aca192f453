"""The next-frame lab, usable from a notebook: train, predict, evaluate and export.

    from ganapps.apps.nextframe import lab
    run = lab.train(lab.Config(), lab.default_options(out="runs/nextframe"))
    clip = lab.predict("runs/nextframe", "clip.gif", steps=10)       # context and 10 predicted frames
    print(lab.evaluate("runs/nextframe").as_dicts())                 # per-horizon MSE/PSNR/SSIM/sharpness

A trained model is named by its run directory or by an exported SavedModel folder. Predicting and evaluating use
the run's export when there is one, else its checkpoint; exporting rebuilds the networks from the checkpoint.
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.nextframe import data as D
from ganapps.apps.nextframe import models
from ganapps.apps.nextframe.recipe import (
    ADVERSARIAL_WEIGHT,
    CONTEXT,
    DEFAULT_DATA,
    DEFAULT_DIGITS,
    DEFAULTS,
    GDL_WEIGHT,
    HORIZONS,
    IMAGE_SIZE,
    LP,
    LP_WEIGHT,
    ROLLOUT,
    SEQUENCES,
    WIDTH,
)
from PIL import Image

from ganapps.core import metrics
from ganapps.core.errors import GanappsError
from ganapps.core.export import export_generator
from ganapps.core.export import load_generator as load_saved_model
from ganapps.core.images import (
    atomic_write_bytes,
    save_image,
    save_image_grid,
    to_uint8,
)
from ganapps.core.runs import (
    TrainOptions,
    TrainResult,
    compile_gan,
    load_run,
    open_model,
    read_run_config,
    train_gan,
)

APP = "nextframe"
SAMPLE_SEQUENCES = 3  # held-out sequences in the per-epoch sample grid
SAMPLE_STEPS = 6  # predicted frames per sample row


def default_options(**overrides) -> TrainOptions:
    """The lab's default training options, with any field overridden."""
    return TrainOptions(**{**DEFAULTS, "out": Path("runs") / APP, **overrides})


# ------------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class Config:
    """What finds a run's data and rebuilds its networks and losses; saved in its config.json (options.extra)."""

    data: str = DEFAULT_DATA  # moving-mnist, tfds:NAME or a folder of sequence folders
    digits: str = DEFAULT_DIGITS  # Moving MNIST digits: glyphs or an MNIST CSV file
    sequences: int = SEQUENCES  # generated Moving MNIST training sequences
    image_size: int = IMAGE_SIZE
    channels: int | None = None  # None: 1 for grey data, else 3 (resolved when training starts)
    context: int = CONTEXT
    generator: str = "multiscale"
    width: int = WIDTH
    adversarial_weight: float = ADVERSARIAL_WEIGHT  # 0: the Lp-only model
    lp: int = LP
    lp_weight: float = LP_WEIGHT
    gdl_weight: float = GDL_WEIGHT
    rollout: int = ROLLOUT  # training roll-out steps, each scored (1: one-step training)

    @classmethod
    def of(cls, options: TrainOptions) -> Config:
        return cls(**options.extra.get(APP, {}))


def build_gan(options: TrainOptions) -> models.NextFrameGAN:
    """The compiled next-frame GAN for `options` (its `Config` in `options.extra`)."""
    config = Config.of(options)
    unsupported = [f"--{name.replace('_', '-')}" for name in ("gp_weight", "r1_weight", "feature_matching")
                   if getattr(options, name)]
    if unsupported:
        raise GanappsError(f"{', '.join(unsupported)}: not supported by nextframe (its discriminator judges a "
                           "pyramid of frames)")
    if config.adversarial_weight < 0:
        raise GanappsError(f"--adversarial-weight must be at least 0, got {config.adversarial_weight}")
    channels = config.channels or 1
    generator = models.generator(config.generator, config.image_size, channels, config.context, config.width)
    discriminator = models.discriminator(config.image_size, channels, config.context, config.width)
    gan = models.NextFrameGAN(generator, discriminator, p=config.lp, lp_weight=config.lp_weight,
                              gdl_weight=config.gdl_weight, rollout=config.rollout, ema_decay=options.ema or None,
                              pack=options.pack, seed=options.seed)
    return compile_gan(gan, options, adversarial_weight=config.adversarial_weight)


def export_model(gan: models.NextFrameGAN, directory: str | os.PathLike, version: int = 1) -> Path:
    """The finest prediction of the sampling generator as a SavedModel: `context` in, `frame` out."""
    return export_generator(models.next_frame_model(gan.sampling_generator), directory, version,
                            input_names=["context"], output_name="frame")


@dataclass
class NextFrameRun:
    result: TrainResult
    samples: Path  # the last epoch's sample grid


def train(config: Config | None = None, options: TrainOptions | None = None, download: bool = True) -> NextFrameRun:
    """Train on `config.data`; each epoch writes a grid of held-out sequences (rows: truth, then prediction)."""
    config = config or Config()
    options = options or default_options()
    models.check_shape(config.image_size, config.channels or 1, config.context)
    if config.generator not in models.GENERATORS:
        raise GanappsError(f"--generator {config.generator!r}: choose one of {', '.join(models.GENERATORS)}")
    training = _sequences(config, held_out=False, count=config.sequences, seed=options.seed, download=download)
    shown = _sequences(config, held_out=True, count=SAMPLE_SEQUENCES, seed=0, download=download)
    is_folder = config.data != D.MOVING_MNIST and not config.data.startswith(D.TFDS_PREFIX)
    source = str(Path(config.data).expanduser().resolve()) if is_folder else config.data
    config = replace(config, data=source, channels=training.frame_shape[-1])
    options = replace(options, extra={**options.extra, APP: asdict(config)})
    length = min(config.context + SAMPLE_STEPS, int(shown.lengths.max()))
    if length <= config.context:
        raise GanappsError(f"{config.data}: held-out sequences have at most {length} frames; --context "
                           f"{config.context} needs at least {config.context + 1}")
    clips = D.to_float(shown.clips(length)).numpy()

    def write_samples(gan: models.NextFrameGAN, path: Path) -> None:
        context = D.stack_context(clips[:, : config.context])
        predictor = models.next_frame_model(gan.sampling_generator)
        predicted = models.rollout(predictor, context, clips.shape[1] - config.context).numpy()
        rows = [np.concatenate([clip[: config.context], guess]) for clip, guess in zip(clips, predicted)]
        save_image_grid(np.stack([r for pair in zip(clips, rows) for r in pair]).reshape(-1, *clips.shape[2:]),
                        path, columns=clips.shape[1])

    result = train_gan(
        APP, options, build_gan,
        lambda start: D.pairs(training, config.context, options.batch_size, options.seed, start, config.rollout),
        write_samples,
        lambda gan, folder: export_model(gan, folder / APP),
    )
    return NextFrameRun(result, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png")


def _sequences(config: Config, held_out: bool, count: int, seed: int, download: bool = True) -> D.Sequences:
    return D.load(config.data, config.image_size, config.channels, count=count, digits=config.digits,
                  held_out=held_out, seed=seed, download=download)


# ------------------------------------------------------------------------------------------------------ loading


class Predictor:
    """A trained model: context `[N, S, S, K*C]` in [-1, 1] -> next frame `[N, S, S, C]`."""

    def __init__(self, function, context: int, frame_shape: tuple[int, int, int], source: str):
        self.function = function
        self.context = context
        self.frame_shape = frame_shape
        self.source = source

    @classmethod
    def from_keras(cls, generator, source: str) -> Predictor:
        model = models.next_frame_model(generator)
        shape = tuple(model.outputs[0].shape[1:])
        return cls(lambda x: model(x, training=False), model.inputs[0].shape[-1] // shape[-1], shape, source)

    @classmethod
    def from_saved_model(cls, path: Path) -> Predictor:
        signature = load_saved_model(path)
        (name, spec), = signature.structured_input_signature[1].items()
        output_name, output = next(iter(signature.structured_outputs.items()))
        shape = tuple(output.shape[1:])
        return cls(lambda x: signature(**{name: x})[output_name], spec.shape[-1] // shape[-1], shape, str(path))

    def __call__(self, context) -> tf.Tensor:
        return self.function(tf.convert_to_tensor(context, tf.float32))

    def rollout(self, context: np.ndarray, steps: int, batch_size: int = 64) -> np.ndarray:
        """`steps` predicted frames per context, `[N, T, S, S, C]` in [-1, 1], in batches."""
        chunks = [models.rollout(self, context[i : i + batch_size], steps).numpy()
                  for i in range(0, len(context), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, steps, *self.frame_shape), np.float32)


def load_gan(run_dir: str | os.PathLike) -> models.NextFrameGAN:
    """Both networks of a run, rebuilt from its config.json and restored from its last checkpoint."""
    return load_run(run_dir, APP, build_gan)


def load_predictor(path: str | os.PathLike) -> Predictor:
    """The model of a run directory (its export, else its checkpoint) or of an exported SavedModel folder."""
    return open_model(path, APP, build_gan, Predictor, "model")


def _predictor(model: Predictor | str | os.PathLike) -> Predictor:
    return model if isinstance(model, Predictor) else load_predictor(model)


# ------------------------------------------------------------------------------------------------------ predicting


@dataclass
class Prediction:
    context: np.ndarray  # [K, S, S, C] in [-1, 1]: the input's last K frames, fitted to the model
    frames: np.ndarray  # [T, S, S, C] in [-1, 1]: the predicted frames


def load_clip(path: str | os.PathLike, predictor: Predictor) -> np.ndarray:
    """The last K frames of a folder of frames or a GIF, fitted to the model: `[K, S, S, C]` in [-1, 1]."""
    frames = D.read_frames(path)
    if len(frames) < predictor.context:
        raise GanappsError(f"{path}: {len(frames)} frame(s), but the model predicts from {predictor.context} past "
                           "frames")
    size, _, channels = predictor.frame_shape
    return D.fit_frames(frames[-predictor.context :], size, channels).astype(np.float32) / 127.5 - 1.0


def predict(model: Predictor | str | os.PathLike, clip: np.ndarray | str | os.PathLike, steps: int = 10) -> Prediction:
    """Predict `steps` frames after a clip (a path, or `[K, S, S, C]` frames in [-1, 1]), feeding predictions back."""
    if steps < 1:
        raise GanappsError(f"--steps must be at least 1, got {steps}")
    predictor = _predictor(model)
    context = clip if isinstance(clip, np.ndarray) else load_clip(clip, predictor)
    frames = predictor.rollout(D.stack_context(context[None]).numpy(), steps)[0]
    return Prediction(context, frames)


def write_prediction(prediction: Prediction, out: str | os.PathLike, frame_ms: int = 200) -> tuple[Path, list[Path]]:
    """`out/prediction.gif` (the context, then the prediction, looping) and `out/frame_NN.png` per predicted frame.

    Pillow merges identical consecutive GIF frames into one of summed duration (a roll-out that settles plays the
    same but has fewer GIF frames), so the PNGs are the frame-exact record.
    """
    out = Path(out)
    pngs = []
    for k, frame in enumerate(prediction.frames, start=1):
        pngs.append(out / f"frame_{k:02d}.png")
        save_image(frame, pngs[-1])
    pictures = []
    for frame in to_uint8(np.concatenate([prediction.context, prediction.frames])):
        pictures.append(Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame))
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0)
    gif = out / "prediction.gif"
    atomic_write_bytes(gif, buffer.getvalue())
    return gif, pngs


# ------------------------------------------------------------------------------------------------------ evaluation


def _gradients(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|vertical| and |horizontal| neighbour differences, on the common `[1:, 1:]` grid."""
    return (np.abs(images[:, 1:, 1:] - images[:, :-1, 1:]), np.abs(images[:, 1:, 1:] - images[:, 1:, :-1]))


def sharpness_difference(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per image, the paper's sharpness difference in dB for images in [0, 1] (higher is better):
    10 log10(1 / mean |(grad_i Y + grad_j Y) - (grad_i P + grad_j P)|)."""
    truth_i, truth_j = _gradients(truth)
    pred_i, pred_j = _gradients(prediction)
    error = np.abs((truth_i + truth_j) - (pred_i + pred_j)).reshape(len(truth), -1).mean(axis=1)
    return 10.0 * np.log10(1.0 / np.maximum(error, 1e-10))


def gradient_magnitude(images: np.ndarray) -> float:
    """Mean |grad_i| + |grad_j| of images in [0, 1]: how sharp they are, whatever they show."""
    vertical, horizontal = _gradients(images)
    return float((vertical + horizontal).mean())


@dataclass
class Scores:
    """One model's predictions at one horizon, on images in [0, 1]."""

    model: str
    horizon: int
    mse: float
    psnr: float
    ssim: float
    sharpness: float  # the paper's sharpness difference to the truth, dB (higher: edges closer to the truth's)
    gradient: float  # mean gradient magnitude of the predictions (blur lowers it)
    truth_gradient: float  # the same for the true frames


def score(model: str, horizon: int, prediction: np.ndarray, truth: np.ndarray) -> Scores:
    """Scores of frames `[N, S, S, C]` in [0, 1] against the true ones."""
    return Scores(
        model, horizon, float(np.mean((prediction - truth) ** 2)), float(metrics.psnr(prediction, truth)),
        float(metrics.ssim(prediction, truth)), float(sharpness_difference(prediction, truth).mean()),
        gradient_magnitude(prediction), gradient_magnitude(truth),
    )


@dataclass
class Evaluation:
    scores: list[Scores]  # per model and horizon
    sequences: int
    data: str
    baseline: str | None = None  # the compared model's row name: "lp-only" (a run with no adversarial term) or "baseline"
    baseline_differs: list[str] | None = None  # settings in which the baseline's run differs (None: not both runs)

    def of(self, model: str) -> list[Scores]:
        return [s for s in self.scores if s.model == model]

    def _mse_below(self, reference: str) -> bool:
        return all(m.mse < r.mse for m, r in zip(self.of("model"), self.of(reference)))

    @property
    def beats_copy_last(self) -> bool:
        """The model's MSE is below the copy-last-frame baseline's at every horizon."""
        return self._mse_below("copy-last")

    @property
    def beats_blank(self) -> bool:
        """The model's MSE is below a blank frame's at every horizon (a roll-out that fades to nothing beats
        copy-last at long horizons, but not this)."""
        return self._mse_below("blank")

    def _above_baseline(self, field: str) -> bool | None:
        base = self.of(self.baseline) if self.baseline else []
        if not base:
            return None
        return bool(np.mean([getattr(s, field) for s in self.of("model")]) > np.mean([getattr(s, field) for s in base]))

    @property
    def sharper_than_baseline(self) -> bool | None:
        """The model's mean gradient magnitude over the horizons is above the baseline's (None: no baseline)."""
        return self._above_baseline("gradient")

    @property
    def sharpness_difference_above_baseline(self) -> bool | None:
        """The same for the paper's sharpness difference, which also asks edges to be in the right place."""
        return self._above_baseline("sharpness")

    def as_dicts(self) -> list[dict]:
        """One dict per model and horizon, then a summary."""
        summary = {"summary": True, "sequences": self.sequences, "data": self.data,
                   "beats_copy_last_at_every_horizon": self.beats_copy_last,
                   "beats_blank_at_every_horizon": self.beats_blank, "baseline": self.baseline,
                   "baseline_differs": self.baseline_differs,
                   "sharper_than_baseline": self.sharper_than_baseline,
                   "sharpness_difference_above_baseline": self.sharpness_difference_above_baseline}
        return [asdict(s) for s in self.scores] + [summary]


# What a like-with-like baseline shares with the model: its networks' size, its data and its training budget.
LIKE_FOR_LIKE = ("generator", "width", "context", "image_size", "channels", "data", "digits", "sequences", "lp",
                 "lp_weight", "gdl_weight", "rollout", "epochs", "steps", "batch_size", "g_lr", "beta1",
                 "lr_decay_start", "seed", "ema")


def run_settings(model: Predictor | str | os.PathLike) -> dict | None:
    """A run's `Config` and training budget in one dict; None for a Predictor or an exported SavedModel folder."""
    if isinstance(model, Predictor) or not Path(model).is_dir():
        return None
    run = read_run_config(model, APP)
    if run is None:
        return None
    options = run["options"]
    return {**options, **options["extra"][APP]}


def evaluate(
    model: Predictor | str | os.PathLike,
    baseline: Predictor | str | os.PathLike | None = None,
    data: str | None = None,
    digits: str | None = None,
    sequences: int = 200,
    horizons: int = HORIZONS,
    seed: int = 0,
) -> Evaluation:
    """Roll the model (and an optional baseline model, normally the Lp-only run) `horizons` frames ahead on held-out
    sequences and score each horizon beside two references that know nothing of motion: copying the last context
    frame, and a blank frame (the context's median value everywhere: black for Moving MNIST). Copy-last pays twice
    for a moved object (once where it was, once where it is), so a roll-out that fades to nothing beats it in MSE
    at long horizons; the blank row and the sharpness columns show whether a model does better than fading.

    The sequences are the held-out part of the run's data (or of `data`): for Moving MNIST, `sequences` new ones
    from held-out digits, the same for every model evaluated with the same `seed`. Every model rolls out from the
    same true context frames and is scored against the same true frames in [0, 1].
    """
    if horizons < 1 or sequences < 1:
        raise GanappsError("--horizons and --sequences must be at least 1")
    predictor = _predictor(model)
    settings = run_settings(model)
    others, name, differs = {}, None, None
    if baseline is not None:
        other = _predictor(baseline)
        if (other.context, other.frame_shape) != (predictor.context, predictor.frame_shape):
            raise GanappsError(f"{other.source}: predicts {other.frame_shape} frames from {other.context}, the "
                               f"model {predictor.frame_shape} from {predictor.context}; compare models of one shape")
        base_settings = run_settings(baseline)
        name = "lp-only" if base_settings and base_settings["adversarial_weight"] == 0 else "baseline"
        if settings and base_settings:
            differs = [f"{key} {settings.get(key)} vs {base_settings.get(key)}" for key in LIKE_FOR_LIKE
                       if settings.get(key) != base_settings.get(key)]
        others[name] = other
    run_config = Config(**settings["extra"][APP]) if settings else Config()
    size, _, channels = predictor.frame_shape
    config = replace(run_config, data=data or run_config.data, digits=digits or run_config.digits,
                     image_size=size, channels=channels)
    held_out = _sequences(config, held_out=True, count=sequences, seed=seed)
    span = predictor.context + horizons
    if held_out.lengths.max() < span:
        raise GanappsError(f"{config.data}: held-out sequences have at most {held_out.lengths.max()} frames; "
                           f"{horizons} horizons after {predictor.context} context frames need {span}")
    clips = D.to_float(held_out.clips(span)[:sequences]).numpy()
    past = clips[:, : predictor.context]
    truth = (clips[:, predictor.context :] + 1.0) / 2.0
    context = D.stack_context(past).numpy()
    predictions = {"model": predictor.rollout(context, horizons)}
    predictions.update({label: other.rollout(context, horizons) for label, other in others.items()})
    predictions["copy-last"] = np.repeat(past[:, -1:], horizons, axis=1)
    predictions["blank"] = np.broadcast_to(np.median(past, axis=(1, 2, 3), keepdims=True), truth.shape)
    scores = [score(label, h + 1, (np.clip(frames[:, h], -1.0, 1.0) + 1.0) / 2.0, truth[:, h])
              for label, frames in predictions.items() for h in range(horizons)]
    return Evaluation(scores, len(clips), config.data, name, differs)


# ------------------------------------------------------------------------------------------------------ export


def export(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, version: int = 1) -> Path:
    """Export a run's generator from its checkpoint as a SavedModel at `out/version` (TF Serving layout):
    `context [N, S, S, K*C]` in [-1, 1] in, the next `frame [N, S, S, C]` out.

    `out` defaults to the run's `export/nextframe`, the folder training writes at its end.
    """
    gan = load_gan(run_dir)
    return export_model(gan, Path(out) if out else Path(run_dir) / "export" / APP, version)

"""The next-frame lab, usable from a notebook: train, predict and evaluate.

    from ganapps.apps.nextframe import lab
    run = lab.train(lab.Config(), lab.APP.options(out="runs/nextframe"))
    clip = lab.predict("runs/nextframe", "clip.gif", steps=10)       # context and 10 predicted frames
    clip.write("pred")                                               # pred/prediction.gif, pred/frame_NN.png
    print(lab.evaluate("runs/nextframe").as_dicts())                 # per-horizon MSE/PSNR/SSIM/sharpness
    lab.runs.export(lab.APP, "runs/nextframe", "models/nextframe")   # SavedModel: context in, frame out

A model is a `Predictor`, a run directory (its export when there is one, else its checkpoint) or an exported
SavedModel folder, opened by `runs.open_model`.
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from ganapps.apps.nextframe import data as D
from ganapps.apps.nextframe.app import APP, Predictor, load_sequences
from ganapps.apps.nextframe.recipe import HORIZONS, SHIPPED_LP, Config
from PIL import Image

from ganapps.core import metrics, runs
from ganapps.core.config import TrainOptions, from_dict, shipped_model_path
from ganapps.core.errors import GanappsError, ParameterError, check_at_least
from ganapps.core.images import atomic_write_bytes, save_image, to_uint8

Model = Predictor | str | os.PathLike


@dataclass
class NextFrameRun:
    result: runs.TrainResult
    samples: Path  # the last epoch's sample grid


def train(config: Config | None = None, options: TrainOptions | None = None, download: bool = True) -> NextFrameRun:
    """Train on `config.data`; each epoch writes a grid of held-out sequences (rows: truth, then prediction).
    `download` lets a TensorFlow Datasets set download when it is not in the local folder."""
    options = options or APP.options()
    result = runs.train(APP, replace(config or Config(), download=download), options)
    return NextFrameRun(result, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png")


@dataclass
class Prediction:
    context: np.ndarray  # [K, S, S, C] in [-1, 1]: the input's last K frames, fitted to the model
    frames: np.ndarray  # [T, S, S, C] in [-1, 1]: the predicted frames
    length: int  # frames in the input clip: the context is its frames length - K + 1 ... length

    @property
    def used(self) -> str:
        """Which of the input's frames were the context, e.g. "frames 11-20 of 20"."""
        return f"frames {self.length - len(self.context) + 1}-{self.length} of {self.length}"

    def write(self, out: str | os.PathLike, frame_ms: int = 200) -> tuple[Path, list[Path]]:
        """`out/prediction.gif` (the context, then the prediction, looping) and `out/frame_NN.png` per predicted frame.

        Pillow merges identical consecutive GIF frames into one of summed duration (a roll-out that settles plays the
        same but has fewer GIF frames), so the PNGs are the frame-exact record.
        """
        out = Path(out)
        pngs = [out / f"frame_{k:02d}.png" for k in range(1, len(self.frames) + 1)]
        for frame, png in zip(self.frames, pngs):
            save_image(frame, png)
        pictures = [Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame)
                    for frame in to_uint8(np.concatenate([self.context, self.frames]))]
        buffer = io.BytesIO()
        pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0)
        atomic_write_bytes(out / "prediction.gif", buffer.getvalue())
        return out / "prediction.gif", pngs


def load_clip(path: str | os.PathLike, predictor: Predictor) -> tuple[np.ndarray, int]:
    """The last K frames of a folder of frames or a GIF, fitted to the model (`[K, S, S, C]` in [-1, 1]), and how
    many frames the clip has."""
    frames = D.read_frames(path)
    if len(frames) < predictor.context:
        raise GanappsError(f"{path}: {len(frames)} frame(s), but the model predicts from {predictor.context} past "
                           "frames")
    size, _, channels = predictor.frame_shape
    return D.fit_frames(frames[-predictor.context :], size, channels).astype(np.float32) / 127.5 - 1.0, len(frames)


def predict(model: Model, clip: np.ndarray | str | os.PathLike, steps: int = 10) -> Prediction:
    """Predict `steps` frames after a clip (a path, or `[K, S, S, C]` frames in [-1, 1]), feeding predictions back
    beyond the frames the model predicts in one pass."""
    check_at_least("steps", steps, 1)
    predictor = runs.open_model(APP, model)
    if isinstance(clip, np.ndarray):
        expected = (predictor.context, *predictor.frame_shape)
        if clip.shape != expected:
            raise ParameterError("clip", f"must be {expected} frames (K past frames, oldest first), got {clip.shape}")
        context, length = clip.astype(np.float32), len(clip)
    else:
        context, length = load_clip(clip, predictor)
    return Prediction(context, predictor.rollout(context[None], steps)[0], length)


# ------------------------------------------------------------------------------------------------------ evaluation

GENERATED_SEQUENCES = 1000  # generated held-out Moving MNIST sequences evaluated when no count is given

# The field's Moving MNIST 10 -> 10 rows: (method, MSE per frame, SSIM or None, source).
PUBLISHED = (
    ("ConvLSTM", 103.3, 0.707, "SimVP paper, CVPR 2022"),
    ("PredRNN", 56.8, 0.867, "SimVP paper, CVPR 2022"),
    ("SimVP", 23.8, 0.948, "SimVP paper, CVPR 2022"),
    ("ConvLSTM-S", 46.3, None, "OpenSTL re-run"),
    ("PredRNN", 25.0, None, "OpenSTL re-run"),
    ("SimVP", 26.7, None, "OpenSTL re-run"),
    ("SimVPv2", 15.1, None, "OpenSTL re-run"),
)
DATA_NOTE = ("published rows: the 10,000 Moving MNIST test sequences of handwritten MNIST digits (tfds:moving_mnist), "
             "models trained on endless MNIST-digit sequences. Here: {data}; same unit and protocol (10 -> 10, squared "
             "error summed over a 64x64 frame in [0, 1]); the digits differ")
MOVING_MNIST_DIGITS = {D.GLYPHS: "held-out renderings of typeset glyphs, not handwriting"}


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
    """One model's predictions at one horizon, on frames in [0, 1]. Per-frame errors are sums over a frame's
    pixels and channels (the papers' unit), averaged over the sequences."""

    model: str
    horizon: int
    mse_per_frame: float
    mae_per_frame: float
    psnr: float
    ssim: float
    sharpness: float  # mean gradient magnitude of the predictions over the truth's (1: as sharp; blur lowers it)
    sharpness_db: float  # the paper's sharpness difference to the truth, dB (higher: edges closer to the truth's)
    gradient: float  # mean gradient magnitude of the predictions
    truth_gradient: float  # the same for the true frames


def score(model: str, horizon: int, prediction: np.ndarray, truth: np.ndarray) -> Scores:
    """Scores of frames `[N, S, S, C]` in [0, 1] against the true ones."""
    pixels = int(np.prod(truth.shape[1:]))
    gradient, truth_gradient = gradient_magnitude(prediction), gradient_magnitude(truth)
    return Scores(
        model, horizon, float(np.mean((prediction - truth) ** 2)) * pixels,
        float(np.mean(np.abs(prediction - truth))) * pixels, float(metrics.psnr(prediction, truth)),
        float(metrics.ssim(prediction, truth)), gradient / max(truth_gradient, 1e-12),
        float(sharpness_difference(prediction, truth).mean()), gradient, truth_gradient,
    )


@dataclass
class Evaluation:
    scores: list[Scores]  # per model and horizon
    sequences: int
    data: str
    context: int  # true frames each roll-out starts from
    baseline: str | None = None  # the compared model's row name: "lp-only" (no adversarial term) or "baseline"
    baseline_differs: list[str] | None = None  # settings in which the baseline's run differs (None: not both runs)
    note: str = ""  # how the data differs from the published protocol's

    def of(self, model: str) -> list[Scores]:
        return [s for s in self.scores if s.model == model]

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(s.model for s in self.scores))

    def mean(self, model: str, field: str) -> float:
        """`field` of `model` averaged over the horizons (the papers' headline figure for MSE and SSIM)."""
        return float(np.mean([getattr(s, field) for s in self.of(model)]))

    def _mse_below(self, reference: str) -> bool:
        return all(m.mse_per_frame < r.mse_per_frame for m, r in zip(self.of("model"), self.of(reference)))

    @property
    def beats_copy_last(self) -> bool:
        """The model's MSE is below the copy-last-frame baseline's at every horizon."""
        return self._mse_below("copy-last")

    @property
    def beats_blank(self) -> bool:
        """The model's MSE is below a blank frame's at every horizon (a roll-out that fades to nothing beats
        copy-last at long horizons, but not this)."""
        return self._mse_below("blank")

    @property
    def sharper_than_baseline(self) -> bool | None:
        """The model's sharpness is above the baseline's at every horizon (None: no baseline)."""
        if not self.baseline:
            return None
        return all(m.sharpness > b.sharpness for m, b in zip(self.of("model"), self.of(self.baseline)))

    def as_dicts(self) -> list[dict]:
        """One dict per model and horizon, then a summary."""
        by_horizon = lambda model: [s.mse_per_frame for s in self.of(model)]  # noqa: E731
        summary = {"summary": True, "sequences": self.sequences, "data": self.data, "context": self.context,
                   "mse_per_frame": self.mean("model", "mse_per_frame"), "ssim": self.mean("model", "ssim"),
                   "mae_per_frame": self.mean("model", "mae_per_frame"), "psnr": self.mean("model", "psnr"),
                   "sharpness": self.mean("model", "sharpness"),
                   "mse_per_frame_by_horizon": by_horizon("model"),
                   "blank_mse_per_frame_by_horizon": by_horizon("blank"),
                   "copy_last_mse_per_frame_by_horizon": by_horizon("copy-last"),
                   "beats_copy_last_at_every_horizon": self.beats_copy_last,
                   "beats_blank_at_every_horizon": self.beats_blank, "baseline": self.baseline,
                   "baseline_differs": self.baseline_differs, "sharper_than_baseline": self.sharper_than_baseline}
        if self.baseline:
            summary.update(baseline_mse_per_frame=self.mean(self.baseline, "mse_per_frame"),
                           baseline_ssim=self.mean(self.baseline, "ssim"),
                           baseline_sharpness=self.mean(self.baseline, "sharpness"),
                           baseline_mse_per_frame_by_horizon=by_horizon(self.baseline))
        summary["published"] = [dict(method=m, mse_per_frame=e, ssim=q, source=w) for m, e, q, w in PUBLISHED]
        summary["note"] = self.note
        return [asdict(s) for s in self.scores] + [summary]


# What a like-with-like baseline shares with the model: its networks' size, its data and its training budget.
LIKE_FOR_LIKE = ("generator", "width", "context", "future", "image_size", "channels", "data", "digits", "sequences",
                 "lp", "lp_weight", "gdl_weight", "rollout", "epochs", "steps", "batch_size", "g_lr", "beta1",
                 "lr_decay_start", "seed", "ema")


def run_settings(model: Model) -> dict | None:
    """A run's `Config` and training options in one dict; None for a Predictor or an exported SavedModel folder."""
    record = None if isinstance(model, Predictor) else runs.read_run(model, APP)
    return {**asdict(record.options), **asdict(record.config)} if record else None


def adversarial_weight(settings: dict | None, predictor: Predictor) -> float | None:
    """lambda_adv of a run (its settings) or of an export (its serving.json); None when neither says."""
    if settings:
        return settings["adversarial_weight"]
    return getattr(predictor.function, "info", {}).get("adversarial_weight")


def held_out_clips(config: Config, trained_on: str, count: int, length: int, seed: int) -> D.Sequences:
    """The evaluated sequences: generated held-out Moving MNIST; all of a TensorFlow Datasets set (tfds:moving_mnist
    is the published test set) unless the model was trained on it, then its held-out tenth; a folder's held-out
    sequences."""
    if config.data.startswith(D.TFDS_PREFIX) and config.data != trained_on:
        return D.load_tfds(config.data[len(D.TFDS_PREFIX):], config.download)
    if config.data == D.MOVING_MNIST:
        return D.load_moving_mnist(count, config.digits, held_out=True, seed=seed, length=length)
    return load_sequences(config, held_out=True, count=count, seed=seed)


def evaluate(model: Model = None, baseline: Model | None = None, data: str | None = None, digits: str | None = None,
             sequences: int | None = None, horizons: int = HORIZONS, seed: int = 0, download: bool = True
             ) -> Evaluation:
    """The Moving MNIST protocol (10 context frames, 10 predicted): roll the model (and a baseline model, normally
    the Lp-only twin) `horizons` frames ahead of each held-out sequence's first K frames and score every horizon
    beside two references that know nothing of motion: copying the last context frame, and a blank frame (the
    context's median value everywhere: black for Moving MNIST). Copy-last pays twice for a moved object (once
    where it was, once where it is), so a roll-out that fades to nothing beats it in MSE at long horizons; the
    blank row and the sharpness columns show whether a model does better than fading.

    The sequences are the held-out part of the run's data (or of `data`): for Moving MNIST, `sequences` new ones
    (default `GENERATED_SEQUENCES`) from held-out digits, the same for every model evaluated with the same `seed`;
    for a TensorFlow Datasets or folder set, all of them (or the first `sequences`). The shipped model (`model`
    None) is compared with its shipped Lp-only twin unless `baseline` is given.
    """
    if sequences is not None:
        check_at_least("sequences", sequences, 1)
    check_at_least("horizons", horizons, 1)
    if model is None and baseline is None and shipped_model_path(SHIPPED_LP).is_dir():
        baseline = SHIPPED_LP
    predictor, other = runs.open_model(APP, model), None
    settings = run_settings(model) if model is not None else None
    name, differs = None, None
    if baseline is not None:
        other = runs.open_model(APP, baseline)
        if (other.context, other.frame_shape) != (predictor.context, predictor.frame_shape):
            raise GanappsError(f"{other.source}: predicts {other.frame_shape} frames from {other.context}, the "
                               f"model {predictor.frame_shape} from {predictor.context}; compare models of one shape")
        base_settings = run_settings(baseline)
        name = "lp-only" if adversarial_weight(base_settings, other) == 0 else "baseline"
        if settings and base_settings:
            differs = [f"{key} {settings.get(key)} vs {base_settings.get(key)}" for key in LIKE_FOR_LIKE
                       if settings.get(key) != base_settings.get(key)]
    run_config = from_dict(Config, settings) if settings else Config()
    size, _, channels = predictor.frame_shape
    config = replace(run_config, data=data or run_config.data, digits=digits or run_config.digits,
                     image_size=size, channels=channels, download=download)
    span = predictor.context + horizons
    held_out = held_out_clips(config, run_config.data, sequences or GENERATED_SEQUENCES, span, seed)
    if held_out.lengths.max() < span:
        raise GanappsError(f"{config.data}: held-out sequences have at most {held_out.lengths.max()} frames; "
                           f"{horizons} horizons after {predictor.context} context frames need {span}")
    if held_out.frame_shape != predictor.frame_shape:
        held_out = D.Sequences(D.fit_frames(held_out.frames, size, channels), held_out.lengths, held_out.source)
    clips = D.to_float(held_out.clips(span)[:sequences]).numpy()  # [:None]: all
    past = clips[:, : predictor.context]
    truth = (clips[:, predictor.context :] + 1.0) / 2.0
    predictions = {"model": predictor.rollout(past, horizons)}
    if other is not None:
        predictions[name] = other.rollout(past, horizons)
    predictions["copy-last"] = np.repeat(past[:, -1:], horizons, axis=1)
    predictions["blank"] = np.broadcast_to(np.median(past, axis=(1, 2, 3), keepdims=True), truth.shape)
    scores = [score(label, h + 1, (np.clip(frames[:, h], -1.0, 1.0) + 1.0) / 2.0, truth[:, h])
              for label, frames in predictions.items() for h in range(horizons)]
    note = ""
    if config.data == D.MOVING_MNIST:
        what = MOVING_MNIST_DIGITS.get(config.digits, f"held-out MNIST digits of {config.digits}")
        note = DATA_NOTE.format(data=f"{len(clips)} sequences generated with seed {seed} from {what}")
    return Evaluation(scores, len(clips), config.data, predictor.context, name, differs, note)

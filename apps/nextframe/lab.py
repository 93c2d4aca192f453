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
from ganapps.apps.nextframe.recipe import HORIZONS, Config
from PIL import Image

from ganapps.core import metrics, runs
from ganapps.core.config import TrainOptions, from_dict
from ganapps.core.errors import GanappsError, check_at_least
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


def load_clip(path: str | os.PathLike, predictor: Predictor) -> np.ndarray:
    """The last K frames of a folder of frames or a GIF, fitted to the model: `[K, S, S, C]` in [-1, 1]."""
    frames = D.read_frames(path)
    if len(frames) < predictor.context:
        raise GanappsError(f"{path}: {len(frames)} frame(s), but the model predicts from {predictor.context} past "
                           "frames")
    size, _, channels = predictor.frame_shape
    return D.fit_frames(frames[-predictor.context :], size, channels).astype(np.float32) / 127.5 - 1.0


def predict(model: Model, clip: np.ndarray | str | os.PathLike, steps: int = 10) -> Prediction:
    """Predict `steps` frames after a clip (a path, or `[K, S, S, C]` frames in [-1, 1]), feeding predictions back."""
    check_at_least("steps", steps, 1)
    predictor = runs.open_model(APP, model)
    context = clip if isinstance(clip, np.ndarray) else load_clip(clip, predictor)
    return Prediction(context, predictor.rollout(D.stack_context(context[None]).numpy(), steps)[0])


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
        mean = lambda scores: np.mean([getattr(s, field) for s in scores])  # noqa: E731
        return bool(mean(self.of("model")) > mean(base)) if base else None

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


def run_settings(model: Model) -> dict | None:
    """A run's `Config` and training options in one dict; None for a Predictor or an exported SavedModel folder."""
    record = None if isinstance(model, Predictor) else runs.read_run(model, APP)
    return {**asdict(record.options), **asdict(record.config)} if record else None


def evaluate(model: Model, baseline: Model | None = None, data: str | None = None, digits: str | None = None,
             sequences: int = 200, horizons: int = HORIZONS, seed: int = 0) -> Evaluation:
    """Roll the model (and an optional baseline model, normally the Lp-only run) `horizons` frames ahead on held-out
    sequences and score each horizon beside two references that know nothing of motion: copying the last context
    frame, and a blank frame (the context's median value everywhere: black for Moving MNIST). Copy-last pays twice
    for a moved object (once where it was, once where it is), so a roll-out that fades to nothing beats it in MSE
    at long horizons; the blank row and the sharpness columns show whether a model does better than fading.

    The sequences are the held-out part of the run's data (or of `data`): for Moving MNIST, `sequences` new ones
    from held-out digits, the same for every model evaluated with the same `seed`. Every model rolls out from the
    same true context frames and is scored against the same true frames in [0, 1].
    """
    check_at_least("sequences", sequences, 1)
    check_at_least("horizons", horizons, 1)
    predictor, other = runs.open_model(APP, model), None
    settings = run_settings(model)
    name, differs = None, None
    if baseline is not None:
        other = runs.open_model(APP, baseline)
        if (other.context, other.frame_shape) != (predictor.context, predictor.frame_shape):
            raise GanappsError(f"{other.source}: predicts {other.frame_shape} frames from {other.context}, the "
                               f"model {predictor.frame_shape} from {predictor.context}; compare models of one shape")
        base_settings = run_settings(baseline)
        name = "lp-only" if base_settings and base_settings["adversarial_weight"] == 0 else "baseline"
        if settings and base_settings:
            differs = [f"{key} {settings[key]} vs {base_settings[key]}" for key in LIKE_FOR_LIKE
                       if settings[key] != base_settings[key]]
    run_config = from_dict(Config, settings) if settings else Config()
    size, _, channels = predictor.frame_shape
    config = replace(run_config, data=data or run_config.data, digits=digits or run_config.digits,
                     image_size=size, channels=channels)
    held_out = load_sequences(config, held_out=True, count=sequences, seed=seed)
    span = predictor.context + horizons
    if held_out.lengths.max() < span:
        raise GanappsError(f"{config.data}: held-out sequences have at most {held_out.lengths.max()} frames; "
                           f"{horizons} horizons after {predictor.context} context frames need {span}")
    clips = D.to_float(held_out.clips(span)[:sequences]).numpy()
    past = clips[:, : predictor.context]
    truth = (clips[:, predictor.context :] + 1.0) / 2.0
    context = D.stack_context(past).numpy()
    predictions = {"model": predictor.rollout(context, horizons)}
    if other is not None:
        predictions[name] = other.rollout(context, horizons)
    predictions["copy-last"] = np.repeat(past[:, -1:], horizons, axis=1)
    predictions["blank"] = np.broadcast_to(np.median(past, axis=(1, 2, 3), keepdims=True), truth.shape)
    scores = [score(label, h + 1, (np.clip(frames[:, h], -1.0, 1.0) + 1.0) / 2.0, truth[:, h])
              for label, frames in predictions.items() for h in range(horizons)]
    return Evaluation(scores, len(clips), config.data, name, differs)

"""`ganapps nextframe`: a thin command line over `ganapps.apps.nextframe.lab`."""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path

import typer
from ganapps.apps.nextframe.recipe import DEFAULTS, HORIZONS, SHIPPED, SHIPPED_LP, Config
from rich.table import Table

from ganapps.core.console import console as make_console
from ganapps.options import (DownloadOption, JsonOption, add_export_command, config_options, existing_model,
                             existing_path, lazy_import, model_argument, train_options)

app = typer.Typer(
    help="Adversarial video prediction (Mathieu, Couprie and LeCun 2016; a SimVP-style generator by default): "
         "train on generated Moving MNIST, a folder of frame sequences or tfds:moving_mnist; predict; evaluate "
         "on the Moving MNIST 10 -> 10 protocol beside copy-last, blank, the Lp-only model and published rows; "
         "export.",
    no_args_is_help=True,
)
console = make_console(stderr=False)
_lab = lazy_import("ganapps.apps.nextframe.lab")


@app.command()
@config_options(Config)
@train_options(out=Path("runs/nextframe"), **DEFAULTS)
def train(download: bool = DownloadOption, config=None, options=None) -> None:
    """Train a next-frame predictor; writes a sample grid per epoch, checkpoints and a SavedModel export."""
    start = time.perf_counter()
    run = _lab().train(config, options, download=download)
    console.print(f"trained in {time.perf_counter() - start:.0f} s\nsamples: {run.samples}\n"
                  f"model: {run.result.exported}")


ModelArgument = model_argument("nextframe", shipped=SHIPPED)


@app.command()
def predict(
    clip: Path = typer.Argument(..., help="A folder of frames (sorted by name) or an animated GIF; its last "
                                "K frames (the model's context, 10 for the shipped one) are the context.", show_default=False, callback=existing_path),
    model: Path = ModelArgument,
    steps: int = typer.Option(10, "--steps", "-t", help="Frames to predict (beyond the model's one "
                       "pass, predictions are fed back as context)."),
    out: Path = typer.Option(Path("prediction"), "--out", "-o", help="Folder for prediction.gif (context, then "
                             "prediction; the GIF encoder merges identical consecutive frames into one longer "
                             "frame) and frame_NN.png per predicted frame."),
    frame_ms: int = typer.Option(200, "--frame-ms", help="GIF frame duration in milliseconds."),
) -> None:
    """Predict the frames after CLIP with MODEL."""
    prediction = _lab().predict(model, clip, steps)
    gif, pngs = prediction.write(out, frame_ms)
    console.print(f"{len(pngs)} predicted frames after {len(prediction.context)} context frames ({prediction.used}):"
                  f" {gif}, {pngs[0].parent}/frame_*.png")


@app.command()
def evaluate(
    model: Path = ModelArgument,
    baseline: Path = typer.Option(
        None, "--baseline", "-b", show_default=f"{SHIPPED_LP} for the shipped model", callback=existing_model,
        help="The model to compare with, normally the Lp-only run of the same size: `nextframe train --out "
             "runs/nextframe-lp --adversarial-weight 0` with the model's other options, then --baseline "
             "runs/nextframe-lp. Settings in which the two runs differ are reported."),
    sequences: int = typer.Option(None, "--sequences", "-n", show_default="1000 generated; all of a set",
                                  help="Held-out sequences: generated Moving MNIST ones, or the first N of a "
                                       "TensorFlow Datasets test set or folder."),
    horizons: int = typer.Option(HORIZONS, "--horizons", help="Predicted frames scored, 1 ... N (beyond the "
                                 "model's one pass, predictions are fed back)."),
    data: str = typer.Option(None, "--data", "-d", show_default="the run's data", help="Whose held-out sequences: "
                             "moving-mnist, a folder of sequences, or tfds:moving_mnist (the published test set)."),
    digits: str = typer.Option(None, "--digits", show_default="the run's digits", help="Moving MNIST digits: "
                               "glyphs or an MNIST CSV file (e.g. unseen handwritten digits)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated held-out sequences."),
    download: bool = DownloadOption,
    as_json: bool = JsonOption,
) -> None:
    """The Moving MNIST 10 -> 10 protocol: per-horizon MSE and MAE per frame, PSNR, SSIM and sharpness of the
    model's predictions on held-out sequences, beside copy-last, blank, the Lp-only model and the published rows.

    Copy-last repeats the last context frame; blank is the context's median value everywhere (what a prediction
    that fades to nothing scores). Sharpness is the predictions' mean gradient magnitude over the truth's.
    """
    result = _lab().evaluate(model, baseline, data, digits, sequences, horizons, seed, download)
    if as_json:
        for row in result.as_dicts():
            print(json.dumps(row), flush=True)
        return
    models = result.models
    by_horizon = Table(title=f"MSE per frame (sharpness) on {result.sequences} held-out {result.data} sequences, "
                             f"{result.context} context frames")
    by_horizon.add_column("horizon", justify="right")
    for name in models:
        by_horizon.add_column(name, justify="right")
    for h in range(1, max(s.horizon for s in result.scores) + 1):
        cells = {s.model: f"{s.mse_per_frame:.1f} ({s.sharpness:.2f})" for s in result.scores if s.horizon == h}
        by_horizon.add_row(str(h), *(cells[name] for name in models))
    console.print(by_horizon)
    means = Table(title="Mean over horizons (frames in [0, 1]; per-frame errors summed over the frame's pixels)")
    for column in ("model", "MSE/frame", "MAE/frame", "PSNR dB", "SSIM", "sharpness", "sharp. diff. dB"):
        means.add_column(column, justify="right")
    for name in models:
        means.add_row(name, *(f"{result.mean(name, field):{form}}" for field, form in (
            ("mse_per_frame", ".1f"), ("mae_per_frame", ".1f"), ("psnr", ".2f"), ("ssim", ".3f"),
            ("sharpness", ".3f"), ("sharpness_db", ".2f"))))
    console.print(means)
    published = Table(title="Published Moving MNIST 10 -> 10 rows")
    for column in ("method", "MSE/frame", "SSIM", "source"):
        published.add_column(column, justify="left" if column in ("method", "source") else "right")
    for method, mse, ssim, source in _lab().PUBLISHED:
        published.add_row(method, f"{mse:.1f}", "" if ssim is None else f"{ssim:.3f}", source)
    console.print(published)
    if result.note:
        console.print(result.note)
    console.print(f"MSE below copy-last at every horizon: {result.beats_copy_last}; below a blank frame: "
                  f"{result.beats_blank}")
    if result.baseline is None:
        make_console().print("no --baseline: train the Lp-only model with --adversarial-weight 0 to compare sharpness")
        return
    ratio = result.mean("model", "mse_per_frame") / result.mean(result.baseline, "mse_per_frame")
    console.print(f"sharper than {result.baseline} at every horizon: {result.sharper_than_baseline}; mean MSE "
                  f"{ratio:.2f}x the {result.baseline} model's")
    if result.baseline_differs:
        make_console().print(f"warning: not like for like, the {result.baseline} run differs in "
                             f"{'; '.join(result.baseline_differs)}")


add_export_command(
    app, "nextframe", lambda: partial(_lab().runs.export, _lab().APP),
    "Export a run's generator as a SavedModel: `frames` [N, K, S, S, C] in [-1, 1] in (the past frames, oldest "
    "first), the next T frames `predicted` [N, T, S, S, C] out.",
)

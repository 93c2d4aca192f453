"""`ganapps nextframe`: a thin command line over `ganapps.apps.nextframe.lab`."""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path

import typer
from ganapps.apps.nextframe.recipe import DEFAULTS, HORIZONS, SHIPPED, Config
from rich.table import Table

from ganapps.core.console import console as make_console
from ganapps.options import (DownloadOption, JsonOption, add_export_command, config_options, existing_model,
                             existing_path, lazy_import, model_argument, train_options)

app = typer.Typer(
    help="Adversarial next-frame video prediction (Mathieu, Couprie and LeCun 2016): train on generated Moving "
         "MNIST, a folder of frame sequences or tfds:moving_mnist; predict; evaluate against copying the "
         "last frame and the Lp-only model (train it with --adversarial-weight 0); export.",
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
                                "frames are the context.", show_default=False, callback=existing_path),
    model: Path = ModelArgument,
    steps: int = typer.Option(10, "--steps", "-t", help="Frames to predict (each fed back as context)."),
    out: Path = typer.Option(Path("prediction"), "--out", "-o", help="Folder for prediction.gif (context, then "
                             "prediction; the GIF encoder merges identical consecutive frames into one longer "
                             "frame) and frame_NN.png per predicted frame."),
    frame_ms: int = typer.Option(200, "--frame-ms", help="GIF frame duration in milliseconds."),
) -> None:
    """Predict the frames after CLIP with MODEL."""
    prediction = _lab().predict(model, clip, steps)
    gif, pngs = prediction.write(out, frame_ms)
    console.print(f"{len(pngs)} predicted frames after {len(prediction.context)} context frames: {gif}, "
                  f"{pngs[0].parent}/frame_*.png")


@app.command()
def evaluate(
    model: Path = ModelArgument,
    baseline: Path = typer.Option(
        None, "--baseline", "-b", show_default=False, callback=existing_model,
        help="The model to compare with, normally the Lp-only run of the same size: `nextframe train --out "
             "runs/nextframe-lp --adversarial-weight 0` with the model's other options, then --baseline "
             "runs/nextframe-lp. Settings in which the two runs differ are reported."),
    sequences: int = typer.Option(200, "--sequences", "-n", help="Held-out sequences."),
    horizons: int = typer.Option(HORIZONS, "--horizons", help="Predicted frames scored, 1 ... N."),
    data: str = typer.Option(None, "--data", "-d", show_default="the run's data", help="Whose held-out sequences."),
    digits: str = typer.Option(None, "--digits", show_default="the run's digits", help="Moving MNIST digits."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated held-out sequences."),
    as_json: bool = JsonOption,
) -> None:
    """Per-horizon MSE, PSNR, SSIM and sharpness of roll-outs on held-out sequences, beside copy-last and blank.

    Copy-last repeats the last context frame; blank is the context's median value everywhere (what a roll-out that
    fades to nothing scores); --baseline adds another model, normally the Lp-only run.
    """
    result = _lab().evaluate(model, baseline, data, digits, sequences, horizons, seed)
    if as_json:
        for row in result.as_dicts():
            print(json.dumps(row), flush=True)
        return
    table = Table(title=f"{result.sequences} held-out {result.data} sequences (images in [0, 1])")
    for column in ("horizon", "model", "MSE", "PSNR dB", "SSIM", "sharp dB", "gradient (truth)"):
        table.add_column(column, justify="right")
    for s in sorted(result.scores, key=lambda s: s.horizon):
        table.add_row(str(s.horizon), s.model, f"{s.mse:.5f}", f"{s.psnr:.2f}", f"{s.ssim:.4f}",
                      f"{s.sharpness:.2f}", f"{s.gradient:.4f} ({s.truth_gradient:.4f})")
    console.print(table)
    console.print(f"MSE below copy-last at every horizon: {result.beats_copy_last}; below a blank frame: "
                  f"{result.beats_blank}")
    if result.baseline is None:
        make_console().print("no --baseline: train the Lp-only model with --adversarial-weight 0 to compare sharpness")
        return
    console.print(f"sharper than {result.baseline} (mean gradient magnitude): {result.sharper_than_baseline}; "
                  f"higher sharpness difference: {result.sharpness_difference_above_baseline}")
    if result.baseline_differs:
        make_console().print(f"warning: not like for like, the {result.baseline} run differs in "
                       f"{'; '.join(result.baseline_differs)}")


add_export_command(
    app, "nextframe", lambda: partial(_lab().runs.export, _lab().APP),
    "Export a run's generator as a SavedModel: `context` [N, S, S, K*C] in [-1, 1] in, next `frame` "
    "out.",
)

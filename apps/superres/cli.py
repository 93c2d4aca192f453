"""`ganapps superres`: a thin command line over `ganapps.apps.superres.lab`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer
from ganapps.apps.superres.recipe import (DEFAULTS, DEGRADATIONS, MODEL_NAMES, SHIPPED, TILE, TILE_OVERLAP, UPSCALE_MODEL,
                                          Config)
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ganapps.core.console import console
from ganapps.options import (JsonOption, add_export_command, choices, config_options, existing_path,
                             lazy_import, model_argument, named_model, plain, train_options)

app = typer.Typer(
    help="SRGAN super-resolution (Ledig et al. 2017): train on HR images (offline: T91 + BSD200), upscale any "
         "image with the shipped x4 model, evaluate Y-PSNR/SSIM beside bicubic, export.",
    no_args_is_help=True,
)
Model = model_argument("superres", shipped=SHIPPED, names=MODEL_NAMES)
UpscaleModel = model_argument("superres", shipped=UPSCALE_MODEL, names=MODEL_NAMES)
Degradation = choices("Degradation", DEGRADATIONS)
ScaleOption = typer.Option(None, "--scale", show_default="the model's", help="Checked against the model's factor.")
SelfEnsembleOption = typer.Option(False, "--self-ensemble", help="Average the model's outputs over the 8 rotations "
                                  "and mirror images of the input (EDSR's '+'): about +0.3 dB on Set5, 8x the time.")

_lab = lazy_import("ganapps.apps.superres.lab")


@app.command()
@config_options(Config)
@train_options(out=Path("runs/superres"), **DEFAULTS["psnr"])
def train(ctx: typer.Context, config=None, options=None) -> None:
    """Train one stage; writes a bicubic | model | original strip per epoch, checkpoints and a SavedModel."""
    start = time.perf_counter()
    given = {name for name in ctx.params if ctx.get_parameter_source(name).name != "DEFAULT"}
    run = _lab().train(config, options, given)
    typer.echo(f"trained in {time.perf_counter() - start:.0f} s\nsamples: {run.samples}\n"
               f"model: {run.result.exported}")


@app.command()
def upscale(
    source: Path = typer.Argument(..., help="An image file or a folder of images.", show_default=False,
                                  callback=existing_path),
    model: str = UpscaleModel,
    out: Path = typer.Option(None, "--out", "-o", show_default="NAME_x4.png beside each image",
                             help="Output file (one image) or folder."),
    scale: int = ScaleOption,
    tile: int = typer.Option(TILE, "--tile", help="Low-resolution tile side; memory stays bounded by one tile "
                             "and the output image (0: whole image at once)."),
    overlap: int = typer.Option(TILE_OVERLAP, "--overlap", help="Context pixels around each tile."),
    self_ensemble: bool = SelfEnsembleOption,
) -> None:
    """Upscale SOURCE: RGB, greyscale, RGBA, palette, 16-bit PNG, JPEG; any size, in overlapping tiles."""
    # a terminal's stdout prints above the bar (on stderr); a redirected one is left alone
    stderr = console()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr, transient=True, redirect_stdout=sys.stdout.isatty(),
                  disable=not stderr.is_terminal) as bar:  # no bar, and no blank line, in a log
        task = bar.add_task("", total=None)

        def show(path: Path, done: int, total: int) -> None:
            bar.update(task, description=path.name, completed=done, total=total)

        for path, target in _lab().upscale(source, model, out, tile, overlap, show, scale, self_ensemble):
            print(f"{path} -> {target}", flush=True)


@app.command()
def evaluate(
    model: str = Model,
    data: Path = typer.Option(None, "--data", "-d", show_default="../shared/data/sr/eval/set5",
                              help="A folder of high-resolution images (Set5, Set14 ...).", callback=existing_path),
    scale: int = ScaleOption,
    degradation: Degradation = typer.Option("bicubic", "--degradation",
                                    help="bicubic: clean downscaled inputs (the published tables); realistic: "
                                    "Real-ESRGAN's blur, resize, noise and JPEG, fixed by --seed."),
    seed: int = typer.Option(0, "--seed", help="Seed of the realistic degradation (each image gets its own)."),
    beside: str = typer.Option(None, "--beside", show_default=False,
                               callback=named_model(MODEL_NAMES),
                               help="A second model scored on the same inputs (psnr, real, a run, an export)."),
    picture: Path = typer.Option(None, "--picture", show_default=False,
                                 help="Write a PNG: each image's central crop as bicubic | beside | model | original."),
    self_ensemble: bool = SelfEnsembleOption,
    as_json: bool = JsonOption,
) -> None:
    """Y-channel PSNR, SSIM and sharpness against the original (SCALE border pixels shaved, as published tables)
    beside bicubic, on clean or realistically degraded inputs."""
    degradation = plain(degradation)
    result = _lab().evaluate(model, data, scale, degradation, seed, beside, picture, self_ensemble=self_ensemble)
    if as_json:
        for row in [*result.images, {"summary": True, **result.summary}]:
            print(json.dumps(row), flush=True)
        return
    kinds = {"bicubic": "bicubic_", **({str(beside): "beside_"} if beside else {}), str(model or SHIPPED): ""}
    how = "bicubic inputs" if degradation == "bicubic" else f"realistic inputs, seed {seed}"
    how += ", x8 self-ensemble" if self_ensemble else ""
    table = Table(title=f"x{result.scale} on {result.summary['data']}, {how} (Y channel, {result.scale} px shaved)")
    for column in ("image", "upscaled by", "PSNR dB", "SSIM", "sharpness"):
        table.add_column(column, justify="left" if column in ("image", "upscaled by") else "right")
    for row in [*result.images, {"name": "mean", **result.summary}]:
        for k, (kind, prefix) in enumerate(kinds.items()):
            table.add_row(row["name"] if k == 0 else "", kind, f"{row[prefix + 'psnr']:.2f}",
                          f"{row[prefix + 'ssim']:.4f}", f"{row[prefix + 'sharpness']:.2f}",
                          end_section=k == len(kinds) - 1)
    typer.echo("")
    console(stderr=False).print(table)
    typer.echo(f"gain over bicubic: {result.summary['psnr_gain']:+.2f} dB PSNR, "
               f"{result.summary['ssim_gain']:+.4f} SSIM")
    if picture is not None:
        typer.echo(f"picture: {picture}")


add_export_command(
    app, "superres", lambda: _lab().export,
    "Export a run's generator as a SavedModel: `image` [N, h, w, 3] in [0, 1] in, `upscaled` out.",
)

"""`ganapps superres`: a thin command line over `ganapps.apps.superres.lab`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer
from ganapps.apps.superres.recipe import DEFAULTS, SHIPPED, TILE, TILE_OVERLAP, Config
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ganapps.core.console import console
from ganapps.options import (JsonOption, add_export_command, config_options, existing_path, lazy_import, model_argument,
                             train_options)

app = typer.Typer(
    help="SRGAN super-resolution (Ledig et al. 2017): train on HR images (offline: T91 + BSD200), upscale any "
         "image with the shipped x4 model, evaluate Y-PSNR/SSIM beside bicubic, export.",
    no_args_is_help=True,
)
Model = model_argument("superres", shipped=SHIPPED)
ScaleOption = typer.Option(None, "--scale", show_default="the model's", help="Checked against the model's factor.")

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
    model: str = Model,
    out: Path = typer.Option(None, "--out", "-o", show_default="NAME_x4.png beside each image",
                             help="Output file (one image) or folder."),
    scale: int = ScaleOption,
    tile: int = typer.Option(TILE, "--tile", help="Low-resolution tile side; memory stays bounded by one tile "
                             "and the output image (0: whole image at once)."),
    overlap: int = typer.Option(TILE_OVERLAP, "--overlap", help="Context pixels around each tile."),
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

        for path, target in _lab().upscale(source, model, out, tile, overlap, show, scale):
            print(f"{path} -> {target}", flush=True)


@app.command()
def evaluate(
    model: str = Model,
    data: Path = typer.Option(None, "--data", "-d", show_default="../shared/data/sr/eval/set5",
                              help="A folder of high-resolution images (Set5, Set14 ...).", callback=existing_path),
    scale: int = ScaleOption,
    as_json: bool = JsonOption,
) -> None:
    """Y-channel PSNR and SSIM (shaving SCALE border pixels, as published tables) beside bicubic."""
    result = _lab().evaluate(model, data, scale)
    if as_json:
        for row in [*result.images, {"summary": True, **result.summary}]:
            print(json.dumps(row), flush=True)
        return
    table = Table(title=f"x{result.scale} on {result.summary['data']} (Y channel, {result.scale} px shaved)")
    for column in ("image", "PSNR dB", "bicubic", "SSIM", "bicubic"):
        table.add_column(column, justify="right")
    for row in [*result.images, {"name": "mean", **result.summary}]:
        table.add_row(row["name"], f"{row['psnr']:.2f}", f"{row['bicubic_psnr']:.2f}", f"{row['ssim']:.4f}",
                      f"{row['bicubic_ssim']:.4f}")
    typer.echo("")
    console(stderr=False).print(table)
    typer.echo(f"gain over bicubic: {result.summary['psnr_gain']:+.2f} dB PSNR, "
               f"{result.summary['ssim_gain']:+.4f} SSIM")


add_export_command(
    app, "superres", lambda: _lab().export,
    "Export a run's generator as a SavedModel: `image` [N, h, w, 3] in [0, 1] in, `upscaled` out.",
)

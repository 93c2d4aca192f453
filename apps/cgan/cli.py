"""`ganapps cgan`: a thin command line over `ganapps.apps.cgan.lab` and `ganapps.apps.cgan.semisup`."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import typer
from ganapps.apps.cgan.recipe import DEFAULTS, SEMISUP_DEFAULTS, SHIPPED, SHIPPED_TEXT, Config, SemisupConfig
from rich.table import Table

from ganapps.core.console import console as make_console
from ganapps.options import (
    DownloadOption,
    JsonOption,
    add_export_command,
    existing_model,
    existing_path,
    config_options,
    lazy_import,
    model_argument,
    train_options,
)

app = typer.Typer(
    help="Conditional generation (Mirza and Osindero 2014): digits conditioned on a label, metadata (angle, scale, "
         "position, hue), a caption, or an original image and target metadata; an independent judge scores "
         "samples; semi-supervised classification with a K+1-class discriminator (Salimans et al. 2016).",
    no_args_is_help=True,
)
console = make_console(stderr=False)
ModelArgument = model_argument("cgan", shipped=SHIPPED)
GenerateModel = model_argument("cgan", shipped=f"{SHIPPED}, or {SHIPPED_TEXT} with --text")

_lab = lazy_import("ganapps.apps.cgan.lab")


@app.command()
@config_options(Config)
@train_options(out=Path("runs/cgan"), **DEFAULTS)
def train(download: bool = DownloadOption, config=None, options=None) -> None:
    """Train a conditional GAN; writes a sample grid per epoch, checkpoints and a SavedModel export."""
    start = time.perf_counter()
    run = _lab().train(config, options, download=download)
    if run.towers is not None:
        console.print(f"caption embedding: {run.towers.retrieval:.1%} of the pairs held back from it find their own "
                      "caption among 10 (chance 10%)")
    console.print(f"trained in {time.perf_counter() - start:.0f} s\nsamples: {run.samples}\n"
                  f"model: {run.result.exported}")


@app.command()
def generate(
    model: str = GenerateModel,
    label: str = typer.Option(None, "--label", "-l", help="label model: the class (index or name); left out: "
                              "one row per class."),
    metadata: str = typer.Option(None, "--metadata", "-m", help="metadata or image+metadata model: NAME=VALUE "
                                 "pairs, e.g. angle=30,scale=0.8; attributes left out are drawn at random."),
    text: str = typer.Option(None, "--text", "-t", help="text model: a caption, e.g. \"a small red 7 rotated 30 "
                             "degrees left\"."),
    image: Path = typer.Option(None, "--image", "-i", help="image+metadata model: the image to redraw.",
                             callback=existing_path),
    num: int = typer.Option(16, "--num", "-n", help="Images (per class when no --label is given)."),
    out: Path = typer.Option(Path("generated.png"), "--out", "-o", help="PNG grid to write."),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise (and of attributes left out)."),
) -> None:
    """Generate images for one condition and save them as a PNG grid (image+metadata: the original first)."""
    lab = _lab()
    generated = lab.generate(model, label, metadata, text, image, num, seed)
    lab.save_grid(generated, out)
    console.print(f"{len(generated.images)} images: {out}")


@app.command()
def evaluate(
    model: str = ModelArgument,
    num: int = typer.Option(1000, "--num", "-n", help="Generated images, at least 10 (label: spread evenly over "
                            "the classes)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise and of the held-out conditions drawn."),
    download: bool = DownloadOption,
    as_json: bool = JsonOption,
) -> None:
    """Score generated images with an independent judge trained on real images only (cached after its first use):
    per-label accuracy, metadata error against each attribute's range, caption digit/colour/size accuracy; each
    beside the judge's score on held-out real images."""
    result = _lab().evaluate(model, num, seed, download, progress=not as_json)
    if as_json:
        for row in result.as_dicts():
            print(json.dumps(row), flush=True)
        return
    table = Table(title=f"{result.samples} images from a {result.condition} model on {result.data}, read by the "
                        "judge (real: held-out real images)")
    for column in ("measure", "scope", "generated", "real", "notes"):
        table.add_column(column)
    for row in result.rows:
        notes = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                          if k not in ("what", "scope", "generated", "real"))
        real = "" if row["real"] is None else f"{row['real']:.4g}"
        table.add_row(row["what"], row["scope"], f"{row['generated']:.4g}", real, notes)
    console.print(table)


@app.command()
def augment(
    model: str = typer.Argument(..., help="A label run directory (written by `cgan train`); with --num-per-class "
                                "also an exported SavedModel folder.", show_default=False, callback=existing_model),
    balance: bool = typer.Option(False, "--balance", help="Top every class up to the run's largest, so that its "
                                 "real training images plus these are as many per class (train with "
                                 "--class-fraction for an imbalanced run)."),
    num_per_class: int = typer.Option(None, "--num-per-class", "-n", help="Instead of --balance: this many images "
                                      "of every class."),
    out: Path = typer.Option(Path("augmented"), "--out", "-o", help="Folder to create, new or empty: CLASS/NNNNN.png "
                             "(CLASS the class index), labels.csv (file, label) and augment.json; `cgan train "
                             "--data` reads it."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT whole when an earlier augment wrote it "
                                   "(it holds augment.json)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise."),
    as_json: bool = JsonOption,
) -> None:
    """Generate training images from a label model: balance an imbalanced data set, or draw N per class. The folder
    appears only once every image is written."""
    result = _lab().augment(model, out, balance=balance, num_per_class=num_per_class, seed=seed,
                            overwrite=overwrite)
    if as_json:
        for row in result.as_dicts():
            print(json.dumps(row), flush=True)
        return
    table = Table(title=f"{result.images} generated images in {result.folder}")
    for column in ("class", "real", "generated", "total"):
        table.add_column(column)
    for row in result.as_dicts():
        table.add_row(row["class"], "" if row["real"] is None else str(row["real"]), str(row["generated"]),
                      "" if row["total"] is None else str(row["total"]))
    console.print(table)


add_export_command(
    app, "cgan", lambda: _lab().export,
    "Export a run's generator as a SavedModel whose signature takes the condition: latent + label / metadata / "
    "text (a string), or image + metadata.",
)


@app.command()
@config_options(SemisupConfig)
@train_options(out=Path("runs/cgan-semisup"), **SEMISUP_DEFAULTS)
def semisup(download: bool = DownloadOption, as_json: bool = JsonOption, config=None, options=None) -> None:
    """Semi-supervised learning (Salimans et al. 2016): a discriminator over {0..K-1, fake} trained on every
    training image, labels for only a few, and a feature-matching generator; reports its test errors beside a
    classifier of the same network trained on the labelled images alone."""
    from ganapps.apps.cgan import semisup as S

    if as_json:
        options = replace(options, verbose=0)  # Keras' progress bar writes to stdout
    start = time.perf_counter()
    report = S.run(config, options, download=download, progress=not as_json)
    if as_json:
        for row in report.as_dicts():
            print(json.dumps(row), flush=True)
        return
    table = Table(title=f"{report.data}: {report.labels} labels, {report.unlabelled} unlabelled training images, "
                        f"{report.test} test images")
    for column in ("model", "test errors", "error %", "train s"):
        table.add_column(column)
    for row in report.rows:
        table.add_row(row["model"], str(row["errors"]), f"{100 * row['error_rate']:.2f}", f"{row['seconds']:.0f}")
    console.print(table)
    console.print(f"done in {time.perf_counter() - start:.0f} s; run: {report.run_dir}")

"""`ganapps cyclegan`: a thin command line over `ganapps.apps.cyclegan.lab`."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import typer
from ganapps.apps.cyclegan.recipe import (
    DATA_HELP,
    DEFAULT_DATA,
    DEFAULTS,
    DIRECTIONS,
    SHIPPED,
    JITTER_DEFAULT,
    JITTER_HELP,
    TEST_SCENES,
    Config,
)
from rich.table import Table

from ganapps.core.config import MODEL
from ganapps.core.console import console as make_console
from ganapps.options import (
    DownloadOption,
    JsonOption,
    add_export_command,
    existing_model,
    existing_path,
    choices,
    config_options,
    lazy_import,
    model_argument,
    plain,
    train_options,
)

app = typer.Typer(
    help="CycleGAN (Zhu et al. 2017): unpaired image-to-image translation, and with --paired pix2pix (Isola et al. "
         "2017) for aligned pairs. Train on a synthetic pair of styles with a known true mapping, a TensorFlow "
         "Datasets cycle_gan set (photos2monet, horse2zebra, ...), a pix2pix set (pix2pix:facades, ...) or "
         "folders; translate, evaluate (PSNR against the truth, or FID/KID) and export both generators.",
    no_args_is_help=True,
)
console, stderr = make_console(stderr=False), make_console()
Direction = choices("Direction", DIRECTIONS)
ModelArgument = model_argument("cyclegan", shipped=SHIPPED)
_lab = lazy_import("ganapps.apps.cyclegan.lab")


@app.command()
@config_options(Config, skip=("data", "jitter"))
@train_options(out=Path("runs/cyclegan"), **DEFAULTS)
def train(
    dataset: str = typer.Argument(DEFAULT_DATA, help=DATA_HELP),
    # A flag pair, which config_options does not make: None (the default) resolves by the data.
    jitter: bool = typer.Option(None, "--jitter/--no-jitter", help=JITTER_HELP, show_default=JITTER_DEFAULT,
                                rich_help_panel=MODEL),
    download: bool = DownloadOption,
    config=None,
    options=None,
) -> None:
    """Train both generators and critics (CycleGAN, or pix2pix with --paired); writes a sample grid per epoch
    (rows: a, G(a), F(G(a)), b, F(b), G(F(b))), checkpoints and both generators as SavedModels."""
    start = time.perf_counter()
    run = _lab().train(replace(config, data=dataset, jitter=jitter), options, download=download)
    console.print(f"trained in {time.perf_counter() - start:.0f} s (A = {run.names[0]}, B = {run.names[1]})\n"
                  f"samples: {run.samples}\nmodels: {run.result.exported}")


@app.command()
def translate(
    source: Path = typer.Argument(..., help="An image file or a folder of images.", show_default=False,
                                  callback=existing_path),
    model: str = ModelArgument,
    direction: Direction = typer.Option("a2b", "--direction", help="a2b: domain A to B (G); b2a: B to A (F)."),
    out: Path = typer.Option(None, "--out", "-o", show_default="NAME_DIRECTION.png beside each image",
                             help="Output image (for a file) or folder (paths below SOURCE are kept)."),
) -> None:
    """Translate SOURCE with MODEL, whole: an image not at the model's size is translated at that size and
    resized back to its own."""
    written = _lab().translate(model, source, plain(direction), out)
    for item in written:
        console.print(f"{item.source} -> {item.target}")
    resized = sum(item.resized for item in written)
    if resized:
        size = written[0].model_size
        stderr.print(f"note: {resized} of {len(written)} images translated at the model's {size}x{size} and "
                     "resized back to their own size")


@app.command()
def evaluate(
    model: str = ModelArgument,
    data: str = typer.Option(None, "--data", "-d", show_default="the run's data",
                             help="DATASET to evaluate on (its held-out images), as for `train`."),
    domain_a: str = typer.Option(None, "--domain-a", help="Folder of domain-A images (with --domain-b, instead of "
                                 "--data).", show_default=False),
    domain_b: str = typer.Option(None, "--domain-b", help="Folder of domain-B images.", show_default=False),
    num: int = typer.Option(TEST_SCENES, "--num", "-n", help="Held-out images per domain (fewer if fewer are "
                            "held out; the count used is printed)."),
    extractor: str = typer.Option("inception", "--extractor", help="Real data: features of FID/KID; 'inception' "
                                  "(InceptionV3 ImageNet weights in the Keras cache) or a .keras model path."),
    versus: list[str] = typer.Option([], "--versus", help="Another model to score on the same images, in the same "
                                     "table (repeat for more), e.g. a pix2pix run beside a CycleGAN one.",
                                     show_default=False, metavar="MODEL",
                                     callback=lambda values: [existing_model(v) for v in values]),
    download: bool = DownloadOption,
    as_json: bool = JsonOption,
) -> None:
    """Both directions beside the identity baseline G(x) = x: on aligned held-out pairs (the synthetic pair,
    side-by-side images) PSNR/SSIM against the truth (higher is better), on other real data FID/KID against the
    held-out target domain (lower is better)."""
    result = _lab().evaluate(model, data, domain_a, domain_b, num, extractor, download, versus)
    if as_json:
        for row in result.as_dicts():
            print(json.dumps(row), flush=True)
        return
    paired = result.scores[0].psnr is not None
    table = Table(title=f"{result.images} held-out images per domain of {result.data} (A = {result.names[0]}, "
                        f"B = {result.names[1]})" + ("" if paired else f", {result.extractor} features"))
    columns = ("PSNR dB", "SSIM") if paired else ("FID", "KID", "KID std")
    for column in ("direction", "model", *columns):
        table.add_column(column, justify="right")
    for s in result.scores:
        values = (f"{s.psnr:.2f}", f"{s.ssim:.4f}") if paired else (f"{s.fid:.3f}", f"{s.kid:.5f}", _std(s.kid_std))
        table.add_row(s.direction, s.model, *values)
    console.print(table)
    if not paired and result.scores[0].kid_std is None:
        stderr.print(f"note: no KID std: {result.images} images per domain make a single subset (it takes more "
                     "than 1000)")


def _std(value: float | None) -> str:
    return "-" if value is None else f"{value:.5f}"


add_export_command(
    app, "cyclegan", lambda: _lab().export,
    "Export both generators (the EMA copies if trained with --ema): `image` [N, S, S, 3] in [-1, 1] in, "
    "`translation` out.",
    out_help="Folder; the generators go to OUT/a2b/VERSION and OUT/b2a/VERSION (TF Serving layout).",
)

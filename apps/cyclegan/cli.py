"""`ganapps cyclegan`: a thin command line over `ganapps.apps.cyclegan.lab`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from ganapps.apps.cyclegan.recipe import (
    CYCLE_WEIGHT,
    DEFAULT_DATA,
    DEFAULTS,
    IDENTITY_WEIGHT,
    IMAGE_SIZE,
    POOL_SIZE,
    SYNTHETIC_SCENES,
    TEST_SCENES,
)
from rich.console import Console
from rich.table import Table

from ganapps.options import DownloadOption, JsonOption, add_export_command, choices, lazy_import, plain, train_options

app = typer.Typer(
    help="CycleGAN (Zhu et al. 2017): unpaired image-to-image translation. Train on a synthetic pair of styles with "
         "a known true mapping, a TensorFlow Datasets cycle_gan set (photos2monet, horse2zebra, ...) or two "
         "folders; translate, evaluate (PSNR against the truth, or FID/KID) and export both generators.",
    no_args_is_help=True,
)
console = Console()
Direction = choices("Direction", ("a2b", "b2a"))

RunArgument = typer.Argument(..., help="A run directory (written by `cyclegan train`) or an exported folder (with "
                             "a2b/ and b2a/).", show_default=False)
DomainA = typer.Option(None, "--domain-a", help="Folder of domain-A images (with --domain-b, instead of DATASET).",
                       show_default=False)
DomainB = typer.Option(None, "--domain-b", help="Folder of domain-B images.", show_default=False)

_lab = lazy_import("ganapps.apps.cyclegan.lab")


@app.command()
@train_options(out=Path("runs/cyclegan"), **DEFAULTS)
def train(
    dataset: str = typer.Argument(
        DEFAULT_DATA,
        help="'synthetic' (two rendered styles of the same kind of scenes, offline), a TensorFlow Datasets cycle_gan "
             "set in either direction (photos2monet, monet2photo, horse2zebra, zebra2horse, apple2orange, ...; "
             "optionally tfds:cycle_gan/NAME) or a folder with trainA/ and trainB/ (and optionally testA/ and testB/).",
    ),
    domain_a: Path = DomainA,
    domain_b: Path = DomainB,
    image_size: int = typer.Option(IMAGE_SIZE, "--image-size", help="Side of the square images (a multiple of 4, "
                                   "at least 32); images are centre-cropped and resized."),
    blocks: int = typer.Option(None, "--blocks", show_default="9 at 256 px and above, 6 at 128, 3 below",
                               help="Residual blocks of each generator (the paper: 6 at 128 px, 9 at 256)."),
    width: int = typer.Option(None, "--width", show_default="64 at 128 px and above, 16 below",
                              help="Filters of the first generator and discriminator layers (the paper: 64)."),
    cycle_weight: float = typer.Option(CYCLE_WEIGHT, "--cycle-weight", help="lambda of the cycle terms."),
    identity_weight: float = typer.Option(IDENTITY_WEIGHT, "--identity-weight",
                                          help="Weight of the identity terms (the paper: 0.5 lambda)."),
    pool_size: int = typer.Option(POOL_SIZE, "--pool-size", help="Generated images each discriminator keeps in its "
                                  "history (0: judge only the current ones)."),
    jitter: bool = typer.Option(None, "--jitter/--no-jitter", show_default="on for real data, off for synthetic",
                                help="Resize to 286/256 of the size and crop back at random (mirroring is always "
                                     "on)."),
    scenes: int = typer.Option(SYNTHETIC_SCENES, "--scenes", help="Synthetic training scenes per domain."),
    download: bool = DownloadOption,
    options=None,
) -> None:
    """Train both generators and critics; writes a sample grid per epoch (rows: a, G(a), F(G(a)), b, F(b),
    G(F(b))), checkpoints and both generators as SavedModels."""
    lab = _lab()
    config = lab.Config(None if domain_a is not None and dataset == DEFAULT_DATA else dataset,
                        str(domain_a) if domain_a is not None else None,
                        str(domain_b) if domain_b is not None else None, image_size, blocks, width, cycle_weight,
                        identity_weight, pool_size, jitter, scenes)
    start = time.perf_counter()
    run = lab.train(config, options, download=download)
    console.print(f"trained in {time.perf_counter() - start:.0f} s (A = {run.names[0]}, B = {run.names[1]})\n"
                  f"samples: {run.samples}\nmodels: {run.result.export_dir}")


@app.command()
def translate(
    source: Path = typer.Argument(..., help="An image file or a folder of images.", show_default=False),
    model: Path = RunArgument,
    direction: Direction = typer.Option("a2b", "--direction", help="a2b: domain A to B (G); b2a: B to A (F)."),
    out: Path = typer.Option(None, "--out", "-o", show_default="STEM_DIRECTION.png, or folder NAME_DIRECTION",
                             help="Output image (for a file) or folder (for a folder; relative paths are kept, "
                                  "as .png)."),
) -> None:
    """Translate SOURCE with MODEL; images are centre-cropped and resized to the model's size."""
    written = _lab().translate(model, source, plain(direction), out)
    where = written[0] if len(written) == 1 else f"{len(written)} images below {written[0].parent}"
    console.print(f"{plain(direction)}: {where}")


@app.command()
def evaluate(
    model: Path = RunArgument,
    data: str = typer.Option(None, "--data", "-d", show_default="the run's data",
                             help="DATASET to evaluate on (its held-out images), as for `train`."),
    domain_a: Path = DomainA,
    domain_b: Path = DomainB,
    num: int = typer.Option(TEST_SCENES, "--num", "-n", help="Held-out images per domain (fewer if fewer are "
                            "held out; the count used is printed)."),
    extractor: str = typer.Option("inception", "--extractor", help="Real data: features of FID/KID; 'inception' "
                                  "(InceptionV3 ImageNet weights in the Keras cache) or a .keras model path."),
    download: bool = DownloadOption,
    as_json: bool = JsonOption,
) -> None:
    """Both directions beside the identity baseline G(x) = x: on the synthetic pair PSNR/SSIM against the true
    mapping (higher is better), on real data FID/KID against the held-out target domain (lower is better)."""
    result = _lab().evaluate(model, data, None if domain_a is None else str(domain_a),
                             None if domain_b is None else str(domain_b), num, extractor, download)
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
        values = (f"{s.psnr:.2f}", f"{s.ssim:.4f}") if paired else (f"{s.fid:.3f}", f"{s.kid:.5f}", f"{s.kid_std:.5f}")
        table.add_row(s.direction, s.model, *values)
    console.print(table)


add_export_command(
    app, "cyclegan", lambda: _lab().export,
    "Export both generators (the EMA copies if trained with --ema): `image` [N, S, S, 3] in [-1, 1] in, "
    "`translation` out.",
    out_help="Folder; the generators go to OUT/a2b/VERSION and OUT/b2a/VERSION (TF Serving layout).",
)

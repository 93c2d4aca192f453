"""`ganapps toy`: the 2-D mode-collapse lab."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import typer
from ganapps.apps.toy.recipe import DEFAULTS, EVAL_SAMPLES, PUBLISHED, Config
from rich.table import Table

from ganapps.core.console import console as make_console
from ganapps.options import JsonOption, choices, config_options, lazy_import, plain, train_options

app = typer.Typer(help="2-D mode-collapse lab on the PacGAN ring (8 modes) and grid (25 modes) mixtures.",
                  no_args_is_help=True)
console = make_console(stderr=False)
MixtureOrBoth = choices("MixtureOrBoth", ("ring", "grid", "both"))

_lab = lazy_import("ganapps.apps.toy.lab")


@app.command()
@config_options(Config)
@train_options(out=Path("runs/toy"), **DEFAULTS)
def train(config=None, options=None) -> None:
    """Train a GAN on a 2-D mixture; writes plot.png (real: red dots, generated: blue crosses)."""
    start = time.perf_counter()
    run = _lab().train(config, options)
    cov = run.coverage
    console.print(
        f"[bold]{config.dataset}[/]: {cov.modes_captured}/{cov.modes_total} modes, "
        f"{100 * cov.high_quality:.1f}% high-quality samples, reverse KL {cov.reverse_kl:.3f} "
        f"({time.perf_counter() - start:.0f} s)\nplot: {run.plot}\nmodel: {run.result.exported}"
    )


@app.command()
@config_options(Config, skip=("dataset",))
@train_options(out=Path("runs/toy-benchmark"), **DEFAULTS)
def benchmark(
    dataset: MixtureOrBoth = typer.Option("both", "--dataset", "-d", help="ring, grid or both."),
    runs: int = typer.Option(10, "--runs", help="Seeds per data set (0 .. N-1)."),
    as_json: bool = JsonOption,
    keep: bool = typer.Option(False, "--keep", help="Keep each run's directory (plots, checkpoints)."),
    config=None,
    options=None,
) -> None:
    """Train N seeds per mixture and print mode coverage beside PacGAN's Table 1."""
    if runs < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--runs")
    lab = _lab()
    dataset = plain(dataset)
    datasets = ["ring", "grid"] if dataset == "both" else [dataset]
    summaries = []
    for name in datasets:
        def report(seed, run, name=name):
            row = {"dataset": name, "seed": seed, **run.coverage.as_dict(), "seconds": round(run.seconds, 1)}
            if as_json:
                print(json.dumps(row), flush=True)
            else:
                console.print(f"{name} seed {seed}: {row['modes']}/{row['modes_total']} modes, "
                              f"{100 * row['high_quality']:.1f}% HQ, spread {row['spread']:.2f} ({row['seconds']:.0f} s)")

        summaries.append(lab.benchmark(replace(config, dataset=name), runs, options.out, options, report))
        if not keep:
            shutil.rmtree(options.out, ignore_errors=True)
    if as_json:
        for s in summaries:
            print(json.dumps({"summary": s.dataset, **s.__dict__}))
        return
    table = Table(title=f"Mode coverage on {EVAL_SAMPLES} samples (mean +/- s.e.)")
    for column in ("data", "method", "runs", "modes", "high-quality %", "reverse KL", "spread", "s/run"):
        table.add_column(column)
    for s in summaries:
        table.add_row(s.dataset, f"ganapps ({config.model})", str(s.runs), f"{s.modes_mean:.1f} +/- {s.modes_se:.1f}",
                      f"{s.hq_mean:.1f} +/- {s.hq_se:.1f}", f"{s.kl_mean:.4f}", f"{s.spread_mean:.2f}",
                      f"{s.seconds_mean:.0f}")
        for method, modes, hq in PUBLISHED[s.dataset]:
            table.add_row("", f"{method} (PacGAN Table 1)", "10", f"{modes}", f"{hq}", "")
    console.print(table)



@app.command()
def game(
    out: Path = typer.Option(Path("runs/toy-game"), "--out", "-o", help="Folder for game.png."),
    steps: int = typer.Option(1000, "--steps", help="Steps of each method from (1, 1)."),
    lr: float = typer.Option(0.05, "--lr", help="Learning rate of both players."),
    beta1: float = typer.Option(0.0, "--beta1", help="beta_1 of adam and optimistic-adam."),
    beta2: float = typer.Option(0.9, "--beta2", help="beta_2 of adam and optimistic-adam."),
    as_json: bool = JsonOption,
) -> None:
    """The bilinear game L_D = xy, L_G = -xy (the seeds' non-convergence example): which methods reach (0, 0)."""
    run = _lab().play_game(out, steps, lr, beta1, beta2)
    rows = [outcome.as_dict() for outcome in run.outcomes]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table(title=f"Distance from the equilibrium (0, 0), {steps} steps at lr {lr}")
    for column in ("method", "start", "largest", "end", ""):
        table.add_column(column)
    for row in rows:
        table.add_row(row["method"], f"{row['start_radius']:.3f}", f"{row['max_radius']:.3f}",
                      f"{row['final_radius']:.3f}", row["verdict"])
    console.print(table)
    console.print(f"plot: {run.plot}")

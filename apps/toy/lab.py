"""The 2-D mode-collapse lab: train on a PacGAN mixture, measure mode coverage, plot real vs generated.

    from ganapps.apps.toy import lab
    run = lab.train(lab.Config(dataset="ring"), lab.APP.options(out="runs/ring"))
    print(run.coverage.modes_captured, run.plot)
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ganapps.apps.toy import game
from ganapps.apps.toy.app import APP, write_plot
from ganapps.apps.toy.data import ModeCoverage
from ganapps.apps.toy.recipe import EVAL_SAMPLES, Config

from ganapps.core import runs
from ganapps.core.callbacks import chief_writes
from ganapps.core.config import TrainOptions
from ganapps.core.images import atomic_write_bytes


@dataclass
class ToyRun:
    result: runs.TrainResult
    coverage: ModeCoverage
    plot: Path
    seconds: float  # wall time of training and evaluation


def train(config: Config | None = None, options: TrainOptions | None = None) -> ToyRun:
    """Train on the `ring` or `grid` mixture; write samples per epoch, the final plot and metrics.json."""
    start = time.perf_counter()
    config = config or Config()
    options = options or APP.options(out=Path("runs") / f"toy-{config.dataset}")
    result = runs.train(APP, config, options)
    plot, strategy = result.run_dir / "plot.png", result.gan.distribute_strategy
    with chief_writes(plot, strategy) as target:
        coverage = write_plot(result.gan.sample(EVAL_SAMPLES, seed=options.seed + 2), config, options.seed, target,
                              config.dataset)
    with chief_writes(result.run_dir / "metrics.json", strategy) as target:
        atomic_write_bytes(target, (json.dumps(coverage.as_dict(), indent=2) + "\n").encode())
    return ToyRun(result, coverage, plot, time.perf_counter() - start)


@dataclass
class GameRun:
    outcomes: list[game.Outcome]
    plot: Path


def play_game(out: Path = Path("runs/toy-game"), steps: int = 1000, lr: float = 0.05, beta_1: float = 0.0,
              beta_2: float = 0.9, methods: tuple[str, ...] = game.METHODS) -> GameRun:
    """Play the bilinear game with each method from (1, 1); writes `out/game.png` (paths and distances)."""
    outcomes = [game.Outcome(method, game.play(method, steps=steps, lr=lr, beta_1=beta_1, beta_2=beta_2))
                for method in methods]
    plot = Path(out) / "game.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(plot, game.plot_png(outcomes, f"L_D = xy, L_G = -xy: {steps} steps at lr {lr}"))
    return GameRun(outcomes, plot)


@dataclass
class Summary:
    dataset: str
    runs: int
    modes_mean: float
    modes_se: float
    hq_mean: float
    hq_se: float
    kl_mean: float
    spread_mean: float
    seconds_mean: float


def summarise(dataset: str, coverages: list[ModeCoverage], seconds: list[float]) -> Summary:
    """Mean and standard error over runs."""
    modes = np.array([c.modes_captured for c in coverages], float)
    hq = np.array([100 * c.high_quality for c in coverages])
    kl = np.array([c.reverse_kl for c in coverages])
    se = (lambda a: float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else 0.0)
    return Summary(dataset, len(coverages), float(modes.mean()), se(modes), float(hq.mean()), se(hq),
                   float(kl.mean()), float(np.mean([c.spread for c in coverages])), float(np.mean(seconds)))


def benchmark(config: Config, runs_per_set: int, out: Path, options: TrainOptions | None = None,
              on_run=None) -> Summary:
    """Train `runs_per_set` seeds of `config` from scratch and summarise their mode coverage."""
    options = options or APP.options()
    coverages, seconds = [], []
    for seed in range(runs_per_set):
        run = train(config, replace(options, out=out / f"{config.dataset}-seed{seed}", seed=seed, verbose=0,
                                    resume=False))
        coverages.append(run.coverage)
        seconds.append(run.seconds)
        if on_run:
            on_run(seed, run)
    return summarise(config.dataset, coverages, seconds)

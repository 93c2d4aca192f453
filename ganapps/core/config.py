"""Training options and the names of every choice, importable without TensorFlow (fast `--help`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ganapps.core.errors import GanappsError

LOSS_FAMILIES = ("minimax", "non-saturating", "wasserstein", "hinge", "least-squares")
STRATEGIES = ("auto", "default", "one-device", "mirrored", "multi-worker", "tpu")
PRECISIONS = ("off", "float16", "bfloat16")


@dataclass
class TrainOptions:
    """Options shared by every app's `train` (the CLI fills them from flags; notebooks pass them directly)."""

    out: Path = Path("runs/run")
    epochs: int = 10
    steps: int = 200
    batch_size: int = 64
    seed: int = 0
    strategy: str = "auto"
    devices: int = 0
    mixed_precision: str = "off"
    jit: str = "auto"
    resume: bool = False
    loss: str = "non-saturating"
    d_steps: int = 1
    gp_weight: float = 0.0
    r1_weight: float = 0.0
    label_smoothing: float = 0.0
    feature_matching: float = 0.0
    ema: float = 0.0
    pack: int = 1
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay_start: float = 1.0
    d_stop: float = 1.0
    verbose: int | str = "auto"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.out = Path(self.out)
        for name in ("epochs", "steps", "batch_size", "d_steps", "pack"):
            if getattr(self, name) < 1:
                raise GanappsError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.batch_size % self.pack:
            raise GanappsError(f"--batch-size {self.batch_size} must be a multiple of --pack {self.pack}")
        if not 0.0 <= self.ema < 1.0:
            raise GanappsError(f"--ema must be in [0, 1), got {self.ema}")
        for name in ("lr_decay_start", "d_stop"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise GanappsError(f"--{name.replace('_', '-')} must be in [0, 1], got {getattr(self, name)}")
        if self.loss not in LOSS_FAMILIES:
            raise GanappsError(f"--loss {self.loss!r}: choose one of {', '.join(LOSS_FAMILIES)}")
        if self.strategy not in STRATEGIES:
            raise GanappsError(f"--strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}")
        if self.mixed_precision not in PRECISIONS:
            raise GanappsError(f"--mixed-precision {self.mixed_precision!r}: choose {', '.join(PRECISIONS)}")

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["out"] = str(self.out)
        return data

"""Training options, app configurations and the names of every choice, importable without TensorFlow.

Every app's `Config` and the shared `TrainOptions` are frozen-free dataclasses whose fields are declared once with
`setting(default, help)`: the help text rides in the field's metadata, so the command line generates its flags from
the dataclass (`ganapps.options`) and a notebook user reads the same text in the class.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganapps.core.errors import GanappsError, ParameterError, check_at_least, check_choice

LOSS_FAMILIES = ("minimax", "non-saturating", "wasserstein", "hinge", "least-squares")
STRATEGIES = ("auto", "default", "one-device", "mirrored", "multi-worker", "tpu")
PRECISIONS = ("off", "auto", "float16", "bfloat16")
JIT = ("auto", "on", "off")
OPTIMIZERS = ("adam", "optimistic-adam")
AUGMENT_POLICIES = ("color", "translation", "cutout")  # DiffAugment's (core/augment.py)


def augment_policy(policy: str | None) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); '' or None -> (); unknown names fail naming `augment`."""
    names = tuple(name.strip() for name in (policy or "").split(",") if name.strip())
    unknown = [name for name in names if name not in AUGMENT_POLICIES]
    if unknown:
        raise ParameterError("augment", f"{','.join(unknown)}: choose from {', '.join(AUGMENT_POLICIES)} "
                                        "(comma-separated)")
    return names

RUN, LOSS, HARDWARE, MODEL = "Run", "Loss and regularisers", "Hardware", "Model and data"


def setting(default: Any, help: str, *, choices: tuple | None = None, short: str | None = None,
            show_default: str | bool = True, panel: str = MODEL, flag: bool = True) -> Any:
    """A dataclass field with its help text; `choices` lists valid values, `short` a one-letter flag, `flag=False`
    keeps a field out of the command line (it is filled by the app, e.g. a fitted vocabulary)."""
    metadata = {"help": help, "choices": choices, "short": short, "show_default": show_default, "panel": panel,
                "flag": flag}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def from_dict(cls: type, values: dict | None) -> Any:
    """`cls(**values)` keeping only the fields `cls` has (a run written by an older version may hold more)."""
    names = {f.name for f in dataclasses.fields(cls)}
    kept = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (values or {}).items() if k in names}
    return cls(**kept)


def to_json(instance: Any) -> dict:
    """A dataclass as JSON-ready values (paths as strings)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(instance).items()}


_EMA_HELP = ("EMA decay of generator weights for sampling and export (0: off); warms up as "
             "min(decay, (1 + step) / (10 + step)), so short runs are not averaged with their initial weights.")


@dataclass
class TrainOptions:
    """Options shared by every app's `train` (the CLI fills them from flags; notebooks pass them directly)."""

    out: Path = setting(Path("runs/run"), "Run directory: config, checkpoints, samples, logs, export.", panel=RUN)
    epochs: int = setting(10, "Number of epochs.", panel=RUN)
    steps: int = setting(200, "Training steps per epoch.", panel=RUN)
    batch_size: int = setting(64, "Global batch size (split over replicas).", panel=RUN)
    seed: int = setting(0, "Seed for weights, data order and noise.", panel=RUN)
    resume: bool = setting(False, "Continue the run in --out from its last finished epoch.", panel=RUN)
    eval_every: int = setting(0, "Every N epochs (and after the last), compute the app's own quality figure (e.g. "
                              "FID, PSNR, mode coverage) into history.csv and TensorBoard (0: off).", panel=RUN)
    keep_best: bool = setting(False, "Export the epoch with the best quality figure instead of the last (needs "
                              "--eval-every).", panel=RUN)
    loss: str = setting("non-saturating", "Adversarial loss family.", choices=LOSS_FAMILIES, panel=LOSS)
    d_steps: int = setting(1, "Discriminator updates per generator update.", panel=LOSS)
    gp_weight: float = setting(0.0, "WGAN-GP gradient penalty weight (0: off).", panel=LOSS)
    r1_weight: float = setting(0.0, "R1 penalty weight gamma (0: off).", panel=LOSS)
    label_smoothing: float = setting(0.0, "One-sided label smoothing of real targets.", panel=LOSS)
    feature_matching: float = setting(0.0, "Feature-matching term weight (0: off).", panel=LOSS)
    ema: float = setting(0.0, _EMA_HELP, panel=LOSS)
    pack: int = setting(1, "PacGAN packing: samples the discriminator judges together.", panel=LOSS)
    augment: str = setting("", "DiffAugment (Zhao et al. 2020) of every image the discriminator judges, real and "
                           "generated: color, translation and/or cutout, comma-separated; for small data sets "
                           "(empty: off).", panel=LOSS)
    g_lr: float = setting(2e-4, "Generator learning rate.", panel=LOSS)
    d_lr: float = setting(2e-4, "Discriminator learning rate (TTUR: set it apart from --g-lr).", panel=LOSS)
    beta1: float = setting(0.5, "Adam beta_1.", panel=LOSS)
    beta2: float = setting(0.999, "Adam beta_2.", panel=LOSS)
    optimizer: str = setting("adam", "Both players' optimizer; optimistic-adam steps twice this update less the "
                                     "last one (Daskalakis et al. 2018), which damps the players' rotation "
                                     "(`ganapps toy game`).", choices=OPTIMIZERS, panel=LOSS)
    lr_decay_start: float = setting(1.0, "Fraction of training after which both learning rates decay linearly "
                                         "to 0 (1: constant).", panel=LOSS)
    d_stop: float = setting(1.0, "Fraction of training by which the discriminator stops learning: its "
                                 "learning-rate schedule is compressed into it, and the generator then refines "
                                 "against a fixed critic (1: never).", panel=LOSS)
    strategy: str = setting("auto", "tf.distribute strategy; auto: mirrored on several GPUs, one-device on one.",
                            choices=STRATEGIES, panel=HARDWARE)
    devices: int = setting(0, "Split the CPU into N logical devices (test multi-replica runs without GPUs).",
                           panel=HARDWARE)
    mixed_precision: str = setting("off", "Mixed precision policy; auto: bfloat16 on TPUs, recent GPUs and CPUs "
                                          "with native bfloat16, float16 on older GPUs, off elsewhere.",
                                   choices=PRECISIONS, panel=HARDWARE)
    jit: str = setting("auto", "XLA compilation; auto: on for GPUs and TPUs only.", choices=JIT, panel=HARDWARE)
    steps_per_execution: int = setting(0, "Training steps per call into the compiled graph (0: auto, the largest "
                                          "divisor of --steps up to 20).", panel=HARDWARE)
    verbose: int | str = setting("auto", "Keras progress output.", flag=False)

    def __post_init__(self):
        self.out = Path(self.out)
        for name in ("epochs", "steps", "batch_size", "d_steps", "pack"):
            check_at_least(name, getattr(self, name), 1)
        check_at_least("steps_per_execution", self.steps_per_execution, 0)
        check_at_least("eval_every", self.eval_every, 0)
        if self.keep_best and not self.eval_every:
            raise ParameterError("keep_best", "needs eval_every: the best epoch is the best of the evaluated ones")
        if self.batch_size % self.pack:
            raise ParameterError("batch_size", f"{self.batch_size} must be a multiple of pack {self.pack}")
        if not 0.0 <= self.ema < 1.0:
            raise ParameterError("ema", f"must be in [0, 1), got {self.ema}")
        for name in ("lr_decay_start", "d_stop"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ParameterError(name, f"must be in [0, 1], got {getattr(self, name)}")
        check_choice("loss", self.loss, LOSS_FAMILIES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("strategy", self.strategy, STRATEGIES)
        check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        check_choice("jit", self.jit, JIT)
        augment_policy(self.augment)

    def to_json(self) -> dict:
        return to_json(self)


def check_run_directory(out: Path, resume: bool) -> None:
    """Refuse, before any TensorFlow work, a run directory that cannot be one: a file, a folder that cannot be
    created, or `resume` of a run that does not exist. Creates the folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParameterError("out", f"{out} is a file, not a run directory")
    if resume and not (out / "config.json").is_file():
        raise ParameterError("resume", f"found no run to continue in {out} (no config.json); drop it to start one")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParameterError("out", f"{out}: cannot create the run directory ({error.strerror})") from None


EXPORT_FORMATS = ("saved_model", "litert", "onnx")  # `export --format`: TF Serving, LiteRT (.tflite), ONNX (.onnx)


def shipped_model_path(name: str) -> Path:
    """Where a model shipped with the package lives (inside the installed `ganapps.saved_models`)."""
    import ganapps.saved_models

    return Path(ganapps.saved_models.__file__).parent / name


def shipped_name(model, names: dict[str, str]):
    """A short name in `names` as the shipped model it stands for, unless a file or folder of that name is here."""
    if isinstance(model, (str, Path)) and str(model) in names and not Path(model).exists():
        return names[str(model)]
    return model


def model_path(model: str | Path) -> Path:
    """The folder a model argument names: the path as given, else the shipped model of that name. A one-line error
    when neither exists, checked before TensorFlow loads."""
    path = Path(model)
    if not path.exists() and path.name == str(model) and shipped_model_path(str(model)).is_dir():
        return shipped_model_path(str(model))
    if not path.exists():
        raise GanappsError(f"{path}: no such run directory, SavedModel or shipped model")
    return path

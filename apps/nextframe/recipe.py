"""The app's configuration and default recipe, importable without TensorFlow (so `--help` stays fast)."""

from dataclasses import dataclass

from ganapps.core.config import setting
from ganapps.core.errors import ParameterError, check_at_least, check_choice

GENERATORS = ("multiscale", "convlstm")
SEQUENCES = 2000  # generated Moving MNIST training sequences (16 training pairs each with 4 context frames)
HORIZONS = 10  # evaluated prediction steps

# The default training options: 800 steps of batch 8, each rolled out 3 steps (24 judged frames a step), the
# learning rates decaying linearly to 0 over the second half; see README for the time taken and what it reaches.
SHIPPED = "nextframe_mmnist"  # saved_models/<name>/1: the default recipe on the offline Moving MNIST
DEFAULTS = dict(epochs=8, steps=100, batch_size=8, loss="non-saturating", g_lr=1e-3, d_lr=2e-4, beta1=0.5,
                lr_decay_start=0.5)


def check_shape(image_size: int, channels: int, context: int) -> None:
    """Errors for shapes the three scales cannot handle."""
    if image_size < 16 or image_size % 16:
        raise ParameterError("image_size", f"must be a multiple of 16 (three scales down to a 4x4 map), got "
                                           f"{image_size}")
    check_choice("channels", channels, (1, 3))
    check_at_least("context", context, 1)


@dataclass(frozen=True)
class Config:
    """What finds a run's data and rebuilds its networks and losses; saved in its config.json. The loss weights are
    the paper's (Mathieu et al. 2016, section 4): lambda_adv 0.05, lambda_lp 1 with p = 1, lambda_gdl 1."""

    data: str = setting("moving-mnist", "'moving-mnist' (generated, offline), a folder with one subfolder of frames "
                        "per sequence, or tfds:moving_mnist. Held-out sequences are kept apart for `evaluate`.",
                        short="-d")
    digits: str = setting("glyphs", "Moving MNIST digits: 'glyphs' (rendered, offline) or an MNIST CSV file (784 "
                          "pixel values then the label per row).")
    sequences: int = setting(SEQUENCES, "Generated Moving MNIST training sequences.")
    context: int = setting(4, "Past frames the model predicts from.", short="-k")
    generator: str = setting("multiscale", "multiscale: the paper's coarse-to-fine CNN (1/4, 1/2, 1); convlstm: a "
                             "ConvLSTM encoder-decoder.", choices=GENERATORS)
    width: int = setting(16, "Filters of the first layers (the paper's: 128).")
    image_size: int = setting(64, "Frame side, a multiple of 16; frames are centre-cropped and resized.")
    channels: int | None = setting(None, "1 or 3.", show_default="1 for grey data, else 3")
    adversarial_weight: float = setting(0.05, "lambda_adv; 0 trains the Lp-only model (the same generator, no "
                                        "discriminator).")
    lp: int = setting(1, "p of the Lp loss: 1 or 2.")
    lp_weight: float = setting(1.0, "lambda_lp.")
    gdl_weight: float = setting(1.0, "lambda_gdl (gradient difference loss).")
    rollout: int = setting(3, "Training roll-out steps: the model also predicts from its own fed-back predictions, "
                           "and every step is scored against its true frame (so that long roll-outs do not fade); "
                           "1: one-step training.")
    download: bool = setting(True, "Let a TensorFlow Datasets set download (set by `lab.train`).", flag=False)

    def __post_init__(self):
        check_shape(self.image_size, self.channels or 1, self.context)
        check_choice("generator", self.generator, GENERATORS)
        check_choice("lp", self.lp, (1, 2))
        for name in ("sequences", "width", "rollout"):
            check_at_least(name, getattr(self, name), 1)
        check_at_least("adversarial_weight", self.adversarial_weight, 0)

"""The app's configuration and default recipe, importable without TensorFlow (so `--help` stays fast)."""

from dataclasses import dataclass

from ganapps.core.config import setting
from ganapps.core.errors import ParameterError, check_at_least, check_choice

GENERATORS = ("simvp", "multiscale", "convlstm")
SEQUENCES = 2000  # sequences of a fixed generated Moving MNIST set, when a count is not given
HORIZONS = 10  # evaluated prediction steps

# The default training options: 3,000 steps of batch 16 fresh sequences (10 context frames, 10 predicted in one
# pass), the learning rates decaying linearly to 0 over the second half; README gives the time taken and what it
# reaches.
SHIPPED = "nextframe_mmnist"  # saved_models/<name>/1: the default recipe on the offline Moving MNIST
SHIPPED_LP = "nextframe_mmnist_lp"  # its Lp-only twin (--adversarial-weight 0), the default --baseline
DEFAULTS = dict(epochs=30, steps=100, batch_size=16, loss="non-saturating", g_lr=1e-3, d_lr=2e-4, beta1=0.5,
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
    """What finds a run's data and rebuilds its networks and losses; saved in its config.json. The loss terms are
    the paper's (Mathieu et al. 2016, section 4): lambda_lp 1 with p = 1 and lambda_gdl 1; lambda_adv is lower
    than its 0.05 because the terms here are means, not sums over pixels."""

    data: str = setting("moving-mnist", "'moving-mnist' (generated, offline), a folder with one subfolder of frames "
                        "per sequence, or tfds:moving_mnist. Held-out sequences are kept apart for `evaluate`.",
                        short="-d")
    digits: str = setting("glyphs", "Moving MNIST digits: 'glyphs' (rendered, offline) or an MNIST CSV file (784 "
                          "pixel values then the label per row).")
    sequences: int = setting(0, "Generated Moving MNIST training sequences; 0: a new sequence for every training "
                             "example (an endless stream, as Srivastava et al. train).")
    context: int = setting(10, "Past frames the model predicts from (the field's Moving MNIST protocol: 10).",
                           short="-k")
    future: int = setting(10, "Frames the generator predicts in one pass (the protocol's 10; 1 for the paper's "
                          "next-frame models). Longer horizons roll out, feeding predictions back.", short="-t")
    generator: str = setting("simvp", "simvp: every future frame in one pass (per-frame encoder, translator over "
                             "the stacked time x channel maps, decoder); multiscale: the paper's coarse-to-fine CNN "
                             "(1/4, 1/2, 1); convlstm: a ConvLSTM encoder-decoder.", choices=GENERATORS)
    width: int = setting(16, "Filters of the first layers (the paper's: 128).")
    image_size: int = setting(64, "Frame side, a multiple of 16; frames are centre-cropped and resized.")
    channels: int | None = setting(None, "1 or 3.", show_default="1 for grey data, else 3")
    adversarial_weight: float = setting(0.01, "lambda_adv (the paper's 0.05 weighs more here, where every term "
                                        "is a mean); 0 trains the Lp-only model (the same generator, no "
                                        "discriminator).")
    lp: int = setting(1, "p of the Lp loss: 1 or 2.")
    lp_weight: float = setting(1.0, "lambda_lp.")
    gdl_weight: float = setting(1.0, "lambda_gdl (gradient difference loss).")
    rollout: int = setting(1, "Training roll-out passes: the model also predicts from its own fed-back predictions, "
                           "and every pass is scored against its true frames (so that long roll-outs do not fade; "
                           "the paper's one-step models want 3); 1: one pass.")
    download: bool = setting(True, "Let a TensorFlow Datasets set download (set by `lab.train`).", flag=False)

    def __post_init__(self):
        check_shape(self.image_size, self.channels or 1, self.context)
        check_choice("generator", self.generator, GENERATORS)
        check_choice("lp", self.lp, (1, 2))
        for name in ("width", "rollout", "future"):
            check_at_least(name, getattr(self, name), 1)
        check_at_least("sequences", self.sequences, 0)
        check_at_least("adversarial_weight", self.adversarial_weight, 0)

"""The app's configuration and default recipe, importable without TensorFlow (so `--help` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass

from ganapps.core.config import setting
from ganapps.core.errors import ParameterError, check_at_least, check_choice

IMAGE_SIZES = (16, 32, 64, 128, 256)  # 4x4 doubled 2 to 6 times (models.py)
CHANNELS = (1, 3)
GRID_SAMPLES = 64  # the fixed latents of the per-epoch sample grid
MODES = ("linear", "slerp")  # of interpolation
INVERT_FEATURES = ("discriminator", "digits", "pixels")
# saved_models/<name>/1, what inference uses when no model is named: the default recipe on the glyphs (README)
SHIPPED = "dcgan_glyphs"
SHIPPED_DATA = "glyphs"  # what it was trained on: `evaluate` compares with its held-out share

# The default training options (README's ablation table): the hinge loss with an R1 penalty (the discriminator then
# drops batch norm), a generator EMA, 12,000 steps of batch 32 with both learning rates decaying to 0 over the second
# half, and minibatch std in the discriminator (Config): FID 4.8 against 13.4 for the first recipe (6 x 300 steps,
# non-saturating, lr 4e-4), in under ten minutes on two cores. bfloat16 where the CPU computes it natively (AMX /
# AVX512-BF16; float32 elsewhere) gave the same FID in 0.6x the time.
DEFAULTS = dict(epochs=20, steps=600, batch_size=32, loss="hinge", r1_weight=10.0, ema=0.999, g_lr=2e-4, d_lr=2e-4,
                beta1=0.5, lr_decay_start=0.5, mixed_precision="auto")


def check_shape(image_size: int, channels: int | None) -> None:
    """One-line errors for sizes the stride-2 ladder cannot reach (`channels` None: decided by the data)."""
    if image_size not in IMAGE_SIZES:
        raise ParameterError("image_size", f"{image_size}: choose one of {', '.join(map(str, IMAGE_SIZES))} "
                                           "(28x28 data such as MNIST is resized to 32)")
    if channels is not None:
        check_choice("channels", channels, CHANNELS)


@dataclass(frozen=True)
class Config:
    """What a run learns from and the networks that learn it; saved in its config.json."""

    data: str = setting("glyphs", "'glyphs' (embedded digits, offline), an image folder, or tfds:NAME (e.g. "
                        "tfds:mnist, tfds:celeb_a). A fixed 1/6 of it is held out for `evaluate`.", short="-d")
    image_size: int = setting(32, "Side of the square images: 16, 32, 64, 128 or 256; data is centre-cropped and "
                              "resized (28x28 MNIST becomes 32x32).")
    channels: int | None = setting(None, "1 (grey) or 3 (RGB).", show_default="1 for grey data, else 3")
    latent_dim: int = setting(100, "Size of the latent vector z.")
    width: int = setting(32, "Filters of the generator's last and the discriminator's first layer; the other "
                         "layers double it per stage (the paper's 64x64 model: 128).")
    minibatch_std: bool = setting(True, "Append the spread of groups of four samples to the discriminator's last "
                                  "map (Karras et al. 2018), so that a batch short of variety looks fake.")

    def __post_init__(self):
        check_shape(self.image_size, self.channels)
        check_at_least("latent_dim", self.latent_dim, 1)
        check_at_least("width", self.width, 1)

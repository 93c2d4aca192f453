"""The lab's configuration, default recipe and the published rows it is compared with (no TensorFlow import)."""

from dataclasses import dataclass

from ganapps.core.config import setting
from ganapps.core.errors import check_choice

EVAL_SAMPLES = 2500
TRAIN_POINTS = 100_000

MIXTURES = ("ring", "grid")
MODELS = ("mixture", "mlp")  # see models.py
DEFAULT_MODEL = "mixture"

# The default training options; README.md gives this recipe's benchmark table. WGAN-GP's critic moves every
# component of the mixture generator towards the mode that lacks mass (a non-saturating discriminator leaves
# some stranded between modes). The critic stops learning after a third of training (d_stop) and the
# generator's learning rate falls to 0 over the second half: components then settle on the fixed critic's
# maxima, the mode centres, instead of circling them as the two players keep adapting.
DEFAULTS = dict(
    epochs=6, steps=1000, batch_size=256, loss="wasserstein", gp_weight=1.0, d_steps=3, pack=2, ema=0.999,
    g_lr=1e-3, d_lr=1e-3, beta1=0.5, beta2=0.9, lr_decay_start=0.5, d_stop=1 / 3,
)

# PacGAN (Lin et al. 2018), Table 1, 10 trials: (method, modes, high-quality %).
PUBLISHED = {
    "grid": [("GAN", 17.3, 94.8), ("ALI", 24.1, 95.7), ("PacGAN4", 24.8, 93.6)],
    "ring": [("GAN", 6.3, 98.2), ("PacGAN2", 7.9, 95.6)],
}


@dataclass(frozen=True)
class Config:
    """Which mixture a run learns and which pair of networks learns it; saved in its config.json."""

    dataset: str = setting("grid", "Mixture: ring (8 modes) or grid (25).", choices=MIXTURES, short="-d")
    model: str = setting(DEFAULT_MODEL, "mixture: learnt mixture latent + Fourier-feature critic (beats PacGAN's "
                         "rows); mlp: PacGAN's MLP generator and maxout discriminator (shows mode collapse).",
                         choices=MODELS, short="-m")

    def __post_init__(self):
        check_choice("dataset", self.dataset, MIXTURES)
        check_choice("model", self.model, MODELS)

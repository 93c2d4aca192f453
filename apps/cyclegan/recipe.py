"""The app's configuration and default recipe, importable without TensorFlow (so `--help` stays fast)."""

from dataclasses import dataclass

from ganapps.core.config import setting
from ganapps.core.errors import ParameterError, check_at_least

DEFAULT_DATA = "synthetic"
SHIPPED = "cyclegan_synthetic"  # saved_models/<name>/{a2b,b2a}/1: the default recipe, both directions
IMAGE_SIZE = 64  # the synthetic default; --image-size 128 or 256 picks the paper's networks
SYNTHETIC_SCENES = 1000  # training scenes per domain (different scenes in A and B: the pairing is never seen)
TEST_SCENES = 200  # held-out scenes rendered in both styles: the ground truth `evaluate` scores against
DIRECTIONS = ("a2b", "b2a")

# The paper's loss weights (Zhu et al. 2017, section 7.1): lambda 10 on the cycle terms, 0.5 lambda on the
# identity terms; a history of 50 generated images per discriminator.
CYCLE_WEIGHT = 10.0
IDENTITY_WEIGHT = 5.0
POOL_SIZE = 50
# pix2pix (Isola et al. 2017, section 4): lambda 100 on the L1 term.
L1_WEIGHT = 100.0
# The core's least-squares generator loss is 1/2 E[(D(G(x)) - 1)^2]; the paper's is E[(D(G(x)) - 1)^2].
ADVERSARIAL_WEIGHT = 2.0

# The paper resizes 256-pixel images to 286 and crops 256 at random ("jitter").
JITTER_SCALE = 286 / 256


def paper_blocks(image_size: int) -> int:
    """Residual blocks of the paper's generator: 9 at 256 pixels and above, 6 below (the paper's 128-pixel net)."""
    return 9 if image_size >= 256 else 6


def default_blocks(image_size: int) -> int:
    """The paper's block count at 128 pixels and above; 3 for the small CPU-sized default."""
    return paper_blocks(image_size) if image_size >= 128 else 3


def default_width(image_size: int, paired: bool = False) -> int:
    """Filters of the first generator and discriminator layers: the paper's 64 at 128 pixels and above; below, 16
    for CycleGAN (per CPU second, 16 filters for 1,600 steps beat 32 for 800 on the synthetic pair: 20.2 against
    19.1 dB) and 32 for pix2pix, whose U-Net is cheaper per step (at 1,600 steps, 32 filters give 27.7 / 30.2 dB
    against 16 filters' 25.0 / 27.4)."""
    if image_size >= 128:
        return 64
    return 32 if paired else 16


def check_shape(image_size: int, blocks: int | None = None, width: int | None = None) -> None:
    """One-line errors for what the networks cannot handle."""
    if image_size < 32 or image_size % 4:
        raise ParameterError("image_size", f"must be a multiple of 4 and at least 32, got {image_size} (the "
                             "generator halves it twice; the 70x70 PatchGAN needs 32)")
    for name, value in (("blocks", blocks), ("width", width)):
        if value is not None:
            check_at_least(name, value, 1)


# The default training options: the paper's Adam 2e-4 / 0.5 and batch 1 on the least-squares loss, constant for
# half the run then linear to 0; 1,600 steps: 7 min 23 s for the whole command on the 2-core CPU, beside other
# (niced) jobs, for 20.2 / 24.6 dB PSNR against the true mapping where the identity baseline has 3.2 (see README).
DEFAULTS = dict(epochs=8, steps=200, batch_size=1, loss="least-squares", g_lr=2e-4, d_lr=2e-4, beta1=0.5,
                lr_decay_start=0.5)

DATA_HELP = ("'synthetic' (two rendered styles of the same kind of scenes, offline), a TensorFlow Datasets cycle_gan "
             "set in either direction (photos2monet, monet2photo, horse2zebra, zebra2horse, apple2orange, ...; "
             "optionally tfds:cycle_gan/NAME), a pix2pix set of side-by-side pairs (pix2pix:facades, pix2pix:maps, "
             "...), a folder with trainA/ and trainB/ (and optionally testA/ and testB/) or a folder of side-by-side "
             "A|B images (directly, or in train/ with test/ or val/).")

JITTER_HELP = "Resize to 286/256 of the size and crop back at random (mirroring is always on)."
JITTER_DEFAULT = "on for real data, off for synthetic"


@dataclass(frozen=True)
class Config:
    """What finds a run's data and rebuilds its networks and losses; saved in its config.json. `paired` picks
    pix2pix's networks and losses instead of CycleGAN's.

    `blocks`, `width` and `jitter` left at None are resolved when training starts (`app.prepare`): the paper's
    networks at 128 and 256 pixels (6 and 9 blocks, width 64), 3 blocks of width 16 below (paired: width 32, and
    no blocks); jitter on for real data, off for the synthetic scenes (already placed at random).
    """

    data: str | None = setting(DEFAULT_DATA, DATA_HELP)  # None: the domain folders
    paired: bool = setting(False, "pix2pix (Isola et al. 2017) instead of CycleGAN: learn from aligned pairs (the "
                           "synthetic scenes in both styles, side-by-side A|B images, or folders whose files have "
                           "the same names) with U-Net generators, critics that judge (input, output) and L1 to the "
                           "true output; --blocks, the cycle and identity weights and the pool do not apply.")
    domain_a: str | None = setting(None, "Folder of domain-A images (with --domain-b, instead of DATASET).",
                                   show_default=False)
    domain_b: str | None = setting(None, "Folder of domain-B images.", show_default=False)
    image_size: int = setting(IMAGE_SIZE, "Side of the square images (a multiple of 4, at least 32); images are "
                              "centre-cropped and resized.")
    blocks: int | None = setting(None, "Residual blocks of each generator (the paper: 6 at 128 px, 9 at 256).",
                                 show_default="9 at 256 px and above, 6 at 128, 3 below")
    width: int | None = setting(None, "Filters of the first generator and discriminator layers (the paper: 64).",
                                show_default="64 at 128 px and above; below, 16 (32 with --paired)")
    cycle_weight: float = setting(CYCLE_WEIGHT, "lambda of the cycle terms.")
    identity_weight: float = setting(IDENTITY_WEIGHT, "Weight of the identity terms (the paper: 0.5 lambda).")
    pool_size: int = setting(POOL_SIZE, "Generated images each discriminator keeps in its history (0: judge only "
                             "the current ones).")
    l1_weight: float = setting(L1_WEIGHT, "With --paired: weight of the L1 distance to the true output (the "
                               "pix2pix paper: 100).")
    jitter: bool | None = setting(None, JITTER_HELP, show_default=JITTER_DEFAULT)
    scenes: int = setting(SYNTHETIC_SCENES, "Synthetic training scenes per domain.")

    def __post_init__(self):
        check_shape(self.image_size, self.blocks, self.width)
        for name in ("cycle_weight", "identity_weight", "pool_size", "l1_weight"):
            check_at_least(name, getattr(self, name), 0)
        if self.paired and self.image_size & (self.image_size - 1):
            raise ParameterError("image_size", f"must be a power of two for the paired U-Net (it halves the "
                                 f"image down to 1x1), got {self.image_size}")
        check_at_least("scenes", self.scenes, 1)

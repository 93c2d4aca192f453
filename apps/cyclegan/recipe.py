"""The app's default recipe, importable without TensorFlow (so `--help` stays fast)."""

DEFAULT_DATA = "synthetic"
IMAGE_SIZE = 64  # the synthetic default; --image-size 128 or 256 picks the paper's networks
SYNTHETIC_SCENES = 1000  # training scenes per domain (different scenes in A and B: the pairing is never seen)
TEST_SCENES = 200  # held-out scenes rendered in both styles: the ground truth `evaluate` scores against

# The paper's loss weights (Zhu et al. 2017, section 7.1): lambda 10 on the cycle terms, 0.5 lambda on the
# identity terms; a history of 50 generated images per discriminator.
CYCLE_WEIGHT = 10.0
IDENTITY_WEIGHT = 5.0
POOL_SIZE = 50
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


def default_width(image_size: int) -> int:
    """Filters of the first generator and discriminator layers: the paper's 64 at 128 pixels and above, 16 below
    (per CPU second, 16 filters for 1,600 steps beat 32 for 800 on the synthetic pair: 20.2 against 19.1 dB)."""
    return 64 if image_size >= 128 else 16


# The default training options: the paper's Adam 2e-4 / 0.5 and batch 1 on the least-squares loss, constant for
# half the run then linear to 0; 1,600 steps: 7 min 23 s for the whole command on the 2-core CPU, beside other
# (niced) jobs, for 20.2 / 24.6 dB PSNR against the true mapping where the identity baseline has 3.2 (see README).
DEFAULTS = dict(epochs=8, steps=200, batch_size=1, loss="least-squares", g_lr=2e-4, d_lr=2e-4, beta1=0.5,
                lr_decay_start=0.5)

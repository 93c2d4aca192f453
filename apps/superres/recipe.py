"""The app's configuration and default recipe, importable without TensorFlow (so `--help` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ganapps.core.config import TrainOptions, setting
from ganapps.core.errors import check_at_least, check_choice

SCALES = (2, 3, 4)
STAGES = ("psnr", "gan")
CONTENT_LOSSES = ("vgg", "pixel")
DEGRADATIONS = ("bicubic", "realistic")
SHIPPED = "superres_x4"  # saved_models/<name>/1, what `evaluate` uses when no model is named
SHIPPED_REAL = "superres_x4_real"  # the same generator trained on L1 on realistic degradations
MODEL_NAMES = {"psnr": SHIPPED, "real": SHIPPED_REAL}  # short names of the shipped models
# What `upscale` uses when no model is named: photos carry blur, noise and JPEG that the psnr model, trained on
# clean bicubic inputs only, sharpens along with the detail (README, "The real-world model").
UPSCALE_MODEL = SHIPPED_REAL

# The shipped generators are a slim SRResNet (the paper's: 16 blocks of 64 filters), all at the low resolution
# with one sub-pixel output layer and a bicubic base (models.py): 14 blocks of 32 filters, 290k parameters (under
# the 300k of the lightweight tables), deep rather than wide, as VDSR and CARN found better at a given size; small
# enough to train on a 2-core CPU in an hour and to upscale a 12-megapixel photo there in minutes.
BLOCKS = 14
FILTERS = 32
LR_PATCH = 32  # low-resolution training patch side; the high-resolution patch is LR_PATCH * scale
TILE = 256  # low-resolution tile side for `upscale` (a tile's activations peak near 0.6 GB at x4)
TILE_OVERLAP = 40  # low-resolution pixels of context around each tile: a 14-block generator sees 34 each side

# SRGAN (Ledig et al. 2017): content loss on VGG19 feature maps plus 1e-3 x the adversarial term; the pixel
# (PSNR) stage trains the generator alone with an L1 loss (EDSR's choice: it converges faster than MSE).
ADVERSARIAL_WEIGHT = 1e-3
VGG_LAYER = "block5_conv4"  # the paper's VGG54
VGG_RESCALE = 1 / 12.75  # the paper's feature rescaling

DEFAULTS = {
    "psnr": dict(epochs=30, steps=1000, batch_size=16, g_lr=1e-3, d_lr=1e-4, beta1=0.9, beta2=0.999,
                 lr_decay_start=0.3, mixed_precision="auto"),
    "gan": dict(epochs=4, steps=250, batch_size=16, g_lr=1e-4, d_lr=1e-4, beta1=0.9, beta2=0.999,
                loss="non-saturating", mixed_precision="auto"),
}


@dataclass(frozen=True)
class Config:
    """What finds a run's data and rebuilds its networks and losses; saved in its config.json. `init` is read by
    `lab.train`, which starts the generator from that run's."""

    data: str | None = setting(None, "A folder of high-resolution images, or tfds:div2k (online).", short="-d",
                               show_default="../shared/data/sr/train (T91 + BSD200)")
    scale: int = setting(4, "Upscaling factor: 2, 3 or 4.")
    blocks: int = setting(BLOCKS, "Residual blocks (SRResNet: 16).")
    filters: int = setting(FILTERS, "Filters per convolution (SRResNet: 64).")
    patch: int = setting(LR_PATCH, "Low-resolution training patch side.")
    stage: str = setting("psnr", "psnr: the generator alone on an L1 pixel loss (SRResNet); gan: content + 1e-3 x "
                         "adversarial (SRGAN), best started with --init from a psnr run. Training flags left unset "
                         "take the stage's defaults.", choices=STAGES)
    init: str | None = setting(None, "A psnr run whose generator the gan stage starts from.", show_default=False)
    content: str = setting("vgg", "gan stage content loss: vgg (VGG19 block5_conv4 features, ImageNet weights "
                           "downloaded by Keras) or pixel (L1 on pixels, as the psnr stage and Real-ESRGAN's; offline).",
                           choices=CONTENT_LOSSES)
    vgg_weights: str | None = setting(None, "A local vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 "
                                      "(offline).", show_default=False)
    adversarial_weight: float = setting(ADVERSARIAL_WEIGHT, "Weight of the adversarial term in the gan stage.")
    d_width: int = setting(64, "Filters of the discriminator's first layer, doubling to 8x (SRGAN: 64).")
    degradation: str = setting("bicubic", "How training makes low-resolution inputs: bicubic (clean downscaling, "
                               "as the published tables) or realistic (Real-ESRGAN's blur, resize, noise and JPEG, "
                               "twice: for camera photos).", choices=DEGRADATIONS)

    def __post_init__(self):
        check_choice("scale", self.scale, SCALES)
        check_at_least("patch", self.patch, 8)
        check_at_least("d_width", self.d_width, 1)
        check_choice("stage", self.stage, STAGES)
        check_choice("content", self.content, CONTENT_LOSSES)
        check_choice("degradation", self.degradation, DEGRADATIONS)


def stage_options(stage: str, options: TrainOptions, given=()) -> TrainOptions:
    """`options` whose fields not named in `given` (the flags a user set) take the stage's recipe, its run
    directory included (`runs/superres` for psnr, `runs/superres-gan` for gan)."""
    recipe = {**DEFAULTS[stage], "out": Path("runs/superres" if stage == "psnr" else f"runs/superres-{stage}")}
    return replace(options, **{name: value for name, value in recipe.items() if name not in given})

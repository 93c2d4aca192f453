"""The app's default recipe, importable without TensorFlow (so `--help` stays fast)."""

SCALES = (2, 3, 4)
DEFAULT_SCALE = 4
STAGES = ("psnr", "gan")
DEFAULT_MODEL = "superres_x4"  # saved_models/<name>/1, used by `upscale` and `evaluate` when --model is not given

# The shipped generator is a slim SRResNet (the paper's: 16 blocks of 64 filters), all at the low resolution with
# one sub-pixel output layer and a bicubic base (models.py): small enough to train on a 2-core CPU in about half an
# hour and to upscale a 12-megapixel photo there in minutes.
BLOCKS = 8
FILTERS = 32
LR_PATCH = 32  # low-resolution training patch side; the high-resolution patch is LR_PATCH * scale
TILE = 256  # low-resolution tile side for `upscale` (a tile's activations peak near 0.6 GB at x4)
TILE_OVERLAP = 24  # low-resolution pixels of context around each tile: the 8-block generator sees 22 each side

# SRGAN (Ledig et al. 2017): content loss on VGG19 feature maps plus 1e-3 x the adversarial term; the pixel
# (PSNR) stage trains the generator alone with an L1 loss (EDSR's choice: it converges faster than MSE).
ADVERSARIAL_WEIGHT = 1e-3
VGG_LAYER = "block5_conv4"  # the paper's VGG54
VGG_RESCALE = 1 / 12.75  # the paper's feature rescaling

DEFAULTS = {
    "psnr": dict(epochs=10, steps=400, batch_size=16, g_lr=1e-3, d_lr=1e-4, beta1=0.9, beta2=0.999,
                 lr_decay_start=0.3),
    "gan": dict(epochs=4, steps=250, batch_size=16, g_lr=1e-4, d_lr=1e-4, beta1=0.9, beta2=0.999,
                loss="non-saturating"),
}

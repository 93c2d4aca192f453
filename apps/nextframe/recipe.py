"""The app's default recipe, importable without TensorFlow (so `--help` stays fast)."""

DEFAULT_DATA = "moving-mnist"
DEFAULT_DIGITS = "glyphs"
IMAGE_SIZE = 64
CONTEXT = 4  # past frames the generator sees
WIDTH = 16  # filters of the generator's and discriminator's first layers (the paper's nets: 128)
GENERATORS = ("multiscale", "convlstm")
SEQUENCES = 2000  # generated Moving MNIST training sequences (16 training pairs each with 4 context frames)
HORIZONS = 10  # evaluated prediction steps

# The paper's loss weights (Mathieu et al. 2016, section 4): lambda_adv 0.05, lambda_lp 1 with p = 1,
# lambda_gdl 1 with alpha = 1.
ADVERSARIAL_WEIGHT = 0.05
LP = 1
LP_WEIGHT = 1.0
GDL_WEIGHT = 1.0

# The default training options: 1,200 steps, about 10 minutes per model on two CPU cores shared with other work
# (600 s of CPU for the GAN, 430 s for the Lp-only model); see README for what they reach.
DEFAULTS = dict(epochs=8, steps=150, batch_size=16, loss="non-saturating", g_lr=1e-3, d_lr=2e-4, beta1=0.5)

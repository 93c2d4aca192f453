"""The app's default recipe, importable without TensorFlow (so `--help` stays fast)."""

DEFAULT_DATA = "moving-mnist"
DEFAULT_DIGITS = "glyphs"
IMAGE_SIZE = 64
CONTEXT = 4  # past frames the generator sees
WIDTH = 16  # filters of the generator's and discriminator's first layers (the paper's nets: 128)
GENERATORS = ("multiscale", "convlstm")
SEQUENCES = 2000  # generated Moving MNIST training sequences (16 training pairs each with 4 context frames)
HORIZONS = 10  # evaluated prediction steps
# Training roll-out: the generator predicts from the true context, then from its own predictions fed back, for
# ROLLOUT steps, each scored against its true frame (1: one-step training, whose roll-outs fade).
ROLLOUT = 3

# The paper's loss weights (Mathieu et al. 2016, section 4): lambda_adv 0.05, lambda_lp 1 with p = 1,
# lambda_gdl 1 with alpha = 1.
ADVERSARIAL_WEIGHT = 0.05
LP = 1
LP_WEIGHT = 1.0
GDL_WEIGHT = 1.0

# The default training options: 800 steps of batch 8, each rolled out ROLLOUT steps (24 judged frames a step), the
# learning rates decaying linearly to 0 over the second half; see README for the time taken and what it reaches.
DEFAULTS = dict(epochs=8, steps=100, batch_size=8, loss="non-saturating", g_lr=1e-3, d_lr=2e-4, beta1=0.5,
                lr_decay_start=0.5)

"""The app's default recipe, importable without TensorFlow (so `--help` stays fast)."""

DEFAULT_DATA = "glyphs"
IMAGE_SIZE = 32
LATENT_DIM = 100
WIDTH = 32
GRID_SAMPLES = 64  # the fixed latents of the per-epoch sample grid

# The default training options: recognisable digits in about five minutes on two CPU cores (see README).
# Steps cost nearly as much at batch 32 as at 64 on CPU (fixed per-step overhead), and batch 32 with twice the
# paper's learning rate reached a given FID in the least time.
DEFAULTS = dict(epochs=6, steps=300, batch_size=32, loss="non-saturating", g_lr=4e-4, d_lr=4e-4, beta1=0.5)

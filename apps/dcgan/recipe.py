"""The app's default recipe, importable without TensorFlow (so `--help` stays fast)."""

DEFAULT_DATA = "glyphs"
IMAGE_SIZE = 32
LATENT_DIM = 100
WIDTH = 32
GRID_SAMPLES = 64  # the fixed latents of the per-epoch sample grid

# The default training options: about five minutes on two CPU cores for recognisable digits (see README).
DEFAULTS = dict(epochs=6, steps=300, batch_size=64, loss="non-saturating", g_lr=2e-4, d_lr=2e-4, beta1=0.5)

"""The lab's default recipe and the published rows it is compared with (no TensorFlow import)."""

EVAL_SAMPLES = 2500
TRAIN_POINTS = 100_000

# The default training options; README.md gives this recipe's benchmark table.
DEFAULTS = dict(
    epochs=4, steps=500, batch_size=256, loss="non-saturating", pack=2, ema=0.999,
    g_lr=1e-3, d_lr=1e-3, beta1=0.5, beta2=0.99,
)

# PacGAN (Lin et al. 2018), Table 1, 10 trials: (method, modes, high-quality %).
PUBLISHED = {
    "grid": [("GAN", 17.3, 94.8), ("ALI", 24.1, 95.7), ("PacGAN4", 24.8, 93.6)],
    "ring": [("GAN", 6.3, 98.2), ("PacGAN2", 7.9, 95.6)],
}

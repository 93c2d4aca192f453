"""The app's names and default recipe, importable without TensorFlow (so `--help` stays fast)."""

CONDITIONS = ("label", "metadata", "text", "image+metadata")
DISCRIMINATORS = ("concat", "projection", "acgan")
DEFAULT_DATA = "glyphs"
IMAGE_SIZE = 32
LATENT_DIM = 64
WIDTH = 32
EMBED_DIM = 64  # the condition's embedding, concatenated to the latent
TEXT_LENGTH = 16  # tokens kept per caption
TEXT_VOCABULARY = 200  # the most frequent caption words (more than the embedded captions use)
AUX_WEIGHT = 1.0  # auxiliary classifier / metadata regressor term (AC-GAN) on both networks
TEXT_ENCODERS = ("joint", "bag-of-words")  # or a .keras file: see lab.Config.text_encoder
CAPTION_DIM = 64  # the joint caption-image embedding (text, joint encoder)
CAPTION_STEPS = 1500  # its contrastive training steps (batch 128) before the GAN
# text, joint encoder: AttnGAN's DAMSM-like term through the frozen image tower. After 10 epochs: digit accuracy
# 0.47 at weight 1, 0.80 at 5 (0.93 after 20), 0.87 at 15 but fewer images per caption (see README).
MATCH_WEIGHT = 5.0
MISMATCH_WEIGHT = 1.0  # text: real image with another caption counts as fake (Reed et al.'s matching-aware D)
L1_WEIGHT = 20.0  # image+metadata: L1 to the true redrawing, beside the adversarial term
DIVERSITY_WEIGHT = 0.1  # mode seeking: keeps the generator from drawing one image per condition
GRID_SAMPLES = 100  # per-epoch sample grid: 10 rows of 10

# The embedded procedural set: a digit glyph per image with a pose, a size, a position and a colour.
# (name, low, high, unit): the ranges every rendering is drawn from; hue is one of six colour bands.
ATTRIBUTES = (
    ("angle", -45.0, 45.0, "degrees anticlockwise"),
    ("scale", 0.55, 1.0, "of the full glyph size"),
    ("x", -3.0, 3.0, "pixels right of centre"),
    ("y", -3.0, 3.0, "pixels below centre"),
    ("hue", -15.0, 315.0, "degrees (red 0, yellow 60, green 120, cyan 180, blue 240, magenta 300)"),
)
COLOURS = ("red", "yellow", "green", "cyan", "blue", "magenta")  # hue 60 * index, +- 15 degrees
IMAGE_ATTRIBUTES = ("angle", "scale")  # what image+metadata redraws; the rest of the original is kept

# Default training options, every condition: 12,000 steps, about 20 minutes on two free CPU cores (see README).
# The embedded glyphs need them: label accuracy 0.53 / 0.81 / 0.89 / 0.95 / 0.97 after 6 / 12 / 20 / 30 / 40 epochs,
# sampled from the EMA generator (the raw one: 0.94 after 40).
DEFAULTS = dict(epochs=40, steps=300, batch_size=32, loss="non-saturating", g_lr=2e-4, d_lr=2e-4, beta1=0.5,
                ema=0.999)

# Semi-supervised learning (Salimans et al. 2016, MNIST): the labelled images per class and the budget.
SEMISUP_LABELS = 100
# 10,000 updates: on the MNIST 5k file the GAN's test errors stay near the supervised-only classifier's for the
# first 2,000 (215 vs 243) and fall to 111 vs 217 by 10,000 (see README). A slower discriminator (3e-4) and
# generator (1e-3) than the paper's 3e-3 for both.
SEMISUP_DEFAULTS = dict(epochs=50, steps=200, batch_size=100, loss="non-saturating", g_lr=1e-3, d_lr=3e-4,
                        beta1=0.5, feature_matching=1.0)

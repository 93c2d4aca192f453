"""The app's configuration, names and default recipe, importable without TensorFlow (so `--help` stays fast)."""

from dataclasses import dataclass

from ganapps.core.config import setting
from ganapps.core.errors import ParameterError, check_at_least, check_choice

CONDITIONS = ("label", "metadata", "text", "image+metadata")
DISCRIMINATORS = ("concat", "projection", "acgan")
DEFAULT_DATA = "glyphs"
SHIPPED = "cgan_label"  # saved_models/<name>/1: the default recipe, what `generate` and `evaluate` open
SHIPPED_TEXT = "cgan_text"  # `cgan train --condition text`: what `generate --text` opens when no model is named
IMAGE_SIZES = (16, 32, 64)
EMBED_DIM = 64  # the condition's embedding, concatenated to the latent
TEXT_LENGTH = 16  # tokens kept per caption
TEXT_VOCABULARY = 200  # the most frequent caption words (more than the embedded captions use)
TEXT_ENCODERS = ("joint", "bag-of-words")  # or a .keras file: see Config.text_encoder
CAPTION_DIM = 64  # the joint caption-image embedding (text, joint encoder)
CAPTION_STEPS = 1500  # its contrastive training steps (batch 128) before the GAN
MISMATCH_WEIGHT = 1.0  # text: real image with another caption counts as fake (Reed et al.'s matching-aware D)
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
SEMISUP_NETWORKS = ("mlp", "conv")

_DATA = ("'glyphs' (embedded: rendered digits with label, angle, scale, position, colour and caption; offline), "
         "an MNIST CSV file (784 pixels then the label per row, e.g. ../shared/data/mnist/mnist_5k.csv.gz), "
         "tfds:NAME (mnist, fashion_mnist), or a folder with labels.csv (file, label, numeric metadata columns) "
         "or captions.jsonl. A fixed fifth is held out for `evaluate`.")
_FITTED = "Read from the training data when training starts."
_CLASS_FRACTION = ("Keep only a share of some classes' training images, as CLASS=FRACTION pairs (class name or "
                   "index, fraction in (0, 1]), e.g. 3=0.05,8=0.05: an imbalanced training set for `cgan augment "
                   "--balance`. Which images stay is drawn from --seed and the class; the held-out fifth stays "
                   "whole.")


@dataclass(frozen=True)
class Config:
    """What rebuilds a run's networks and finds its data; saved in its config.json and beside its export.

    The last seven fields are read from the data when training starts (`app.prepare`).
    """

    condition: str = setting("label", "What the generator is given: a label, a metadata vector, a caption, or an "
                             "original image and target metadata.", choices=CONDITIONS, short="-c")
    data: str = setting(DEFAULT_DATA, _DATA, short="-d")
    image_size: int = setting(32, "16, 32 or 64; data is centre-cropped and resized (28x28 MNIST becomes 32x32).")
    channels: int | None = setting(None, "1 or 3.", show_default="1 for grey data, else 3")
    latent_dim: int = setting(64, "Size of the noise vector z.")
    width: int = setting(32, "Filters of the generator's last and the discriminator's first layer, doubling per "
                         "stage.")
    discriminator: str = setting(
        "projection", "projection: the condition's embedding dotted with the image features (Miyato and Koyama "
        "2018); concat: the embedding appended to the image as feature maps (Mirza and Osindero 2014); acgan: an "
        "unconditional logit and an auxiliary head (Odena et al. 2017).", choices=DISCRIMINATORS)
    aux_weight: float = setting(1.0, "Weight of the auxiliary head that classifies the label, regresses the "
                                "metadata or predicts the caption's words, on real images for the discriminator "
                                "and on its own samples for the generator; 0 drops the head (acgan keeps it; none "
                                "with --text-encoder).")
    mismatch_weight: float | None = setting(None, "A real image with another example's condition counts as fake "
                                            "(Reed et al.'s matching-aware discriminator).",
                                            show_default=f"{MISMATCH_WEIGHT:g} for text, else 0")
    l1_weight: float = setting(20.0, "image+metadata: weight of the L1 distance to the true redrawing.")
    text_encoder: str = setting(
        "joint", "text: joint, a caption encoder fitted with an image encoder on the training pairs before the GAN "
        "(contrastive, as Reed et al. 2016 and CLIP), then frozen; bag-of-words, a word-embedding encoder trained "
        "with the GAN; or a .keras model mapping strings [N] to vectors [N, D] (e.g. a pretrained sentence "
        "encoder), frozen.")
    # After 10 epochs: digit accuracy 0.47 at weight 1, 0.80 at 5 (0.93 after 20), 0.87 at 15 but fewer images per
    # caption (see README).
    match_weight: float = setting(5.0, "text, joint encoder: weight of the term that asks the frozen image encoder "
                                  "to read each sample as its own caption (AttnGAN's DAMSM loss, in cosine form).")
    caption_steps: int = setting(CAPTION_STEPS, "text, joint encoder: training steps of the caption embedding "
                                 "(batch 128) before the GAN.")
    conditional_norm: bool = setting(True, "The condition sets the scale and shift of the generator's batch norms.",
                                     flag=False)
    diversity_weight: float = setting(0.1, "Mode seeking (Mao et al. 2019): keeps the generator from drawing one "
                                      "image per condition (not image+metadata, which has no noise).")
    class_fraction: tuple[str, ...] = setting((), _CLASS_FRACTION, show_default="every image of every class")
    balance_classes: bool = setting(False, "Draw every class equally often in training: each class's images are "
                                    "repeated up to the largest class's count (for an imbalanced set, e.g. one cut "
                                    "by --class-fraction, before `cgan augment --balance`).")
    class_names: tuple[str, ...] = setting((), _FITTED, flag=False)
    class_counts: tuple[int, ...] = setting((), _FITTED + " Training images per class, after class_fraction.",
                                            flag=False)
    attributes: tuple[str, ...] = setting((), _FITTED, flag=False)
    ranges: tuple[tuple[float, float], ...] = setting((), _FITTED, flag=False)
    vocabulary: tuple[str, ...] = setting((), _FITTED, flag=False)
    text_dim: int = setting(0, _FITTED + " A pretrained text encoder's vector size.", flag=False)
    caption_dim: int = setting(0, _FITTED + " The joint caption embedding's size.", flag=False)

    def __post_init__(self):
        check_choice("condition", self.condition, CONDITIONS)
        check_choice("discriminator", self.discriminator, DISCRIMINATORS)
        check_choice("image_size", self.image_size, IMAGE_SIZES)
        if self.channels is not None:
            check_choice("channels", self.channels, (1, 3))
        check_at_least("caption_steps", self.caption_steps, 1)
        object.__setattr__(self, "class_fraction", tuple(f"{k}={v!r}" for k, v in
                                                         parse_class_fraction(self.class_fraction).items()))
        object.__setattr__(self, "class_counts", tuple(int(n) for n in self.class_counts))
        # config.json holds lists: kept as tuples, so that configs compare and hash
        object.__setattr__(self, "ranges", tuple(tuple(float(v) for v in r) for r in self.ranges))


def parse_class_fraction(pairs: tuple[str, ...]) -> dict[str, float]:
    """`("3=0.05", "8=0.05")` as {"3": 0.05, "8": 0.05}; one-line errors naming the parameter. Whether a class
    exists is checked against the data (`data.cut`)."""
    fractions = {}
    for pair in pairs:
        name, _, value = (part.strip() for part in str(pair).partition("="))
        if not name or not value:
            raise ParameterError("class_fraction", f"{pair!r}: expected CLASS=FRACTION pairs, e.g. 3=0.05,8=0.05")
        try:
            fraction = float(value)
        except ValueError:
            raise ParameterError("class_fraction", f"{name}={value!r}: the fraction is not a number") from None
        if not 0.0 < fraction <= 1.0:  # nan fails too
            raise ParameterError("class_fraction", f"{name}={value}: the fraction must be in (0, 1]")
        if name in fractions:
            raise ParameterError("class_fraction", f"names class {name} twice")
        fractions[name] = fraction
    return fractions


@dataclass(frozen=True)
class SemisupConfig:
    """The semi-supervised experiment: which labelled digits, how many labels, which discriminator network."""

    labels: int = setting(SEMISUP_LABELS, "Labelled training images, the same number per class; the rest of the "
                          "training split is used without labels.")
    data: str = setting(DEFAULT_DATA, "Labelled digits: 'glyphs', an MNIST CSV file (e.g. "
                        "../shared/data/mnist/mnist_5k.csv.gz) or tfds:NAME. A fixed fifth is the test split.",
                        short="-d")
    network: str = setting("mlp", "The discriminator (and baseline classifier): mlp, the paper's MNIST network; "
                           "conv, a small convolutional one.", choices=SEMISUP_NETWORKS)
    baseline_epochs: int | None = setting(None, "Epochs of the supervised-only classifier over the labelled images.",
                                          show_default="as many updates as the GAN's")
    classes: int = setting(0, "Read from the data when training starts.", flag=False)

    def __post_init__(self):
        check_choice("network", self.network, SEMISUP_NETWORKS)

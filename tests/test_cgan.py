"""The cgan app: the procedural data set, condition parsing, every conditioning path's networks and train step,
the independent judge, export round trips with the condition as input, semisup, class cuts and augment, and one-line
errors."""

import csv
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_helpers import invoke, main_error, run_in_fresh_process
from ganapps.apps.cgan import data as D
from ganapps.apps.cgan import evaluators as E
from ganapps.apps.cgan import captions, conditions, lab, models, semisup
from ganapps.apps.cgan.app import dataset
from PIL import Image

from ganapps.core import losses as L
from ganapps.core import runs
from ganapps.core.errors import GanappsError, ParameterError
from ganapps.core.export import ServingFunction

TINY = dict(latent_dim=8, width=4)
TINY_OPTIONS = dict(epochs=1, steps=2, batch_size=8, verbose=0)


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """Judges are trained in a cache of this module's own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


# ---------------------------------------------------------------------------------------------------- data


def test_scenes_carry_their_attributes_and_captions():
    scenes = D.render_scenes(300, seed=3)
    assert scenes.images.shape == (300, 32, 32, 3) and scenes.images.dtype == np.uint8
    assert np.array_equal(np.bincount(scenes.labels), np.full(10, 30))
    ranges = D.attribute_ranges()
    assert np.all(scenes.metadata >= ranges[:, 0]) and np.all(scenes.metadata <= ranges[:, 1])
    for text, digit, colour in zip(scenes.captions, scenes.labels, scenes.colours):
        words = text.replace(",", "").split()
        assert D.COLOURS[colour] in words and (str(digit) in words or D.DIGIT_WORDS[digit] in words), text
    # The pixels have the colour the caption names: the brightest pixel's hue is within 15 degrees of it.
    for image, hue, colour in zip(scenes.images[:20], scenes.metadata[:20, 4], scenes.colours[:20]):
        pixel = image.reshape(-1, 3)[image.reshape(-1, 3).sum(1).argmax()] / 255.0
        import colorsys

        seen = colorsys.rgb_to_hsv(*pixel)[0] * 360.0
        assert abs((seen - 60 * colour + 180) % 360 - 180) <= 16, (seen, hue)
    again = D.render_scenes.__wrapped__(300, 3)
    assert np.array_equal(scenes.images, again.images) and list(scenes.captions) == list(again.captions)


def test_angles_turn_anticlockwise_and_scale_shrinks():
    upright = D.draw(1, 1, 0.0, 1.0, 0.0, 0.0, 0.0)[..., 0]
    turned = D.draw(1, 1, 30.0, 1.0, 0.0, 0.0, 0.0)[..., 0]
    ys, xs = np.nonzero(turned > 128)
    top, bottom = xs[ys < ys.mean()].mean(), xs[ys > ys.mean()].mean()
    assert top < bottom - 2  # anticlockwise: the top of the 1 leans left
    small = D.draw(1, 1, 0.0, 0.55, 0.0, 0.0, 0.0)[..., 0]
    assert 0.2 < (small > 128).sum() / (upright > 128).sum() < 0.45  # area goes with scale squared (0.30)
    shifted = D.draw(1, 1, 0.0, 1.0, 3.0, 0.0, 0.0)[..., 0]
    assert np.nonzero(shifted > 128)[1].mean() - np.nonzero(upright > 128)[1].mean() == pytest.approx(3, abs=0.5)
    assert D.pose_words(31) == "rotated 30 degrees left" and D.pose_words(-2) == "upright"


def test_pairs_redraw_the_same_glyph_in_another_pose():
    pairs = D.render_pairs(40, seed=1)
    assert pairs.originals.shape == pairs.images.shape == (40, 32, 32, 3)
    assert pairs.attributes == ("angle", "scale") and pairs.metadata.shape == (40, 2)
    assert not np.allclose(pairs.metadata, pairs.original_metadata)
    # Same colour: the mean colour of lit pixels agrees.
    for original, image in zip(pairs.originals[:10], pairs.images[:10]):
        a = original.reshape(-1, 3)[original.max(-1).ravel() > 200].mean(0)
        b = image.reshape(-1, 3)[image.max(-1).ravel() > 200].mean(0)
        np.testing.assert_allclose(a, b, atol=40)


def test_split_is_fixed_and_disjoint():
    examples = D.render_scenes(500, 0)
    train, held_out = D.split(examples)
    assert (len(train), len(held_out)) == (400, 100)
    again, _ = D.split(examples)
    assert np.array_equal(train.labels, again.labels)
    rows = {image.tobytes() for image in train.images}
    assert not any(image.tobytes() in rows for image in held_out.images)


def write_folder(folder: Path, rows: list[str], header: str = "file,label,angle", count: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        Image.fromarray(np.full((20 + k, 24, 3), 30 * k, np.uint8)).save(folder / f"img{k}.png")
    (folder / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def test_folders_with_labels_csv_and_captions_jsonl(tmp_path):
    folder = write_folder(tmp_path / "named", ["img0.png,cat,10", "img1.png,dog,20", "img2.png,cat,-5",
                                                 "img3.png,dog,0"])
    examples = D.load(str(folder), 16)
    assert examples.images.shape == (4, 16, 16, 1) and examples.class_names == ("cat", "dog")  # grey stays grey
    assert list(examples.labels) == [0, 1, 0, 1] and examples.attributes == ("angle",)
    np.testing.assert_allclose(examples.metadata[:, 0], [10, 20, -5, 0])
    captions = tmp_path / "captions"
    write_folder(captions, [])
    (captions / "labels.csv").unlink()
    (captions / "captions.jsonl").write_text('{"file": "img0.png", "caption": "a dark square"}\n\n'
                                             '{"file": "img1.png", "caption": "a grey square"}\n')
    assert list(D.load(str(captions), 16).captions) == ["a dark square", "a grey square"]


@pytest.mark.parametrize("rows, header, message", [
    (["img0.png,3,abc"], "file,label,angle", r"line 2: metadata columns \(angle\) must be numbers"),
    (["missing.png,3,1"], "file,label,angle", r"line 2: no image file .*missing.png"),
    (["img0.png,3"], "name,label", "a 'file' column"),
    (["img0.png,,1"], "file,label,angle", "line 2: empty label"),
])
def test_bad_labels_csv_is_one_line(tmp_path, rows, header, message):
    folder = write_folder(tmp_path / "bad", rows, header)
    with pytest.raises(GanappsError, match=message):
        D.load(str(folder))


def test_bad_captions_and_missing_tables(tmp_path):
    folder = write_folder(tmp_path / "bad", [])
    (folder / "labels.csv").unlink()
    with pytest.raises(GanappsError, match="expected labels.csv .* or captions.jsonl"):
        D.load(str(folder))
    (folder / "captions.jsonl").write_text('{"file": "img0.png"}\n')
    with pytest.raises(GanappsError, match="line 1: expected a JSON object with 'file' and 'caption'"):
        D.load(str(folder))
    (folder / "captions.jsonl").write_text('{"file": "img0.png", "caption": "  "}\n')
    with pytest.raises(GanappsError, match="line 1: empty caption"):
        D.load(str(folder))
    with pytest.raises(GanappsError, match="no such folder, MNIST CSV file"):
        D.load(str(tmp_path / "nowhere"))
    with pytest.raises(GanappsError, match="rendered pairs of the embedded set"):
        D.load(str(folder), pairs=True)


def test_mnist_csv(shared_data):
    examples = D.load(str(shared_data / "mnist" / "mnist_5k.csv.gz"), 32)
    assert examples.images.shape == (5000, 32, 32, 1) and examples.classes == 10
    assert np.array_equal(np.bincount(examples.labels), np.full(10, 500))
    train, test = D.split(examples)
    assert (len(train), len(test)) == (4000, 1000)


# ---------------------------------------------------------------------------------------------------- conditions


def test_metadata_parsing_and_one_line_errors():
    attributes = conditions.of(lab.Config(condition="metadata", attributes=("angle", "scale"),
                                          ranges=((-45, 45), (0.55, 1.0))))
    assert attributes.parse("angle=30, scale=0.8") == {"angle": 30.0, "scale": 0.8}
    vectors, words = attributes.vectors("angle=30", 50, seed=1)
    assert np.all(vectors[:, 0] == 30) and 0.55 <= vectors[:, 1].min() and vectors[:, 1].max() <= 1.0
    assert len(np.unique(vectors[:, 1])) == 50 and words[0].startswith("angle=30, scale=0.")
    for text, message in [("angle", "expected NAME=VALUE pairs"), ("tilt=3", "unknown attribute 'tilt'"),
                          ("angle=abc", "angle='abc' is not a number"), ("angle=90", "outside the range"),
                          ("scale=nan", "outside the range"), (",", "no NAME=VALUE pairs")]:
        with pytest.raises(ParameterError, match=message) as caught:
            attributes.parse(text)
        assert "\n" not in str(caught.value) and caught.value.parameter == "metadata"
    digits, pets = (conditions.of(lab.Config(class_names=names)) for names in (tuple("0123456789"), ("cat", "dog")))
    assert digits.check("7") == 7 and pets.check("dog") == 1
    with pytest.raises(ParameterError, match=r"^label '12': unknown label; this model knows 0-9"):
        digits.check(12)
    with pytest.raises(GanappsError, match="this model knows cat, dog"):
        pets.check("bird")
    with pytest.raises(ParameterError, match="^text is an empty caption"):
        conditions.of(lab.Config(condition="text")).draw(None, 1, 0, "   ")


# ---------------------------------------------------------------------------------------------------- networks


def tiny_gan(condition: str, discriminator: str = "projection", **config):
    """A compiled tiny GAN for `condition`, its fitted config, and 8 examples."""
    examples = lab.load_examples(lab.Config(condition=condition, channels=3))
    cfg = conditions.of(lab.Config(condition=condition, channels=3, discriminator=discriminator, **TINY, **config)
                        ).fit(examples.subset(np.arange(200)))
    gan = lab.build(cfg, lab.APP.options(**TINY_OPTIONS))
    return gan, cfg, examples.subset(np.arange(8))


def batch_of(cfg: lab.Config, examples: D.Examples):
    """A training batch as the dataset gives it: images in [-1, 1] and the condition as the GAN reads it."""
    condition = conditions.of(cfg)
    columns = [tf.constant(column) for column in condition.columns(examples)]
    return tf.constant(lab.to_float(examples.images)), condition.batch(*columns)


@pytest.mark.parametrize("condition, discriminator, aux_weight, terms", [
    ("label", "projection", 1.0, ["d_aux", "g_aux", "mode_seeking"]),
    ("label", "concat", 0.0, ["mode_seeking"]),
    ("label", "acgan", 1.0, ["d_aux", "g_aux"]),
    ("metadata", "projection", 1.0, ["d_aux", "g_aux", "mode_seeking"]),
    ("text", "projection", 1.0, ["mismatch", "d_aux", "g_aux", "mode_seeking", "match"]),
    ("text", "projection", 0.0, ["mismatch", "mode_seeking", "match"]),
    ("text", "bag-of-words", 1.0, ["mismatch", "d_aux", "g_aux", "mode_seeking"]),
    ("image+metadata", "projection", 1.0, ["l1", "d_aux", "g_aux"]),
])
def test_every_conditioning_path_trains_a_step(condition, discriminator, aux_weight, terms):
    encoder = {"text_encoder": discriminator} if discriminator == "bag-of-words" else {}
    discriminator = "projection" if encoder else discriminator
    gan, cfg, examples = tiny_gan(condition, discriminator, aux_weight=aux_weight, **encoder)
    images, condition_batch = batch_of(cfg, examples)
    fake = gan.generate(gan.unpack_batch((images, condition_batch)), training=False)
    assert fake.shape == (8, 32, 32, 3)
    before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    logs = {k: float(v) for k, v in gan.train_step((images, condition_batch)).items()}
    for name in ["d_adv", "g_adv", *terms]:
        assert np.isfinite(logs[name]) and name in gan.metric_names(), name
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(before, gan.generator.trainable_weights))
    out = gan.discriminator([images, *tf.nest.flatten(condition_batch)])
    assert out["logit"].shape == (8, 1)
    if "d_aux" in terms:
        words = len(cfg.vocabulary) + 2
        assert out["aux"].shape == (8, {"label": 10, "metadata": 5, "text": words, "image+metadata": 2}[condition])
    else:
        assert "aux" not in out and "d_aux" not in gan.metric_names()
    assert ("match" in gan.metric_names()) == ("match" in terms)


def test_the_condition_changes_the_sample():
    gan, cfg, _ = tiny_gan("label")
    z = np.random.default_rng(0).standard_normal((2, cfg.latent_dim)).astype(np.float32)
    a = gan.generator([np.repeat(z[:1], 2, 0), np.array([3, 7], np.int32)], training=False)
    assert not np.allclose(a[0], a[1])  # same noise, other label


def test_text_aux_term_is_the_cross_entropy_of_the_caption_words():
    gan, cfg, examples = tiny_gan("text")
    images, condition = batch_of(cfg, examples)
    batch = gan.unpack_batch((images, condition))
    judged = gan.discriminate(images, batch)  # the step's judgement of the real batch, whose aux head the term reads
    logits = judged.heads["aux"].numpy()
    ids, expected = condition.numpy(), []
    for row, caption, ids_row in zip(logits, examples.captions, ids):
        words = {cfg.vocabulary.index(w) + 2 for w in str(caption).lower().replace(",", "").split()}
        assert words == set(ids_row[ids_row > 1].tolist())  # every word of the caption is in the vocabulary
        target = np.zeros(len(cfg.vocabulary) + 2)
        target[list(words)] = 1.0
        p = 1.0 / (1.0 + np.exp(-row[2:]))
        expected.append(-np.sum(target[2:] * np.log(p) + (1 - target[2:]) * np.log(1 - p)))
    term = gan.discriminator_extra_losses(batch, None, judged, None)["d_aux"]
    assert float(term) == pytest.approx(cfg.aux_weight * np.mean(expected), rel=1e-4)


def test_acgan_refuses_encoder_vectors_and_pack_is_refused():
    with pytest.raises(ParameterError, match="^discriminator acgan: .*no words to predict"):
        conditions.of(lab.Config(condition="text", text_encoder="encoder.keras", text_dim=10, discriminator="acgan"))
    condition = conditions.of(lab.Config(class_names=tuple("0123456789"), **TINY))
    g, d = models.generator(condition), models.discriminator(condition)
    with pytest.raises(ParameterError, match="^pack must be 1"):
        models.ConditionalGAN(g, d, condition, pack=2)
    with pytest.raises(ParameterError, match="^condition 'pose'"):
        lab.Config(condition="pose")


def test_mismatch_term_is_the_loss_of_real_images_under_their_neighbours_conditions():
    gan, cfg, examples = tiny_gan("text")
    images, condition = batch_of(cfg, examples)
    batch = gan.unpack_batch((images, condition))
    real = gan.discriminate(images, batch, training=False)
    terms = gan.discriminator_extra_losses(batch, None, real, None)
    lent = [k + 1 if k % 2 == 0 else k - 1 for k in range(len(images))]  # 0 <-> 1, 2 <-> 3: pairs a split keeps
    if len(images) % 2:
        lent[-1] = len(images) - 2
    swapped = gan.discriminator([images, tf.gather(condition, lent)], training=True)["logit"]  # as in the step
    expected = np.mean(np.log1p(np.exp(-real.logits.numpy()))) + np.mean(np.log1p(np.exp(swapped.numpy())))
    assert float(terms["mismatch"]) == pytest.approx(expected, rel=1e-4)


# ---------------------------------------------------------------------------------------------------- captions


def test_the_contrastive_loss_is_the_symmetric_cross_entropy_over_the_batch():
    rng = np.random.default_rng(0)
    images, texts = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 4)).astype(np.float32)
    loss = float(captions.JointEmbedding(None, None, temperature=0.1).compute_loss(y_pred=(images, texts)))
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)
    logits = unit(images) @ unit(texts).T / 0.1  # cosines over the temperature
    rows = -np.mean(np.diag(logits) - np.log(np.exp(logits).sum(axis=1)))
    columns = -np.mean(np.diag(logits) - np.log(np.exp(logits).sum(axis=0)))
    assert loss == pytest.approx((rows + columns) / 2, rel=1e-5)


def test_the_joint_embedding_ties_captions_to_what_images_show():
    scenes = D.render_scenes(2000, seed=4)
    train, test = scenes.subset(np.arange(1600)), scenes.subset(np.arange(1600, 2000))
    text = conditions.of(conditions.of(lab.Config(condition="text", channels=3)).fit(train))
    cfg = text.config
    assert cfg.caption_dim == captions.CAPTION_DIM and cfg.text_dim == 0
    towers = captions.fit(train.images, text.tokens(train.captions), len(cfg.vocabulary) + 2, steps=250,
                          batch_size=32)
    # Images the towers never saw are nearest their own caption among 10 far more often than chance (0.1).
    read = towers.images.predict(lab.to_float(test.images), verbose=0)
    named = towers.captions.predict(text.tokens(test.captions), verbose=0)
    unseen = captions.retrieval_accuracy(read, named)
    assert unseen > 0.5 and towers.retrieval > 0.5, (unseen, towers.retrieval)
    vectors = towers.captions.predict(text.tokens(["a red 7", "a red seven", "a red 1", "a blue 7"]), verbose=0)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), np.sqrt(captions.CAPTION_DIM), rtol=1e-5)
    cosine = vectors @ vectors.T / captions.CAPTION_DIM
    assert cosine[0, 1] > max(cosine[0, 2], cosine[0, 3]) + 0.1  # "7" and "seven" mean the same digit


def test_the_fitted_towers_sit_frozen_inside_the_gan_and_the_match_term_is_their_cosine():
    gan, cfg, examples = tiny_gan("text")
    towers = captions.Towers(captions.caption_tower(len(cfg.vocabulary) + 2), captions.image_tower((32, 32, 3)),
                             retrieval=0.5)
    gan = lab.build(cfg, lab.APP.options(**TINY_OPTIONS), towers)
    inside = [gan.generator.get_layer("g_captions"), gan.discriminator.get_layer("d_captions"), gan.matcher]
    for layer, tower in zip(inside, (towers.captions, towers.captions, towers.images)):
        assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), tower.get_weights()))
    frozen = {id(v) for layer in inside for v in layer.weights}
    trained = gan.generator.trainable_variables + gan.discriminator.trainable_variables
    assert frozen and not frozen & {id(v) for v in trained}
    images, condition = batch_of(cfg, examples)
    batch = gan.unpack_batch((images, condition))
    fake = tf.constant(np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32))
    read = towers.images.predict(fake.numpy(), verbose=0)
    wanted = towers.captions.predict(condition.numpy(), verbose=0)
    cosine = np.sum(read * wanted, axis=1) / np.linalg.norm(read, axis=1) / np.linalg.norm(wanted, axis=1)
    term = gan.generator_extra_losses(batch, fake, gan.discriminate(fake, batch), training=False)["match"]
    assert float(term) == pytest.approx(cfg.match_weight * np.mean(1 - cosine), rel=1e-4)
    before = [w.copy() for layer in inside for w in layer.get_weights()]
    gan.train_step((images, condition))
    assert all(np.array_equal(a, b) for a, b in zip(before, [w for layer in inside for w in layer.get_weights()]))


TINY_TEXT = lab.Config(condition="text", caption_steps=5, **TINY)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> lab.CganRun:
    """One tiny text run (the joint embedding fitted for 5 steps), shared: each fit and trace costs a minute on CI."""
    return lab.train(TINY_TEXT, lab.APP.options(out=tmp_path_factory.mktemp("cgan") / "text", **TINY_OPTIONS),
                     progress=False)


def test_a_text_run_fits_its_embedding_once_and_its_checkpoint_carries_it(text_run, tmp_path, monkeypatch):
    run = text_run
    assert 0.0 <= run.towers.retrieval <= 1.0
    tower = run.result.gan.generator.get_layer("g_captions").get_weights()
    restored = runs.load(lab.APP, run.result.run_dir)
    for network, prefix in ((restored.generator, "g"), (restored.ema_generator, "g"), (restored.discriminator, "d")):
        assert all(np.array_equal(a, b) for a, b in zip(network.get_layer(f"{prefix}_captions").get_weights(), tower))
    assert all(np.array_equal(a, b) for a, b in zip(restored.matcher.get_weights(), run.result.gan.matcher.get_weights()))

    def refit(*args, **kwargs):
        raise AssertionError("a resumed run refitted its caption embedding")

    monkeypatch.setattr(lab, "fit_caption_embedding", refit)
    copy = shutil.copytree(run.result.run_dir, tmp_path / "text")  # the shared run stays as it was
    resumed = lab.train(TINY_TEXT, lab.APP.options(out=copy, **{**TINY_OPTIONS, "epochs": 2}, resume=True),
                        progress=False)
    assert resumed.towers is None
    assert all(np.array_equal(a, b) for a, b in zip(resumed.result.gan.generator.get_layer("g_captions").get_weights(),
                                                    tower))


# ---------------------------------------------------------------------------------------------------- the judge


def test_the_judge_scores_real_labels_high_and_shuffled_labels_low(shared_data):
    mnist = D.load(str(shared_data / "mnist" / "mnist_5k.csv.gz"), 32)
    train, test = D.split(mnist)
    judge = E.Judge(E.train_judge(train.subset(np.arange(0, 4000, 2)), epochs=2), (), np.zeros((0, 2)))
    reading = judge.read(lab.to_float(test.images))
    right, per_class = E.label_accuracy(reading.labels, test.labels, 10)
    shuffled, _ = E.label_accuracy(reading.labels, np.random.default_rng(0).permutation(test.labels), 10)
    assert right > 0.85 and shuffled < 0.2, (right, shuffled)
    assert len(per_class) == 10 and min(per_class) > 0.5
    assert reading.colours is None and reading.metadata is None
    # Within-label spread: real images of one label differ; copies of one image per label do not.
    first = {k: test.images[test.labels == k][0] for k in range(10)}
    copies = lab.to_float(np.stack([first[k] for k in test.labels]))
    assert E.spread(lab.to_float(test.images), test.labels) > 0.1 and E.spread(copies, test.labels) == 0.0


def test_the_judge_reads_colour_and_metadata():
    train, test = D.render_scenes(1000, seed=5), D.render_scenes(200, seed=6)
    judge = E.Judge(E.train_judge(train, D.attribute_ranges(), epochs=3), train.attributes, D.attribute_ranges())
    reading = judge.read(lab.to_float(test.images))
    assert np.mean(reading.colours == test.colours) > 0.8
    errors, shares = E.metadata_errors(reading.metadata, test.metadata, D.attribute_ranges())
    _, shuffled = E.metadata_errors(reading.metadata, test.metadata[::-1], D.attribute_ranges())
    assert errors.shape == (5,) and shares[1] < 0.7 * shuffled[1]  # scale is read, not guessed


# ---------------------------------------------------------------------------------------------------- a tiny run


@pytest.fixture(scope="module")
def label_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cgan") / "label"
    invoke("cgan", "train", "--epochs", "1", "--steps", "3", "--batch-size", "8", "--width", "4", "--latent-dim", "8",
           "--out", out)
    return out


def test_label_run_writes_grid_checkpoint_and_conditional_export(label_run, tmp_path):
    for path in ("config.json", "checkpoints/checkpoint.npz", "samples/epoch_0001.png",
                 "export/cgan/1/saved_model.pb", "export/cgan/1/assets.extra/cgan.json"):
        assert (label_run / path).exists(), path
    config = json.loads((label_run / "config.json").read_text())["config"]
    assert config["condition"] == "label" and config["class_names"] == [str(k) for k in range(10)]
    assert np.asarray(Image.open(label_run / "samples/epoch_0001.png")).shape == (10 * 34 + 2, 10 * 34 + 2, 3)
    # The export takes the label as an input and draws what the checkpoint's generator draws.
    signature = ServingFunction(label_run / "export" / "cgan")
    assert signature.input_names == ["latent", "label"] and signature.output_name == "samples"
    z = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    labels = np.array([0, 3, 7, 9], np.int32)
    served = signature(z, labels).numpy()
    gan = runs.load(lab.APP, label_run)
    np.testing.assert_allclose(served, gan.sampling_generator([z, labels], training=False), atol=1e-5)
    # Re-export under another version and generate from it through the command line.
    invoke("cgan", "export", label_run, "--out", tmp_path / "served", "--version", "3")
    out = tmp_path / "sevens.png"
    assert "16 images" in invoke("cgan", "generate", tmp_path / "served", "--label", "7", "--out", out).stdout
    assert np.asarray(Image.open(out)).shape == (4 * 34 + 2, 4 * 34 + 2, 3)
    every = lab.generate(label_run, num=2)
    assert every.images.shape == (20, 32, 32, 3) and every.conditions[:4] == ["0", "0", "1", "1"]


@pytest.mark.parametrize("args, message", [
    (["--label", "12"], "--label '12': unknown label; this model knows 0-9"),
    (["--label", "seven"], "--label 'seven': unknown label"),
    (["--metadata", "angle=30"], "--metadata does not apply to a label model, which takes label"),
    (["--text", "a red 7"], "--text does not apply to a label model"),
    (["--num", "0"], "--num must be at least 1"),
])
def test_bad_conditions_are_one_line_errors(label_run, monkeypatch, capsys, args, message):
    line = main_error(monkeypatch, capsys, "cgan", "generate", label_run, *args, "--out", "unused.png")
    assert message in line


def test_evaluate_json_scores_label_accuracy(label_run, monkeypatch):
    monkeypatch.setattr(E, "EPOCHS", 1)
    monkeypatch.setattr(E, "training_examples", lambda *args, **kwargs: D.render_scenes(600, seed=7))
    result = invoke("cgan", "evaluate", label_run, "--num", "50", "--json")
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(rows) == 12 and rows[0]["scope"] == "all" and rows[0]["what"] == "label accuracy"
    assert [row["scope"] for row in rows[1:11]] == [str(k) for k in range(10)]
    assert 0.0 <= rows[0]["generated"] <= 1.0 and rows[0]["samples"] == 50
    # 50 images spread evenly: 5 per class, so the overall accuracy is the mean of the per-class ones.
    assert rows[0]["generated"] == pytest.approx(np.nanmean([row["generated"] for row in rows[1:11]]))
    assert rows[11]["what"] == "within-label spread" and rows[11]["generated"] >= 0 and rows[11]["real"] > 0
    with pytest.raises(ParameterError, match="^num must be at least 10, got 5"):
        lab.evaluate(label_run, num=5)


def test_text_evaluation_reads_digit_colour_and_spread_against_the_captions(monkeypatch):
    """A generator that draws each caption's digit and colour scores high; one that draws the next digit scores low
    on digits only; both draw one image per caption, so their within-caption spread is 0."""
    monkeypatch.setattr(E, "EPOCHS", 3)
    monkeypatch.setattr(E, "training_examples", lambda *args, **kwargs: D.render_scenes(3000, seed=8))
    _, held_out = D.split(D.render_scenes())
    named = {str(c): (int(d), int(k)) for c, d, k in zip(held_out.captions, held_out.labels, held_out.colours)}
    config = lab.Config(condition="text", channels=3)

    def drawer(shift):
        def draw(latent, text):
            pairs = [named[str(c)] for c in text]
            return np.stack([lab.to_float(D.draw((d + shift) % 10, 1, 0.0, 0.9, 0.0, 0.0, 60.0 * k)) for d, k in pairs])
        return lab.Sampler(draw, f"shift {shift}", config)

    right, wrong = (lab.evaluate(drawer(shift), num=60).as_dicts() for shift in (0, 1))
    value = lambda rows, what: next(row["generated"] for row in rows if row["what"] == what)
    assert [row["what"] for row in right] == ["digit accuracy", "colour accuracy", "digit and colour accuracy",
                                              "size accuracy", "within-caption spread"]
    assert value(right, "digit accuracy") > value(wrong, "digit accuracy") + 0.3
    assert value(right, "colour accuracy") == value(wrong, "colour accuracy") > 0.8
    assert value(right, "digit and colour accuracy") <= value(right, "digit accuracy")
    assert value(right, "within-caption spread") == 0.0 < right[-1]["real"]


def in_process_run(tmp_path: Path, condition: str, **config) -> Path:
    options = lab.APP.options(out=tmp_path / condition.replace("+", "_"), **TINY_OPTIONS)
    lab.train(lab.Config(condition=condition, **TINY, **config), options, progress=False)
    return options.out


def test_text_run_exports_a_string_signature_and_refuses_bad_text(text_run, monkeypatch, capsys):
    run = text_run.result.run_dir
    signature = ServingFunction(run / "export" / "cgan")
    assert signature.input_names == ["latent", "text"] and signature.input_specs[1].dtype == tf.string
    z = np.zeros((2, 8), np.float32)
    captions = ["a small red 7 rotated 30 degrees left", "the number two in blue"]
    served = signature(z, captions).numpy()
    gan = runs.load(lab.APP, run)
    config = runs.read_run(run, lab.APP).config
    direct = gan.sampling_generator([z, conditions.of(config).tokens(captions)], training=False)
    np.testing.assert_allclose(served, direct, atol=1e-5)
    assert not np.allclose(served[0], served[1])  # same noise, other caption
    for args, message in [(["--text", "  "], "--text is an empty caption"),
                          (["--text", "zzz qqq"], "none of its words are in the model's vocabulary"),
                          ([], "--text is required by a text model: give a caption"),
                          (["--label", "3"], "--label does not apply to a text model, which takes text")]:
        assert message in main_error(monkeypatch, capsys, "cgan", "generate", run, *args, "--out", "x.png")


def test_metadata_run_round_trip_and_bad_metadata(tmp_path, monkeypatch, capsys):
    run = in_process_run(tmp_path, "metadata", discriminator="acgan")
    signature = ServingFunction(run / "export" / "cgan")
    assert signature.input_names == ["latent", "metadata"]
    # The export reads metadata in the attributes' own units and draws what the checkpoint's generator draws.
    z = np.random.default_rng(3).standard_normal((2, 8)).astype(np.float32)
    metadata = np.array([[30.0, 0.8, 0.0, 1.0, 120.0], [-40.0, 0.6, 2.0, -2.0, 0.0]], np.float32)
    served = signature(z, metadata).numpy()
    gan = runs.load(lab.APP, run)
    np.testing.assert_allclose(served, gan.sampling_generator([z, metadata], training=False), atol=1e-5)
    generated = lab.generate(run, metadata="angle=30,scale=0.8", num=3, seed=2)
    assert generated.images.shape == (3, 32, 32, 3) and generated.conditions[0].startswith("angle=30, scale=0.8")
    for args, message in [(["--metadata", "angle=3O"], "--metadata angle='3O' is not a number"),
                          (["--metadata", "angle:30"], "expected NAME=VALUE pairs"),
                          (["--metadata", "pose=1"], "unknown attribute 'pose'; this model knows angle, scale, x, y, hue"),
                          (["--metadata", "hue=350"], "hue=350 is outside the range the model was trained on, -15 to 315")]:
        assert message in main_error(monkeypatch, capsys, "cgan", "generate", run, *args, "--out", "x.png")


def test_image_metadata_run_redraws_an_image_file(tmp_path, monkeypatch, capsys):
    run = in_process_run(tmp_path, "image+metadata")
    assert ServingFunction(run / "export" / "cgan").input_names == ["image", "metadata"]
    original = tmp_path / "seven.png"
    Image.fromarray(D.draw(7, 1, 0.0, 0.9, 0.0, 0.0, 0.0)).save(original)
    out = tmp_path / "redrawn.png"
    invoke("cgan", "generate", run, "--image", original, "--metadata", "angle=30", "--num", "3", "--out", out)
    assert np.asarray(Image.open(out)).shape == (2 * 34 + 2, 2 * 34 + 2, 3)  # the original and 3 redrawings
    assert "--image is required by an image+metadata model" in main_error(
        monkeypatch, capsys, "cgan", "generate", run, "--metadata", "angle=3", "--out", "x.png")
    assert "no such file" in main_error(monkeypatch, capsys, "cgan", "generate", run, "--image",
                                        tmp_path / "none.png", "--out", "x.png")


def test_a_pretrained_text_encoder_plugs_in(tmp_path):
    vectorize = keras.layers.TextVectorization(output_sequence_length=6, vocabulary=["red", "blue", "7", "seven"])
    text = keras.Input((), dtype="string")
    vectors = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(6, 5)(vectorize(text)))
    path = tmp_path / "encoder.keras"
    keras.Model(text, vectors).save(path)
    run = in_process_run(tmp_path, "text", text_encoder=str(path))
    config = runs.read_run(run, lab.APP).config
    assert config.text_dim == 5 and config.vocabulary == ()
    generated = lab.generate(run / "export" / "cgan", text="a red 7", num=2)
    assert generated.images.shape == (2, 32, 32, 3)
    with pytest.raises(ParameterError, match="^text_encoder .*no such Keras model file"):
        in_process_run(tmp_path / "again", "text", text_encoder=str(tmp_path / "none.keras"))


def test_train_refuses_data_without_the_condition(tmp_path, monkeypatch, capsys):
    folder = write_folder(tmp_path / "plain", ["img0.png,1,1", "img1.png,2,2"], "file,label,angle", 2)
    (folder / "labels.csv").write_text("file,angle\nimg0.png,1\nimg1.png,2\n")
    line = main_error(monkeypatch, capsys, "cgan", "train", "--data", folder, "--out", tmp_path / "r")
    assert "has no labels to condition on" in line
    line = main_error(monkeypatch, capsys, "cgan", "train", "--condition", "text", "--data", folder, "--out",
                      tmp_path / "r")
    assert "has no captions to condition on" in line


# ---------------------------------------------------------------------------------------------------- semisup


def test_the_semisupervised_losses_are_salimans():
    gan = semisup.SemiSupervisedGAN(semisup.generator((28, 28, 1), 8), semisup.classifier((28, 28, 1), 10))
    gan.compile(feature_matching=1.0)
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (6, 28, 28, 1)), tf.float32)
    logits = gan.discriminator(images, training=False)["logits"].numpy().astype(np.float64)
    score = gan.discriminate(images, None, training=False).logits
    lse = np.log(np.exp(logits).sum(-1))
    np.testing.assert_allclose(score.numpy()[:, 0], lse, rtol=1e-5)
    # D(x) = Z / (Z + 1): the core's non-saturating loss on lse is the paper's -log D(real) - log(1 - D(fake)).
    d_real, d_fake = np.exp(lse) / (np.exp(lse) + 1), np.exp(lse[::-1]) / (np.exp(lse[::-1]) + 1)
    paper = -np.mean(np.log(d_real)) - np.mean(np.log(1 - d_fake))
    core = float(L.discriminator_loss("non-saturating", score, score[::-1]))
    assert core == pytest.approx(paper, rel=1e-5)
    assert "g_adv" not in gan.metric_names() and "supervised" in gan.metric_names()
    labelled = (images, tf.constant([0, 1, 2, 3, 4, 5]))
    logs = {k: float(v) for k, v in gan.train_step((images, labelled)).items()}
    assert logs["feature_matching"] >= 0 and logs["supervised"] > 0 and "g_adv" not in logs
    with pytest.raises(ParameterError, match="^feature_matching must be above 0"):
        semisup.SemiSupervisedGAN(semisup.generator((28, 28, 1), 8), semisup.classifier((28, 28, 1), 10)).compile()


def test_data_dependent_initialisation_standardises_every_weight_normalised_layer():
    images = np.random.default_rng(1).uniform(-1, 1, (200, 28, 28, 1)).astype(np.float32)
    model = semisup.initialize_from_data(semisup.classifier((28, 28, 1), 10), images)
    dense = [layer for layer in model.layers if isinstance(layer, semisup.WeightNormDense)]
    assert len(dense) == 6
    for layer in dense:  # pre-activations recomputed by hand from the layer's input and weights
        x = np.asarray(keras.Model(model.input, layer.input)(images, training=False), np.float64)
        v, g, b = (np.asarray(w, np.float64) for w in (layer.v, layer.g, layer.b))
        t = x @ v * (g / np.linalg.norm(v, axis=0)) + b
        np.testing.assert_allclose(t.mean(0), 0, atol=1e-3)
        np.testing.assert_allclose(t.std(0), 1, atol=1e-3)


def test_labelled_images_are_balanced():
    labels = np.arange(400) % 10
    chosen = semisup.pick_labelled(labels, 100, 10, seed=0)
    assert len(chosen) == 100 and np.array_equal(np.bincount(labels[chosen]), np.full(10, 10))
    with pytest.raises(GanappsError, match="multiple of the 10 classes"):
        semisup.pick_labelled(labels, 95, 10, seed=0)


def test_semisup_command_reports_both_models(tmp_path, shared_data):
    result = invoke("cgan", "semisup", "--labels", "20", "--data", shared_data / "mnist" / "mnist_5k.csv.gz",
                    "--epochs", "1", "--steps", "3", "--batch-size", "20", "--out", tmp_path / "semi", "--json")
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [row["model"] for row in rows] == ["semi-supervised GAN", "supervised only"]
    for row in rows:
        assert row["test"] == 1000 and row["unlabelled"] == 4000 and row["labels"] == 20
        assert 0 <= row["errors"] <= 1000 and row["error_rate"] == pytest.approx(row["errors"] / 1000)
    assert len(rows[0]["errors_per_epoch"]) == 1 and rows[1]["updates"] == 3
    # The exported classifier (the discriminator's K classes) makes exactly the errors reported.
    _, test = D.split(D.load(str(shared_data / "mnist" / "mnist_5k.csv.gz"), 28, 1))
    classify = ServingFunction(tmp_path / "semi" / "export" / "classifier")
    assert classify.input_names == ["images"] and classify.output_name == "probabilities"
    probabilities = classify(lab.to_float(test.images)).numpy()
    assert probabilities.shape == (1000, 10) and np.allclose(probabilities.sum(-1), 1, atol=1e-4)
    assert int(np.sum(probabilities.argmax(-1) != test.labels)) == rows[0]["errors"]


# ---------------------------------------------------------------------------------------------------- augment


def test_class_fraction_cuts_deterministically_from_the_seed(shared_data):
    training, _ = D.split(D.load(str(shared_data / "mnist" / "mnist_5k.csv.gz"), 32))
    config = lab.Config(class_fraction=(" 3 = 0.05", "8=0.1"))
    assert config.class_fraction == ("3=0.05", "8=0.1")  # canonical, as config.json keeps it
    before = np.bincount(training.labels)
    cut = D.cut(training, config.class_fraction, seed=1)
    counts = np.bincount(cut.labels)
    assert counts[3] == round(0.05 * before[3]) and counts[8] == round(0.1 * before[8])
    assert all(counts[k] == before[k] for k in range(10) if k not in (3, 8))
    again, other = D.cut(training, config.class_fraction, seed=1), D.cut(training, config.class_fraction, seed=2)
    assert np.array_equal(cut.images, again.images) and np.array_equal(np.bincount(other.labels), counts)
    threes = lambda examples: examples.images[examples.labels == 3]
    assert not np.array_equal(threes(cut), threes(other))  # the seed draws which images stay, not how many
    assert np.array_equal(threes(cut), threes(D.cut(training, ("3=0.05",), seed=1)))  # whatever the other classes
    rows = {image.tobytes() for image in training.images}
    assert all(image.tobytes() in rows for image in cut.images)  # a subset of the training split, never held out
    assert D.cut(training, (), seed=1) is training and D.kept(400, 0.0001) == 1
    for pairs, message in [(("3",), "expected CLASS=FRACTION pairs"), (("3=x",), "not a number"),
                           (("3=0",), r"must be in \(0, 1\]"), (("3=nan",), "must be in"), (("3=1.5",), "must be in"),
                           (("3=0.5", "3=0.1"), "names class 3 twice")]:
        with pytest.raises(ParameterError, match=f"^class_fraction .*{message}"):
            lab.Config(class_fraction=pairs)
    with pytest.raises(ParameterError, match="^class_fraction 12=0.5: .* has no class '12'"):
        D.cut(training, ("12=0.5",))


def test_balance_classes_draws_every_class_as_often_as_the_largest(shared_data):
    training, _ = D.split(D.load(str(shared_data / "mnist" / "mnist_5k.csv.gz"), 32))
    cut = D.cut(training, ("3=0.05", "8=0.1"), seed=1)
    balanced = D.oversample(cut, seed=1)
    counts = np.bincount(cut.labels)
    assert np.bincount(balanced.labels).tolist() == [counts.max()] * 10
    threes = cut.images[cut.labels == 3]
    drawn = balanced.images[balanced.labels == 3]
    # Whole cycles of the 20 threes first: each repeated floor(max / 20) or one more times, none left out.
    copies = [sum(np.array_equal(x, t) for x in drawn) for t in threes]
    assert min(copies) >= counts.max() // len(threes) and max(copies) <= counts.max() // len(threes) + 1
    assert np.array_equal(D.oversample(cut, seed=1).images, balanced.images)
    config = lab.Config(data=str(shared_data / "mnist" / "mnist_5k.csv.gz"), class_fraction=("3=0.05", "8=0.1"),
                        balance_classes=True, image_size=32)
    options = lab.APP.options(batch_size=200, seed=1)
    labels = np.concatenate([batch[1].numpy() for batch in dataset(config, options, 0, cut).take(20)])
    shares = np.bincount(labels.reshape(-1).astype(int), minlength=10) / labels.size
    assert np.all(np.abs(shares - 0.1) < 0.02)  # without balancing, class 3 would be about 0.006
    with pytest.raises(ParameterError, match="^balance_classes .*has no labels"):
        D.oversample(D.Examples(cut.images, "unlabelled"))


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory) -> Path:
    """A tiny label run on MNIST 5k with two classes cut, through the command line."""
    from conftest import SHARED_DATA  # the `shared_data` fixture is per test

    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the repository")
    out = tmp_path_factory.mktemp("cgan") / "cut"
    invoke("cgan", "train", "--data", SHARED_DATA / "mnist" / "mnist_5k.csv.gz", "--class-fraction", "3=0.05,8=0.1",
           "--seed", "4", "--epochs", "1", "--steps", "2", "--batch-size", "8", "--width", "4", "--latent-dim", "8",
           "--out", out)
    return out


def test_augment_balance_tops_every_class_up_to_the_largest(cut_run, tmp_path):
    config = json.loads((cut_run / "config.json").read_text())["config"]
    assert config["class_fraction"] == ["3=0.05", "8=0.1"]
    real = config["class_counts"]
    training = lab.training_set(cut_run)  # what the run trained on: its seed's cut, recorded counts
    assert real == np.bincount(training.labels, minlength=10).tolist() and real[3] == 20 and real[8] == 38
    out = tmp_path / "extra"
    rows = [json.loads(line) for line in
            invoke("cgan", "augment", cut_run, "--balance", "--out", out, "--json").stdout.strip().splitlines()]
    assert [row["class"] for row in rows] == [str(k) for k in range(10)]
    assert {row["total"] for row in rows} == {max(real)} and [row["real"] for row in rows] == real
    with open(out / "labels.csv", newline="") as handle:
        listed = list(csv.DictReader(handle))
    per_class = np.bincount([int(row["label"]) for row in listed], minlength=10)
    assert (per_class + real).tolist() == [max(real)] * 10 and per_class.tolist() == [r["generated"] for r in rows]
    for row in listed:
        image = np.asarray(Image.open(out / row["file"]))
        assert image.shape == (32, 32) and image.dtype == np.uint8  # grey, as the run's images
    assert len(list(out.rglob("*.png"))) == len(listed) and json.loads((out / "augment.json").read_text())["balance"]
    generated = D.load(str(out), 32)  # the folder is a data set the app reads
    assert np.array_equal(np.bincount(generated.labels, minlength=10), per_class)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extra"]  # no staging folder left behind
    # The same seed draws the same images; --overwrite replaces an earlier augment output whole.
    first = np.asarray(Image.open(out / listed[0]["file"]))
    every = lab.augment(cut_run / "export" / "cgan", out, num_per_class=3, overwrite=True)
    assert every.generated == (3,) * 10 and every.real is None and len(list(out.rglob("*.png"))) == 30
    again = lab.augment(cut_run, tmp_path / "again", balance=True)
    assert again.generated == tuple(per_class) and np.array_equal(
        np.asarray(Image.open(tmp_path / "again" / listed[0]["file"])), first)


def test_augment_refuses_what_it_cannot_balance(cut_run, tmp_path, monkeypatch, capsys):
    text = tmp_path / "text"
    text.mkdir()
    record = json.loads((cut_run / "config.json").read_text())
    record["config"]["condition"] = "text"
    (text / "config.json").write_text(json.dumps(record))
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("keep me")
    for args, message in [
        ([text, "--balance"], "a text run; augment needs a label run (--condition label)"),
        ([tmp_path / "none", "--balance"], "no such run directory"),
        ([cut_run / "export" / "cgan", "--balance"], "not a cgan run directory (no config.json); balance reads"),
        ([cut_run], "--balance or num_per_class: give exactly one"),
        ([cut_run, "--balance", "--num-per-class", "4"], "--balance or num_per_class: give exactly one"),
        ([cut_run, "--num-per-class", "0"], "--num-per-class must be at least 1, got 0"),
        ([cut_run, "--balance", "--out", full], "already holds files; name a new or empty folder"),
        ([cut_run, "--balance", "--out", full, "--overwrite"], "augment did not write (no augment.json)"),
    ]:
        out = [] if "--out" in args else ["--out", tmp_path / "o"]
        assert message in main_error(monkeypatch, capsys, "cgan", "augment", *args, *out), args
    assert (full / "mine.txt").read_text() == "keep me" and not (tmp_path / "o").exists()
    metadata = lab.Sampler(lambda *inputs: None, "a metadata model", lab.Config(condition="metadata"))
    with pytest.raises(GanappsError, match="a metadata model; augment needs a label model"):
        lab.augment(metadata, tmp_path / "o", num_per_class=2)
    assert "--class-fraction 3=2: the fraction must be in (0, 1]" in main_error(
        monkeypatch, capsys, "cgan", "train", "--class-fraction", "3=2", "--out", tmp_path / "r")


def test_augment_writes_all_or_nothing(tmp_path, monkeypatch):
    """A write that fails part-way leaves neither the folder nor its staging copy; any label model draws per class."""
    grey = lambda latent, label: np.tile(np.asarray(label, np.float32)[:, None, None, None] / 9, (1, 32, 32, 1))
    sampler = lab.Sampler(grey, "a label model", lab.Config(class_names=tuple("0123456789"), latent_dim=8))
    written = lab.augment(sampler, tmp_path / "every", num_per_class=2)
    assert written.generated == (2,) * 10 and len(list((tmp_path / "every").rglob("*.png"))) == 20
    saved, calls = Image.Image.save, []

    def failing_save(image, *args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise OSError(28, "No space left on device")
        return saved(image, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="No space left"):
        lab.augment(sampler, tmp_path / "half", num_per_class=2)
    calls.clear()
    with pytest.raises(OSError, match="No space left"):  # an earlier output it was to replace stays whole
        lab.augment(sampler, tmp_path / "every", num_per_class=3, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["every"]
    assert len(list((tmp_path / "every").rglob("*.png"))) == 20


@pytest.mark.parametrize("format", ["litert", "onnx"])
def test_litert_and_onnx_label_exports_match_keras(label_run, format, tmp_path):
    """`export --format` of a label model: two inputs (latent, integer label) in a process without TensorFlow give
    the checkpoint's samples; serving.json names the classes a client may send."""
    invoke("cgan", "export", label_run, "--format", format, "--out", tmp_path / "model")
    folder = tmp_path / "model" / "1"
    info = json.loads((folder / "assets.extra" / "serving.json").read_text())
    assert info["classes"] == [str(k) for k in range(10)] and info["output"]["range"] == [-1, 1]
    assert {i["name"]: i["range"] for i in info["inputs"]} == {"latent": None, "label": [0, 9]}
    z = np.random.default_rng(2).standard_normal((5, 8)).astype(np.float32)
    labels = np.array([0, 3, 7, 9, 7], np.int32)
    exported = run_in_fresh_process(folder, format, {"latent": z, "label": labels}, tmp_path)
    generator = runs.load(lab.APP, label_run).sampling_generator
    np.testing.assert_allclose(exported, generator([z, labels], training=False), atol=1e-4)


def test_the_label_savedmodel_refuses_an_unknown_label_in_its_graph(label_run):
    """A label of 99 sent to TF Serving names the input and the classes' range (not an opaque gather error)."""
    signature = tf.saved_model.load(str(label_run / "export" / "cgan" / "1")).signatures["serving_default"]
    z = np.zeros((2, 8), np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label: every value must be in \[0, 9\]"):
        signature(latent=z, label=np.array([3, 99], np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label: every value must be in \[0, 9\]"):
        signature(latent=z, label=np.array([-1, 2], np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="latent: NaN or infinite values"):
        signature(latent=np.full((2, 8), np.inf, np.float32), label=np.array([3, 4], np.int32))
    assert signature(latent=z, label=np.array([0, 9], np.int32))["samples"].shape == (2, 32, 32, 3)


def test_a_text_model_is_refused_by_formats_without_strings(text_run, tmp_path, monkeypatch, capsys):
    line = main_error(monkeypatch, capsys, "cgan", "export", text_run.result.run_dir, "--format", "onnx",
                      "--out", tmp_path / "model")
    assert "--format onnx has no string inputs" in line and "export it as saved_model" in line
    assert not (tmp_path / "model" / "1").exists()

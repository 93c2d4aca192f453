"""`ganapps demo`: one local web page (Gradio) with a tab per app, over the shipped models or any named ones.

    from ganapps import demo
    page = demo.build_demo(demo.DemoModels(dcgan="runs/dcgan"))   # a gr.Blocks; the other tabs: shipped models
    page.launch(**demo.launch_options())                           # or demo.serve(...), what the command runs

The tabs call the labs' functions, as the apps' inference commands do. A tab opens its model on its first use and
keeps it, so the page is up before TensorFlow loads. Nothing is fetched from the internet: Gradio's analytics and
version check are off (set before Gradio is imported), its frontend and fonts are served by this process, and no
share link is ever made.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import inspect
import io
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganapps.core.errors import GanappsError, ParameterError, check_at_least

if TYPE_CHECKING:  # imported when a page is built, so that `ganapps --help` stays fast
    import gradio as gr

INSTALL_HINT = "pip install 'ganapps[demo]'"
HOST, PORT = "127.0.0.1", 7860
TITLE = "ganapps demo"
TABS = ("Upscale", "Digits", "Latent walk", "Edit by strokes", "Translate", "Next frame")
MAX_UPSCALE_SIDE = 1024  # larger uploads are refused: x4 of them is slow on a CPU and heavy for a browser
MAX_STEPS = 16  # frames a latent walk or a prediction shows; Moving MNIST clips hold 20 frames
EVERY_CLASS = ("every class, one row each", "every")  # the label choice that asks the lab for one row per class
FRAME_MS = 200  # GIF frame duration of clips and predictions
WALK_FRAME_MS = 80  # and of latent walks and edits (as `dcgan interpolate` and `dcgan edit`)
EDIT_CANVAS = 256  # side of the painting canvas: the start image enlarged (the lab resizes strokes to the model's)
EDIT_START = 12  # the start seed shown first: README's example, a "1" that a bar turns into a "7"
SCRATCH_MINUTES = 10  # files handed to the page are copied into Gradio's cache; ours go after this long

# Small generated images are enlarged on the page without blurring them.
CSS = ".pixels img { image-rendering: pixelated; min-height: 256px; object-fit: contain; }"

_APP_OF = {"cgan_text": "cgan"}  # a tab's model key -> the app whose lab opens it (others: the key itself)


@dataclass(frozen=True)
class DemoModels:
    """What each tab opens: a run directory, an exported SavedModel folder or a shipped model's name; None: the
    shipped one (`cgan` draws by label, `cgan_text` by caption)."""

    superres: str | os.PathLike | None = None
    cgan: str | os.PathLike | None = None
    cgan_text: str | os.PathLike | None = None
    dcgan: str | os.PathLike | None = None
    cyclegan: str | os.PathLike | None = None
    nextframe: str | os.PathLike | None = None

    def resolved(self) -> dict[str, str]:
        """Every model named, the shipped ones filled in; a one-line error for a name that names nothing (checked
        here, before TensorFlow loads, not on a tab's first use)."""
        from ganapps.apps.cgan.recipe import SHIPPED as CGAN
        from ganapps.apps.cgan.recipe import SHIPPED_TEXT
        from ganapps.apps.cyclegan.recipe import SHIPPED as CYCLEGAN
        from ganapps.apps.dcgan.recipe import SHIPPED as DCGAN
        from ganapps.apps.nextframe.recipe import SHIPPED as NEXTFRAME
        from ganapps.apps.superres.recipe import SHIPPED as SUPERRES
        from ganapps.core.config import model_path

        shipped = {"superres": SUPERRES, "cgan": CGAN, "cgan_text": SHIPPED_TEXT, "dcgan": DCGAN,
                   "cyclegan": CYCLEGAN, "nextframe": NEXTFRAME}
        models = {key: str(value if value is not None else shipped[key]) for key, value in asdict(self).items()}
        for key, model in models.items():
            try:
                model_path(model)
            except GanappsError as error:
                raise ParameterError(key, f"{error}") from None
        return models


def _gradio():
    """Gradio, imported with its analytics and version check off; a one-line install hint when it is missing."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before the import, so that nothing in Gradio sees it on
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # Gradio imports huggingface_hub; nothing here needs the Hub
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import gradio
    except ImportError:
        raise GanappsError(f"the demo needs Gradio: {INSTALL_HINT}") from None
    return gradio


def _accepted(function: Callable, options: dict[str, Any]) -> dict[str, Any]:
    """The options `function` takes: Gradio 5 and 6 differ in where some live (css moved to launch in 6)."""
    parameters = inspect.signature(function).parameters
    return {name: value for name, value in options.items() if name in parameters}


def launch_options() -> dict[str, Any]:
    """`Blocks.launch` settings for a page that never leaves this machine: no share link, no server-side
    rendering (a Node process), no installable-app manifest, no run history, no MCP server, no monitoring."""
    gr = _gradio()
    return _accepted(gr.Blocks.launch, {
        "share": False, "ssr_mode": False, "pwa": False, "mcp_server": False, "run_history": False,
        "enable_monitoring": False, "show_error": True, "quiet": True, "inbrowser": False, "css": CSS,
        "footer_links": ["api", "settings"],
    })


# ---------------------------------------------------------------------------------------------- shared plumbing


class _Handles:
    """Each tab's inference handle, opened through its app's `runs.open_model` on first use and kept."""

    def __init__(self, models: dict[str, str]):
        self.models = models
        self._handles: dict[str, Any] = {}
        self._lock = threading.Lock()  # one at a time: the first also imports TensorFlow, with stderr held

    def lab(self, key: str):
        from ganapps.core.console import import_quietly

        return import_quietly(f"ganapps.apps.{_APP_OF.get(key, key)}.lab")

    def __getitem__(self, key: str) -> Any:
        with self._lock:
            if key not in self._handles:
                lab = self.lab(key)
                self._handles[key] = lab.runs.open_model(lab.APP, self.models[key])
            return self._handles[key]


class _Scratch:
    """Files the labs write for the page (PNGs, GIFs): a fresh folder per call below one temporary folder, which
    goes at exit. Gradio copies what a call returns into its own cache, so old folders are pruned as we go."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="ganapps-demo-"))
        atexit.register(shutil.rmtree, self.root, True)

    def folder(self) -> Path:
        cutoff = time.time() - SCRATCH_MINUTES * 60
        for old in self.root.iterdir():
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.root))


def _on_page(function: Callable) -> Callable:
    """The library's errors (bad input, a model that refuses a request) as a message on the page, not a
    traceback; `functools.wraps` keeps the signature, where Gradio finds a `gr.Progress` default."""

    @functools.wraps(function)
    def shown(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except GanappsError as error:
            import gradio

            quiet = _accepted(gradio.Error.__init__, {"print_exception": False})  # no server-side traceback
            raise gradio.Error(str(error), **quiet) from None

    return shown


def _seed(value: float | None, name: str = "seed") -> int:
    """A seed box's value: a whole number from 0 (NumPy's generators take no negative seeds)."""
    if value is None:
        raise ParameterError(name, "is empty: give a whole number")
    check_at_least(name, int(value), 0)
    return int(value)


def _grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """Images in [-1, 1] as the uint8 picture the labs' `save_grid` writes (a white gutter between them)."""
    from ganapps.core.images import image_grid, to_uint8

    picture = to_uint8(image_grid(np.clip(images, -1.0, 1.0), columns))
    return picture[..., 0] if picture.shape[-1] == 1 else picture


def _write_gif(frames: np.ndarray, path: Path, frame_ms: int = FRAME_MS) -> Path:
    """uint8 frames `[T, S, S, 1 or 3]` as a looping GIF (grey frames lose nothing: a GIF palette holds 256 greys)."""
    from PIL import Image

    from ganapps.core.images import atomic_write_bytes

    pictures = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in frames]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _digest(path: str | os.PathLike) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _model_line(models: dict[str, str], *keys: str) -> str:
    return ", ".join(f"`{models[key]}`" for key in keys)


# ---------------------------------------------------------------------------------------------- the tabs


def _upscale_tab(gr, handles: _Handles, scratch: _Scratch, models: dict[str, str]) -> None:
    gr.Markdown(f"Super-resolution with {_model_line(models, 'superres')}: upload an image (up to "
                f"{MAX_UPSCALE_SIDE} pixels a side) and compare bicubic (left of the slider) with the model "
                "(right), both at the model's scale. Large images go through in tiles, as `ganapps superres "
                "upscale` does.")
    with gr.Row():
        source = gr.Image(label="Low-resolution image", type="filepath", image_mode=None,
                          sources=["upload", "clipboard"], elem_id="upscale-input", elem_classes="pixels")
        if hasattr(gr, "ImageSlider"):
            outputs = gr.ImageSlider(label="Bicubic | model", type="filepath", format="png",
                                     elem_id="upscale-output")
        else:  # older Gradio 5: the two side by side
            outputs = [gr.Image(label="Bicubic", type="filepath", format="png", elem_id="upscale-bicubic"),
                       gr.Image(label="Model", type="filepath", format="png", elem_id="upscale-output")]
    button = gr.Button("Upscale", variant="primary", elem_id="upscale-button")

    @_on_page
    def upscale(path: str | None, progress=gr.Progress()) -> tuple[str, str]:
        """Bicubic and the model's output of the upload, as PNG files (the model's through `upscale_file`, what
        the command writes)."""
        from PIL import Image

        if not path:
            raise GanappsError("upload an image first")
        with Image.open(path) as image:
            width, height = image.size
        if max(width, height) > MAX_UPSCALE_SIDE:
            raise GanappsError(f"{width}x{height}: the page takes up to {MAX_UPSCALE_SIDE} pixels a side; "
                               "`ganapps superres upscale` takes any size")
        upscaler, lab = handles["superres"], handles.lab("superres")
        from ganapps.apps.superres.data import upscale_bicubic
        from ganapps.core.images import load_image, save_image

        folder, stem = scratch.folder(), Path(path).stem
        model = lab.upscale_file(path, upscaler, folder / f"{stem}_x{upscaler.scale}.png",
                                 progress=lambda done, total: progress((done, total), desc="tiles"))
        bicubic = folder / f"{stem}_bicubic.png"
        save_image(upscale_bicubic(load_image(path, channels=3), upscaler.scale), bicubic, value_range=(0.0, 1.0))
        return str(bicubic), str(model)

    button.click(upscale, source, outputs, api_name="upscale")


def _digits_tab(gr, tab, handles: _Handles, models: dict[str, str]) -> None:
    gr.Markdown(f"Conditional digits: by label with {_model_line(models, 'cgan')}, by caption with "
                f"{_model_line(models, 'cgan_text')} (it knows digits, colours, sizes and rotations: \"a large "
                "green 3 rotated 30 degrees left\"). The same seed gives the same noise.")
    status = gr.Markdown("", elem_id="digits-status")
    with gr.Row():
        num = gr.Slider(1, 64, value=16, step=1, label="Images (per class, for every class)", elem_id="digits-num")
        seed = gr.Number(0, precision=0, label="Seed", elem_id="digits-seed")
    with gr.Row(equal_height=True):
        label = gr.Dropdown([EVERY_CLASS], value=EVERY_CLASS[1], label="Label", elem_id="digits-label", scale=3)
        by_label = gr.Button("Generate by label", variant="primary", elem_id="digits-label-button", scale=1)
    with gr.Row(equal_height=True):
        caption = gr.Textbox("a small red 7", label="Caption", elem_id="digits-caption", scale=3)
        by_caption = gr.Button("Generate by caption", elem_id="digits-caption-button", scale=1)
    output = gr.Image(label="Generated", type="numpy", format="png", interactive=False, elem_id="digits-output",
                      elem_classes="pixels")

    @_on_page
    def classes():
        """The label model's classes for the dropdown, once the tab is first shown (the model opens then)."""
        sampler = handles["cgan"]
        if sampler.condition.name != "label":
            return (gr.Dropdown(choices=[EVERY_CLASS], value=EVERY_CLASS[1]),
                    f"{models['cgan']} is a {sampler.condition.name} model: it takes no label")
        names = list(sampler.config.class_names)
        return (gr.Dropdown(choices=[EVERY_CLASS, *names], value=names[0]),
                f"{models['cgan']}: {len(names)} classes ({', '.join(names)})")

    @_on_page
    def generate_label(value: str | None, count: float, noise: float | None) -> np.ndarray:
        lab = handles.lab("cgan")
        wanted = None if value in (None, EVERY_CLASS[1]) else value
        generated = lab.generate(handles["cgan"], label=wanted, num=int(count), seed=_seed(noise))
        return _grid(generated.images, generated.columns or None)

    @_on_page
    def generate_caption(text: str, count: float, noise: float | None) -> np.ndarray:
        lab = handles.lab("cgan_text")
        generated = lab.generate(handles["cgan_text"], text=text, num=int(count), seed=_seed(noise))
        return _grid(generated.images, generated.columns or None)

    tab.select(classes, None, [label, status], api_name="digit_labels")
    by_label.click(generate_label, [label, num, seed], output, api_name="digits_by_label")
    for event in (by_caption.click, caption.submit):
        event(generate_caption, [caption, num, seed], output, api_name="digits_by_caption")


def _walk_tab(gr, handles: _Handles, scratch: _Scratch, models: dict[str, str]) -> None:
    from ganapps.apps.dcgan.recipe import MODES

    gr.Markdown(f"A walk through {_model_line(models, 'dcgan')}'s latent space between two samples: seed S's end "
                "is the image `ganapps dcgan sample --num 1 --seed S` draws. Slerp keeps the path at the "
                "Gaussian's typical norm.")
    with gr.Row():
        seed_a = gr.Number(0, precision=0, label="Seed of the first end", elem_id="walk-seed-a")
        seed_b = gr.Number(1, precision=0, label="Seed of the last end", elem_id="walk-seed-b")
        steps = gr.Slider(2, MAX_STEPS, value=10, step=1, label="Frames, both ends included", elem_id="walk-steps")
        mode = gr.Radio(list(MODES), value=MODES[0], label="Path", elem_id="walk-mode")
    button = gr.Button("Walk", variant="primary", elem_id="walk-button")
    strip = gr.Image(label="Frames", type="filepath", format="png", interactive=False, elem_id="walk-strip",
                     elem_classes="pixels")
    animation = gr.Image(label="Forth and back", type="filepath", format="gif", interactive=False,
                         elem_id="walk-gif", elem_classes="pixels")

    @_on_page
    def walk(first: float | None, last: float | None, count: float, path: str) -> tuple[str, str]:
        """The lab's path between the two seeds' latents, drawn and written as `dcgan interpolate` writes it."""
        generator, lab = handles["dcgan"], handles.lab("dcgan")
        ends = [generator.latents(1, _seed(value, name))[0] for value, name in ((first, "first"), (last, "last"))]
        frames = generator.generate(lab.path_latents(ends[0], ends[1], int(count), path))
        folder = scratch.folder()
        written = lab.write_interpolation(frames[None], folder / "walk.png", folder / "walk.gif",
                                          frame_ms=WALK_FRAME_MS)
        return tuple(str(p) for p in written)

    button.click(walk, [seed_a, seed_b, steps, mode], [strip, animation], api_name="latent_walk")


def _edit_tab(gr, handles: _Handles, scratch: _Scratch, models: dict[str, str]) -> None:
    gr.Markdown(f"Paint on a sample of {_model_line(models, 'dcgan')} and the model follows (iGAN, `ganapps dcgan "
                "edit`): the latent is searched so that the image matches the strokes where they are drawn and "
                "stays a plausible digit. White adds ink, black removes it; unpainted pixels are free.")
    with gr.Row():
        seed = gr.Number(EDIT_START, precision=0, label="Seed of the start image", elem_id="edit-seed")
        show = gr.Button("Show the start image", elem_id="edit-show")
    canvas = gr.ImageEditor(type="numpy", image_mode="RGBA", label="Strokes over the start image",
                            sources=(), layers=False, transforms=(), canvas_size=(EDIT_CANVAS, EDIT_CANVAS),
                            brush=gr.Brush(default_size=16, colors=["#ffffff", "#000000"], color_mode="fixed"),
                            elem_id="edit-canvas")
    button = gr.Button("Edit", variant="primary", elem_id="edit-button")
    strip = gr.Image(label="From the start image to the result", type="filepath", format="png", interactive=False,
                     elem_id="edit-strip", elem_classes="pixels")
    animation = gr.Image(label="Forth and back", type="filepath", format="gif", interactive=False,
                         elem_id="edit-gif", elem_classes="pixels")
    distances = gr.Markdown(elem_id="edit-distances")

    @_on_page
    def start_image(value: float | None) -> dict:
        """The start sample, enlarged to the canvas (nearest neighbour: the pixels stay visible), as the editor's
        background with nothing painted."""
        from ganapps.core.images import to_uint8

        generator = handles["dcgan"]
        pixels = to_uint8(np.clip(generator.generate(generator.latents(1, _seed(value, "start")))[0], -1.0, 1.0))
        factor = EDIT_CANVAS // pixels.shape[0]
        enlarged = np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
        rgb = np.repeat(enlarged, 3 // enlarged.shape[-1], axis=-1)
        rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
        return {"background": rgba, "layers": [], "composite": rgba}

    @_on_page
    def edit(value: float | None, painting: dict | None) -> tuple[str, str, str]:
        """The lab's edit of the start image toward the painted layer: its colours are the strokes, its opacity
        says what is drawn (as `dcgan edit` reads an RGBA file)."""
        layers = [layer for layer in (painting or {}).get("layers") or [] if layer is not None]
        if not layers or not np.stack(layers)[..., 3].any():
            raise ParameterError("strokes", "nothing is painted: show the start image, then paint on it")
        strokes = np.max(np.stack(layers), axis=0).astype(np.float32)  # painted pixels are opaque in one layer
        lab = handles.lab("dcgan")
        result = lab.edit(handles["dcgan"], strokes[..., :3] / 127.5 - 1.0, mask=strokes[..., 3] / 255.0,
                          start=_seed(value, "start"))
        folder = scratch.folder()
        written = lab.write_interpolation(result.frames[None], folder / "edit.png", folder / "edit.gif",
                                          frame_ms=WALK_FRAME_MS)
        report = (f"stroke distance {result.stroke_distance_before:.4f} -> {result.stroke_distance_after:.4f}, "
                  f"in {result.seconds:.2f} s")
        return str(written[0]), str(written[1]), report

    show.click(start_image, [seed], [canvas], api_name="edit_start")
    button.click(edit, [seed, canvas], [strip, animation, distances], api_name="edit_by_strokes")


def _translate_tab(gr, handles: _Handles, scratch: _Scratch, models: dict[str, str]) -> None:
    from ganapps.apps.cyclegan.recipe import DIRECTIONS, TEST_SCENES

    gr.Markdown(f"Image-to-image translation with {_model_line(models, 'cyclegan')}: a2b is G (the shipped model: "
                "flat shapes on sand to outlined ones on navy), b2a is F. Upload an image (translated whole at the "
                "model's size and resized back), or take a held-out example scene, whose true translation is known.")
    with gr.Row():
        direction = gr.Radio(list(DIRECTIONS), value=DIRECTIONS[0], label="Direction", elem_id="translate-direction")
        scene = gr.Slider(0, TEST_SCENES - 1, value=0, step=1, label="Example scene", elem_id="translate-scene")
        example = gr.Button("Example scene", elem_id="translate-example")
    with gr.Row():
        source = gr.Image(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"],
                          elem_id="translate-input", elem_classes="pixels")
        result = gr.Image(label="Translation", type="filepath", format="png", interactive=False,
                          elem_id="translate-output", elem_classes="pixels")
        truth = gr.Image(label="True translation (example scenes)", type="filepath", format="png",
                         interactive=False, elem_id="translate-truth", elem_classes="pixels")
    button = gr.Button("Translate", variant="primary", elem_id="translate-button")
    shown = gr.State(None)  # the example scene on show, None after an upload

    @_on_page
    def draw_example(number: float, way: str) -> tuple[str, str, None, int]:
        """A held-out synthetic scene in the direction's source style, and in the other style (the truth)."""
        from ganapps.apps.cyclegan import data as D
        from ganapps.core.images import save_image

        size = handles["cyclegan"].image_shape[0]
        scenes = D.synthetic(TEST_SCENES, size, held_out=True)
        k = int(number)
        pictures = (scenes.a[k], scenes.b[k]) if way == "a2b" else (scenes.b[k], scenes.a[k])
        folder = scratch.folder()
        paths = [folder / f"scene{k:03d}_{name}.png" for name in ("input", "truth")]
        for picture, path in zip(pictures, paths):
            save_image(picture, path, value_range=(0, 255))
        return str(paths[0]), str(paths[1]), None, k

    @_on_page
    def redraw(number: float, way: str, current: int | None):
        """A new direction redraws an example on show in its source style; an upload stays."""
        return draw_example(number, way) if current is not None else (gr.skip(),) * 4

    @_on_page
    def translate(path: str | None, way: str) -> str:
        if not path:
            raise GanappsError("upload an image or take an example scene first")
        lab = handles.lab("cyclegan")
        written = lab.translate(handles["cyclegan"], path, way, scratch.folder() / f"{Path(path).stem}_{way}.png")
        return str(written[0].target)

    example.click(draw_example, [scene, direction], [source, truth, result, shown], api_name="example_scene")
    direction.change(redraw, [scene, direction, shown], [source, truth, result, shown], api_name="redraw_scene")
    source.upload(lambda: (None, None, None), None, [truth, result, shown], api_name="uploaded_scene")
    button.click(translate, [source, direction], result, api_name="translate")


def _nextframe_tab(gr, handles: _Handles, scratch: _Scratch, models: dict[str, str]) -> None:
    gr.Markdown(f"Next-frame prediction with {_model_line(models, 'nextframe')}: upload an animated GIF (its last "
                "10 frames are the context) or take a held-out Moving MNIST clip from the app's offline data; "
                "frames beyond the model's one pass of 10 are predicted from fed-back predictions.")
    with gr.Row():
        seed = gr.Number(0, precision=0, label="Example clip seed", elem_id="nextframe-seed")
        example = gr.Button("Example clip", elem_id="nextframe-example")
        steps = gr.Slider(1, MAX_STEPS, value=8, step=1, label="Frames to predict", elem_id="nextframe-steps")
    with gr.Row():
        clip = gr.Image(label="Clip (animated GIF)", type="filepath", image_mode=None, sources=["upload"],
                        elem_id="nextframe-input", elem_classes="pixels")
        animation = gr.Image(label="Context, then prediction", type="filepath", format="gif", interactive=False,
                             elem_id="nextframe-gif", elem_classes="pixels")
    button = gr.Button("Predict", variant="primary", elem_id="nextframe-button")
    strip = gr.Image(label="Context and predicted frames (an example clip: its true frames below)", type="numpy",
                     format="png", interactive=False, elem_id="nextframe-strip", elem_classes="pixels")
    truth = gr.State(None)  # (digest of the example GIF, its true following frames in [-1, 1])

    @_on_page
    def draw_example(number: float | None) -> tuple[str, tuple[str, np.ndarray]]:
        """The first K frames of a held-out Moving MNIST clip as a GIF, and the frames that follow them."""
        from ganapps.apps.nextframe import data as D

        predictor = handles["nextframe"]
        size, _, channels = predictor.frame_shape
        frames = D.fit_frames(D.load_moving_mnist(1, held_out=True, seed=_seed(number)).frames, size, channels)
        gif = _write_gif(frames[: predictor.context], scratch.folder() / f"moving_mnist_{_seed(number)}.gif")
        return str(gif), (_digest(gif), frames[predictor.context :].astype(np.float32) / 127.5 - 1.0)

    @_on_page
    def predict(path: str | None, count: float, known: tuple[str, np.ndarray] | None) -> tuple[str, np.ndarray]:
        if not path:
            raise GanappsError("upload an animated GIF or take an example clip first")
        lab = handles.lab("nextframe")
        prediction = lab.predict(handles["nextframe"], path, int(count))
        gif, _ = prediction.write(scratch.folder(), FRAME_MS)
        rows = [np.concatenate([prediction.context, prediction.frames])]
        if known is not None and known[0] == _digest(path):
            true = known[1][: len(prediction.frames)]
            blank = np.ones((len(prediction.frames) - len(true), *true.shape[1:]), np.float32)  # past the clip
            rows.append(np.concatenate([prediction.context, true, blank]))
        return str(gif), _grid(np.concatenate(rows), len(rows[0]))

    example.click(draw_example, seed, [clip, truth], api_name="example_clip")
    button.click(predict, [clip, steps, truth], [animation, strip], api_name="predict")


# ---------------------------------------------------------------------------------------------- the page


def build_demo(models: DemoModels | Mapping[str, Any] | None = None) -> gr.Blocks:
    """The page: a tab per app over `models` (shipped ones where not named). Builds fast: no model is opened,
    and TensorFlow is not imported, until a tab is used."""
    gr = _gradio()
    models = models if isinstance(models, DemoModels) else DemoModels(**(models or {}))
    named = models.resolved()
    handles, scratch = _Handles(named), _Scratch()
    css = {} if "css" in inspect.signature(gr.Blocks.launch).parameters else {"css": CSS}  # Gradio 5: here
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600), **css) as page:
        gr.Markdown("# ganapps\nGenerative adversarial networks on Keras 3 / TensorFlow, one tab per app. Each "
                    "model opens on its tab's first use (a few seconds, once), on this machine; nothing is sent "
                    "anywhere.")
        with gr.Tabs():
            with gr.Tab(TABS[0], id="upscale"):
                _upscale_tab(gr, handles, scratch, named)
            with gr.Tab(TABS[1], id="digits") as digits:
                _digits_tab(gr, digits, handles, named)
            with gr.Tab(TABS[2], id="walk"):
                _walk_tab(gr, handles, scratch, named)
            with gr.Tab(TABS[3], id="edit"):
                _edit_tab(gr, handles, scratch, named)
            with gr.Tab(TABS[4], id="translate"):
                _translate_tab(gr, handles, scratch, named)
            with gr.Tab(TABS[5], id="nextframe"):
                _nextframe_tab(gr, handles, scratch, named)
    return page


def serve(models: DemoModels | Mapping[str, Any] | None = None, host: str = HOST, port: int = PORT,
          block: bool = True) -> gr.Blocks:
    """Serve the page on `host:port` and print its address; with `block`, until Ctrl-C (then close it and
    return). A port in use is a one-line error."""
    page = build_demo(models)
    try:
        page.queue().launch(server_name=host, server_port=port, prevent_thread_lock=True, **launch_options())
    except OSError as error:
        page.close(verbose=False)
        if "port" in str(error).lower():
            raise ParameterError("port", f"{port}: in use on {host}; choose another") from None
        raise GanappsError(f"{host}:{port}: cannot serve the page ({error})") from None
    print(f"{TITLE}: {page.local_url} (Ctrl-C stops it)", flush=True)
    if block:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            page.close(verbose=False)
            print("demo stopped", flush=True)
    return page

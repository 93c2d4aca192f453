"""`ganapps demo`: the page served by the real command, driven end to end in headless Chromium (selenium).

Set GANAPPS_DEMO_SCREENSHOTS=DIR to keep a screenshot of every tab after its round trip.
"""

import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke, main_error
from PIL import Image

from ganapps import demo
from ganapps.core.errors import ParameterError

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
HAS = {name: importlib.util.find_spec(name) is not None for name in ("gradio", "selenium")}
needs_gradio = pytest.mark.skipif(not HAS["gradio"], reason=f"needs Gradio: {demo.INSTALL_HINT}")
needs_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER and all(HAS.values())),
    reason="needs chromium and chromedriver (apt-get install chromium chromium-driver), selenium and Gradio")
WAIT = 90  # seconds for one round trip: the first use of a tab also imports TensorFlow in the server
SCREENSHOTS = os.environ.get("GANAPPS_DEMO_SCREENSHOTS")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def grid_side(count: int, columns: int, side: int, padding: int = 2) -> tuple[int, int]:
    """(width, height) of `core.images.image_grid` of `count` images of `side` pixels, `columns` wide."""
    rows = -(-count // columns)
    return columns * (side + padding) + padding, rows * (side + padding) + padding


# ---------------------------------------------------------------------------------------------- without a browser


def test_demo_command_help_and_one_line_errors(monkeypatch, capsys):
    shown = invoke("demo", "--help").output
    for flag in ("--superres", "--cgan", "--cgan-text", "--dcgan", "--cyclegan", "--nextframe", "--port", "--host"):
        assert flag in shown
    assert "--share" not in shown
    line = main_error(monkeypatch, capsys, "demo", "--dcgan", "nowhere")
    assert "--dcgan" in line and "nowhere: no such run directory" in line
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if not installed: `import gradio` raises ImportError
    assert "pip install 'ganapps[demo]'" in main_error(monkeypatch, capsys, "demo", "--port", "1")


@needs_gradio
def test_build_demo_offline_and_a_busy_port():
    page = demo.build_demo({"dcgan": "dcgan_glyphs"})
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False" and page.analytics_enabled is False
    assert not any(value for key, value in demo.launch_options().items() if key in ("share", "ssr_mode", "pwa"))
    with pytest.raises(ParameterError, match="dcgan nowhere: no such run directory"):
        demo.build_demo(demo.DemoModels(dcgan="nowhere"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ParameterError, match="in use"):
            demo.serve(host="127.0.0.1", port=taken.getsockname()[1], block=False)


@needs_gradio
def test_edit_tab_follows_the_painted_strokes():
    import gradio

    page = demo.build_demo()
    calls = {block.api_name: block.fn for block in page.fns.values()}
    start = calls["edit_start"](12)["background"]
    assert start.shape == (demo.EDIT_CANVAS, demo.EDIT_CANVAS, 4) and (start[..., 3] == 255).all()
    pixels = start[::8, ::8, 0].astype(np.float32) / 127.5 - 1.0  # the 32x32 sample, each pixel shown 8x8
    np.testing.assert_array_equal(np.kron(start[::8, ::8, 0], np.ones((8, 8), np.uint8)), start[..., 0])
    bar = np.zeros_like(start)
    bar[40:72, 40:216] = 255  # opaque white over model pixels rows 5-8, columns 5-26
    strip, gif, report = calls["edit_by_strokes"](12, {"background": start, "layers": [bar], "composite": start})
    before, after = (float(x) for x in report.split("stroke distance ")[1].split(", in")[0].split(" -> "))
    assert before == pytest.approx(np.mean((pixels[5:9, 5:27] - 1.0) ** 2), abs=1e-3)  # white is +1
    assert after < before / 2
    assert Image.open(strip).size == grid_side(8, 8, 32) and Image.open(gif).n_frames >= 8
    with pytest.raises(gradio.Error, match="nothing is painted"):
        calls["edit_by_strokes"](12, {"background": start, "layers": [], "composite": start})


# ---------------------------------------------------------------------------------------------- in the browser


@dataclass
class Server:
    url: str
    log: Path  # its stdout and stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`ganapps demo` on a free port, in its own process; its URL once the page answers."""
    port, log = free_port(), tmp_path_factory.mktemp("demo") / "server.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "ganapps.cli", "demo", "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while f"ganapps demo: {url}" not in log.read_text():  # printed once the server is up
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo did not start:\n{log.read_text()}")
            time.sleep(0.2)
        urllib.request.urlopen(url, timeout=10).close()
        yield Server(url, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1500", "--disable-background-networking", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # every request the page makes
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(server, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.url)
    WebDriverWait(browser, WAIT).until(lambda d: len(tabs(d)) == len(demo.TABS))
    return browser


def tabs(driver) -> dict:
    from selenium.webdriver.common.by import By

    return {button.text: button for button in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]")}


def open_tab(driver, name: str) -> None:
    tabs(driver)[name].click()


def click(driver, elem_id: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, elem_id).click()


def upload(driver, elem_id: str, path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=file]").send_keys(str(path))
    shown_images(driver, elem_id)  # the preview: the upload reached the server


_SHOWN = """
const box = document.getElementById(arguments[0]);
const errors = [...document.querySelectorAll('.toast-body')].map(t => t.innerText);
const images = box ? [...box.querySelectorAll('img')].filter(i => i.src.includes('/file=') && i.complete
                                                                && i.naturalWidth > 0) : [];
return {errors, images: images.map(i => [i.naturalWidth, i.naturalHeight, i.src])};
"""


def shown_images(driver, elem_id: str, count: int = 1, other_than: tuple = ()) -> list:
    """[(natural width, natural height, src)] of the images a component shows, once it shows `count` of them (none
    of whose src is in `other_than`); an error message on the page fails at once, with its text."""
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        state = d.execute_script(_SHOWN, elem_id)
        if state["errors"]:
            pytest.fail(f"the page shows an error: {state['errors']}")
        images = [tuple(i) for i in state["images"] if i[2] not in other_than]
        return images if len(images) >= count else False

    return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(ready)


def fetch(src: str) -> np.ndarray:
    with urllib.request.urlopen(src, timeout=30) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())))


def external_requests(driver, base: str) -> list[str]:
    """Every request the browser made since the last call that left this machine's server."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return [u for u in urls if not u.startswith((base, "data:", "blob:"))]


def screenshot(driver, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SCREENSHOTS) / f"{name}.png"))


@needs_browser
def test_page_upscale_and_label_round_trips(page, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    assert page.title == demo.TITLE
    assert list(tabs(page)) == list(demo.TABS)

    # Upscale: a 32x32 PNG comes back x4, bicubic and model both 128x128; the model's is what the command writes.
    from PIL import ImageDraw

    small = Image.new("RGB", (32, 32), (240, 236, 222))  # edges, where bicubic and the model differ
    draw = ImageDraw.Draw(small)
    draw.ellipse((2, 2, 17, 17), fill=(200, 40, 40))
    draw.rectangle((18, 16, 29, 29), outline=(20, 20, 80), width=2)
    draw.text((3, 18), "GA", fill=(0, 0, 0))
    small.save(tmp_path / "small.png")
    upload(page, "upscale-input", tmp_path / "small.png")
    click(page, "upscale-button")
    images = shown_images(page, "upscale-output", count=2)
    assert [(w, h) for w, h, _ in images] == [(128, 128)] * 2
    from ganapps.apps.superres import lab

    written = np.asarray(Image.open(lab.upscale_file(tmp_path / "small.png", "psnr", tmp_path / "cli.png")))  # the demo's model
    assert any(np.array_equal(fetch(src), written) for _, _, src in images)
    screenshot(page, "1_upscale")

    # Digits: label 7, 16 images of 32x32 in the lab's square grid.
    open_tab(page, "Digits")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(page, WAIT).until(lambda d: "classes" in d.find_element(By.ID, "digits-status").text)
    choice = page.find_element(By.CSS_SELECTOR, "#digits-label input")
    choice.click()
    choice.send_keys(Keys.CONTROL, "a")
    choice.send_keys("7", Keys.ENTER)
    WebDriverWait(page, 10).until(lambda d: choice.get_attribute("value") == "7")
    click(page, "digits-label-button")
    (width, height, _), = shown_images(page, "digits-output")
    assert (width, height) == grid_side(16, 4, 32)
    screenshot(page, "2_digits")

    # A caption the text model cannot read: the library's one-line message on the page, no traceback anywhere.
    box = page.find_element(By.CSS_SELECTOR, "#digits-caption textarea")
    box.clear()
    box.send_keys("qwerty zzz")
    click(page, "digits-caption-button")
    message = WebDriverWait(page, WAIT).until(lambda d: " ".join(
        t.text for t in d.find_elements(By.CSS_SELECTOR, ".toast-body")))
    assert "none of its words are in the model's vocabulary" in message and "Traceback" not in message
    for close in page.find_elements(By.CSS_SELECTOR, ".toast-close"):
        close.click()
    WebDriverWait(page, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".toast-body"))
    assert "Traceback" not in server.log.read_text()
    assert external_requests(page, server.url) == []


@needs_browser
def test_page_walk_translate_and_next_frame_round_trips(page, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Latent walk: 10 frames of 32x32 in one row, and the forth-and-back GIF (4x, one frame in its gutter).
    open_tab(page, "Latent walk")
    click(page, "walk-button")
    (strip_w, strip_h, _), = shown_images(page, "walk-strip")
    (gif_w, gif_h, _), = shown_images(page, "walk-gif")
    assert (strip_w, strip_h) == grid_side(10, 10, 32) and (gif_w, gif_h) == (4 * 36, 4 * 36)
    screenshot(page, "3_latent_walk")

    # Edit by strokes: the start image on the canvas, a white bar painted across it with the pointer, the path
    # from the start image to the result as 8 frames of 32x32.
    from selenium.webdriver.common.action_chains import ActionChains

    open_tab(page, "Edit by strokes")
    click(page, "edit-show")
    canvas = WebDriverWait(page, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#edit-canvas canvas") or False)[-1]
    time.sleep(1)  # the background is drawn after the canvas appears
    ActionChains(page).move_to_element_with_offset(canvas, -60, -50).click_and_hold() \
        .move_by_offset(60, 0).move_by_offset(60, 0).release().perform()
    click(page, "edit-button")
    (edit_w, edit_h, _), = shown_images(page, "edit-strip")
    assert (edit_w, edit_h) == grid_side(8, 8, 32)
    assert "stroke distance" in page.find_element(By.ID, "edit-distances").text
    screenshot(page, "4_edit")

    # Translate: a held-out example scene, its translation and its true translation, all 64x64.
    open_tab(page, "Translate")
    click(page, "translate-example")
    shown_images(page, "translate-input")
    shown_images(page, "translate-truth")
    click(page, "translate-button")
    (width, height, flat_to_outlined), = shown_images(page, "translate-output")
    assert (width, height) == (64, 64)
    screenshot(page, "4_translate")
    # The other direction redraws the example in the outlined style (its truth: the flat one) and clears the output.
    (_, _, flat), = shown_images(page, "translate-input")
    page.find_element(By.CSS_SELECTOR, "#translate-direction input[value=b2a]").click()
    (_, _, outlined), = shown_images(page, "translate-input", other_than=(flat,))
    assert np.array_equal(fetch(flat), fetch(shown_images(page, "translate-truth")[0][2]))
    click(page, "translate-button")
    (width, height, _), = shown_images(page, "translate-output", other_than=(flat_to_outlined,))
    assert (width, height) == (64, 64)

    # Next frame: an example clip (10 context frames), 8 predicted; the strip's second row is the truth.
    open_tab(page, "Next frame")
    click(page, "nextframe-example")
    shown_images(page, "nextframe-input")
    click(page, "nextframe-button")
    shown_images(page, "nextframe-gif")
    (width, height, _), = shown_images(page, "nextframe-strip")
    assert (width, height) == grid_side(36, 18, 64)
    screenshot(page, "5_next_frame")
    assert external_requests(page, server.url) == []
    assert "Traceback" not in server.log.read_text()

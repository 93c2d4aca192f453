"""The README's front-page pictures, one per app, drawn by the shipped models through the notebook API:
`python3 docs/pictures.py` (about a minute on a 2-core CPU; toy trains its default recipe first, another minute).

Nothing here is a test image: superres upscales scikit-image's public-domain astronaut photograph, which the shipped
models never saw and no benchmark uses, downscaled cleanly and degraded as a camera would; the others draw from
their apps' own offline data.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from ganapps.apps.cgan import lab as cgan
from ganapps.apps.cyclegan import data as scenes
from ganapps.apps.cyclegan import lab as cyclegan
from ganapps.apps.dcgan import lab as dcgan
from ganapps.apps.nextframe import data as clips
from ganapps.apps.nextframe import lab as nextframe
from ganapps.apps.superres import data as sr_data
from ganapps.apps.superres import degradations as sr_degradations
from ganapps.apps.superres import lab as superres
from ganapps.apps.toy import lab as toy
from ganapps.core.data import to_float
from ganapps.core.images import save_image_grid

OUT = Path(__file__).parent / "pictures"


def save(images: np.ndarray, name: str, columns: int, value_range=(-1.0, 1.0)) -> None:
    save_image_grid(images, OUT / name, columns, value_range)
    print(OUT / name)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    save(dcgan.sample(None, 32, seed=1), "dcgan.png", 8)

    labels = cgan.generate(None, num=8, seed=1)  # one row per class
    save(labels.images, "cgan_label.png", 8)
    captions = [cgan.generate(None, text=caption, num=8, seed=1).images for caption in
                ("a large red 3", "a small green 7 rotated 30 degrees left", "a blue 5 rotated 40 degrees right")]
    save(np.concatenate(captions), "cgan_text.png", 8)

    held_out = scenes.synthetic(6, 64, held_out=True)
    a = to_float(held_out.a).numpy()
    translated = cyclegan.translate_images(None, a, "a2b")
    save(np.concatenate([a, translated]), "cyclegan.png", 6)

    sequence = clips.load_moving_mnist(1, held_out=True).frames / 127.5 - 1.0  # [20, 64, 64, 1]
    prediction = nextframe.predict(None, sequence[:10], steps=10)
    rows = np.concatenate([sequence[:20], np.concatenate([sequence[:10], prediction.frames])])
    save(rows, "nextframe.png", 20)

    from skimage import data as photos

    high = photos.astronaut()[30:222, 150:342].astype(np.float32) / 255.0  # 192 x 192: the face and the flag
    for name, low in (("superres.png", sr_data.downscale(high, 4)),  # clean bicubic input, then a camera-like one
                      ("superres_real.png", sr_degradations.degraded_image(high, 4, seed=0))):
        upscaled = [superres._open(model).upscale(low) for model in ("psnr", "real")]
        bicubic = np.clip(sr_data.upscale_bicubic(low, 4), 0, 1)
        save(np.stack([bicubic, *upscaled, high]), name, 4, (0.0, 1.0))

    run = toy.train(toy.Config(), toy.APP.options(out=Path("runs") / "toy-pictures"))
    Image.open(run.plot).save(OUT / "toy.png", optimize=True)
    print(OUT / "toy.png")


if __name__ == "__main__":
    main()

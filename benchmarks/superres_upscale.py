"""Upscaling speed and peak memory of `ganapps superres upscale`, tiled, on a 4000x3000 photo-sized input.

    python benchmarks/superres_upscale.py [--width 4000 --height 3000] [--model psnr|real|RUN_OR_SAVEDMODEL]

Both shipped models (psnr: superres_x4, real: superres_x4_real) unless --model names one. Each configuration runs
in its own process, so its peak resident memory (ru_maxrss) is its own. Prints one JSON line per configuration
(seconds, seconds per output megapixel, peak MiB) and, per model, a line with the ratios: the big image tiled
against a small one whole, to show that memory stays bounded while time grows with pixels.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def measure(width: int, height: int, tile: int, model: str | None, folder: Path) -> dict:
    """Upscale a synthetic photo of `width` x `height` in this process; call it in a fresh one."""
    import resource
    import time

    import numpy as np
    from ganapps.apps.superres import lab, models
    from ganapps.apps.superres.recipe import BLOCKS, FILTERS, MODEL_NAMES
    from PIL import Image

    from ganapps.core import runs
    from ganapps.core.config import shipped_model_path, shipped_name

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    picture = np.stack([np.sin(x / 37) * np.cos(y / 23), np.sin((x + y) / 51), np.cos(x * y / 9e4)], -1)
    source = folder / f"in_{width}x{height}.png"
    Image.fromarray(((picture * 0.5 + 0.5) * 255).astype(np.uint8)).save(source, compress_level=1)
    del picture, x, y
    shipped = shipped_name(model, MODEL_NAMES)
    if model in MODEL_NAMES and not shipped_model_path(shipped).is_dir():  # speed and memory do not need weights
        upscaler = lab.Upscaler.from_keras(models.srresnet(4, BLOCKS, FILTERS), "untrained")
        name = f"{model}: recipe-sized, untrained"
    else:
        upscaler, name = runs.open_model(lab.APP, shipped), f"{model}: {shipped}"
    start = time.perf_counter()
    lab.upscale_file(source, upscaler, folder / "out.png", tile=tile)
    seconds = time.perf_counter() - start
    megapixels = width * height * upscaler.scale**2 / 1e6
    return {"input": f"{width}x{height}", "tile": tile, "model": name, "seconds": round(seconds, 1),
            "output_megapixels": round(megapixels, 1), "seconds_per_output_megapixel": round(seconds / megapixels, 3),
            "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--tile", type=int, default=None, help="default: the app's")
    parser.add_argument("--model", default=None)
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from ganapps.apps.superres.recipe import MODEL_NAMES, TILE

    tile = args.tile or TILE
    if args.child:
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(measure(*args.child, args.model, Path(folder))), flush=True)
        return
    for model in [args.model] if args.model else list(MODEL_NAMES):
        rows = []
        for width, height, tile_side in ((args.width // 4, args.height // 4, 0), (args.width, args.height, tile)):
            command = [sys.executable, __file__, "--child", str(width), str(height), str(tile_side), "--model", model]
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
        small, big = rows
        print(json.dumps({
            "model": model,
            "pixels_ratio": round(big["output_megapixels"] / small["output_megapixels"], 1),
            "time_ratio": round(big["seconds"] / small["seconds"], 1),
            "peak_memory_ratio": round(big["peak_mib"] / small["peak_mib"], 2),
            "peak_under_4_gib": big["peak_mib"] < 4096,
        }), flush=True)

if __name__ == "__main__":
    main()

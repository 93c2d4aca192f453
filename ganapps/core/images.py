"""Image files in and out: one loader with one-line errors, one grid writer, atomic writes."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganapps.core.errors import GanappsError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp's private 0o600 would hide samples from others


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename, so a crash never leaves half a file.

    A path that cannot be written (a folder, no permission, a full disk) gives a one-line `GanappsError`.
    """
    path = Path(path)
    if path.is_dir():
        raise GanappsError(f"{path}: is a folder, expected a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise GanappsError(f"{path}: cannot write to {path.parent} ({error.strerror or error})") from error
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise GanappsError(f"{path}: cannot write ({error.strerror or error})") from error
        raise


def to_uint8(images: np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Map float images in `value_range` to uint8."""
    low, high = value_range
    scaled = (np.asarray(images, np.float32) - low) / (high - low)
    return np.clip(np.round(scaled * 255.0), 0, 255).astype(np.uint8)


def save_image(image: np.ndarray, path: str | os.PathLike, value_range=(-1.0, 1.0)) -> None:
    """Save one HWC (or HW) float image atomically; the format follows the suffix."""
    array = to_uint8(image, value_range)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=_format(path))
    atomic_write_bytes(path, buffer.getvalue())


def _format(path) -> str:
    """Pillow's format name for the path's suffix (PNG when there is none); an unknown suffix is a user error."""
    suffix = Path(path).suffix.lower()
    if not suffix:
        return "PNG"
    if suffix not in IMAGE_SUFFIXES:
        raise GanappsError(f"{path}: unknown image type {suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}")
    return Image.registered_extensions()[suffix]


def image_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile NHWC images into one image, `columns` wide (square by default), with a white gutter."""
    images = np.asarray(images)
    count, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        images.max() if images.size else 1.0, dtype=images.dtype,
    )
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        top, left = padding + r * (height + padding), padding + c * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_image_grid(images: np.ndarray, path, columns: int | None = None, value_range=(-1.0, 1.0)) -> None:
    """Save a batch of images as one PNG grid."""
    low, high = value_range
    grid = image_grid(np.clip(images, low, high), columns)
    save_image(grid, path, value_range)


def load_image(path: str | os.PathLike, channels: int = 3) -> np.ndarray:
    """Read an image file as float32 HWC in [0, 1]; 16-bit, palette, greyscale and RGBA are converted.

    Raises `GanappsError` naming the file when it is missing, not an image, or corrupt.
    """
    path = Path(path)
    if not path.exists():
        raise GanappsError(f"{path}: no such file")
    if path.is_dir():
        raise GanappsError(f"{path}: is a folder, expected an image file")
    try:
        if _png_header(path)[24:26] in (b"\x10\x02", b"\x10\x06"):  # 16-bit RGB(A): Pillow would drop the low byte
            return _decode_png16(path, channels)
        with Image.open(path) as image:
            image.load()
            array = _to_float(image, channels)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise GanappsError(f"{path}: not a readable image ({error.__class__.__name__}: {error})") from error
    return array


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_header(path: str | os.PathLike) -> bytes:
    """The first 26 bytes when they are a PNG signature and its IHDR chunk, else b""."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    return head if len(head) == 26 and head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR" else b""


def png_bit_depth(path: str | os.PathLike) -> int:
    """Bits per sample a PNG declares (0 for any other file): Pillow reads 16-bit colour PNGs as 8-bit, so
    readers and writers that keep 16 bits ask the header."""
    head = _png_header(path)
    return head[24] if head else 0


def _decode_png16(path, channels: int) -> np.ndarray:
    """A 16-bit colour PNG at full precision, through TensorFlow's decoder (Pillow has no 48-bit mode)."""
    import tensorflow as tf

    try:
        array = tf.io.decode_png(Path(path).read_bytes(), channels=channels, dtype=tf.uint16).numpy()
    except tf.errors.OpError:
        raise ValueError("corrupt 16-bit PNG data") from None
    return array.astype(np.float32) / 65535.0


def png_bytes(array: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG bytes of a uint8 or uint16 HW or HWC array; 16-bit colour through TensorFlow's encoder (Pillow writes no
    48- or 64-bit PNG), everything else through Pillow (uint16 grey becomes its I;16)."""
    if array.dtype == np.uint16 and array.ndim == 3:
        import tensorflow as tf

        return tf.io.encode_png(array, compression=compress_level).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def _to_float(image: Image.Image, channels: int) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if array.max() > 255 or image.mode.startswith("I;16") else 255.0
        array = np.clip(array / peak, 0.0, 1.0)[..., None]
    else:
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
        if image.mode == "P":
            image = image.convert("RGBA")
        array = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
        if array.ndim == 2:
            array = array[..., None]
        return array
    if channels == 3:
        array = np.repeat(array, 3, axis=-1)
    elif channels == 4:
        array = np.concatenate([np.repeat(array, 3, axis=-1), np.ones_like(array)], axis=-1)
    return array


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files below `folder`, sorted; a one-line error when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GanappsError(f"{folder}: no such folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GanappsError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
    return files


def output_path(source: Path, tag: str, out: Path | None = None, root: Path | None = None) -> Path:
    """Where an app writes what it made of the image `source`: `photo.jpg` -> `photo_TAG.jpg` beside it, or in the
    folder `out` (below it, the path under `root` when a whole folder `root` was given); `out` itself when it is a
    file name. JPEG stays JPEG; every other kind becomes PNG (lossless, keeps alpha)."""
    source = Path(source)
    suffix = source.suffix.lower() if source.suffix.lower() in (".jpg", ".jpeg") else ".png"
    name = f"{source.stem}_{tag}{suffix}"
    if out is None:
        return source.with_name(name)
    out = Path(out)
    if root is not None:
        return out / source.relative_to(root).parent / name
    return out / name if out.is_dir() else out


def fit_image(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop a uint8 HWC image to a square and resize it to `size` (Pillow's filters antialias)."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    if side == size:
        return square
    pil = Image.fromarray(square[..., 0] if square.shape[-1] == 1 else square)
    resized = np.asarray(pil.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0))
    return resized.reshape(size, size, square.shape[-1])


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (or float) NHWC images as 1 (ITU-R 601 luma, as Pillow's "L") or 3 channels, in their own dtype."""
    have = images.shape[-1]
    if have == channels:
        return images
    if (have, channels) == (1, 3):
        return np.repeat(images, 3, axis=-1)
    if (have, channels) == (3, 1):
        luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        if images.dtype != np.uint8:
            return luma[..., None]
        return np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., None]
    raise GanappsError(f"cannot convert {have}-channel images to {channels} channels")

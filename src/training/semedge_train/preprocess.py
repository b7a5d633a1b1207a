"""The preprocessing contract of src/SemEdge.Runtime/Inference/ModelManifest.cs, mirrored in numpy.

The C# runtime and this trainer must turn the same file into the same tensor, otherwise the model is
trained on one distribution and run on another. Steps: decode to one channel in [0,1] (8-bit /255,
16-bit /65535, colour by BT.601 luma; a pixel with alpha composited over black, i.e. grey x alpha), area resize
(separable, aspect not kept), then (v - mean) / std.

The fab flow (fab_data.py) does not use this decoder: it asks the daemon's own (`semedge preprocess`), which is
exact for every format by construction. PIL and Skia/LibTiff agree exactly on PNG (every 8-bit mode and 16-bit
grey), BMP and TIFF; JPEG decoders may differ by a grey level here and there, and PIL reads 16-bit colour or
grey+alpha PNGs at 8 bits.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DEFAULT_SIZE = 128
DEFAULT_MEAN = 0.5
DEFAULT_STD = 0.25

# BT.601 luma weights, as in ModelManifest.cs.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)


def to_unit_grey(image: Image.Image) -> np.ndarray:
    """Decodes a PIL image to a float32 [H, W] array in [0, 1]."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return (np.asarray(image, dtype=np.float64) / 65535.0).astype(np.float32)
    if mode == "I":
        # PIL widens 16-bit grey PNG/TIFF to 32-bit "I"; values above 16 bits would mean a format we
        # do not define, so refuse rather than silently clip.
        values = np.asarray(image, dtype=np.float64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"{mode} image with values outside 16 bits is not supported")
        return (values / 65535.0).astype(np.float32)
    if mode == "L":
        return (np.asarray(image, dtype=np.float64) / 255.0).astype(np.float32)
    if mode in ("LA", "La"):
        la = np.asarray(image.convert("LA"), dtype=np.float32) / np.float32(255.0)
        return (la[..., 0] * la[..., 1]).astype(np.float32)
    if mode == "1":
        return (np.asarray(image.convert("L"), dtype=np.float64) / 255.0).astype(np.float32)
    if mode in ("RGBA", "PA", "RGBa") or (mode == "P" and "transparency" in image.info):
        # Composited over black as the runtime does it, in float32 with the same operation order.
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        luma = (np.float32(0.299) * rgba[..., 0] + np.float32(0.587) * rgba[..., 1]
                + np.float32(0.114) * rgba[..., 2]) / np.float32(255.0)
        return (luma * (rgba[..., 3] / np.float32(255.0))).astype(np.float32)
    if mode in ("RGB", "RGBX", "P", "CMYK", "YCbCr"):
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
        return ((rgb @ _LUMA) / 255.0).astype(np.float32)
    raise ValueError(f"unsupported image mode {mode}")


def load_unit_grey(path: str | Path) -> np.ndarray:
    with Image.open(path) as image:
        image.load()
        return to_unit_grey(image)


@functools.lru_cache(maxsize=32)
def area_weights(src: int, dst: int) -> np.ndarray:
    """[dst, src] matrix: row o holds the overlap of source pixel [i, i+1) with the output footprint
    [o*s, (o+1)*s), s = src/dst, divided by s, so every row sums to 1. Works for up- and downscaling."""
    if src <= 0 or dst <= 0:
        raise ValueError(f"sizes must be positive (src={src}, dst={dst})")
    scale = src / dst
    lo = np.arange(dst, dtype=np.float64)[:, None] * scale
    hi = lo + scale
    i = np.arange(src, dtype=np.float64)[None, :]
    overlap = np.clip(np.minimum(hi, i + 1.0) - np.maximum(lo, i), 0.0, None)
    weights = overlap / scale
    weights.setflags(write=False)
    return weights


def area_resize(grey: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-weighted box resize of a [H, W] array to [height, width] (aspect not kept)."""
    if grey.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {grey.shape}")
    h, w = grey.shape
    if (h, w) == (height, width):
        return grey.astype(np.float32, copy=True)
    rows = area_weights(h, height)
    cols = area_weights(w, width)
    return (rows @ grey.astype(np.float64) @ cols.T).astype(np.float32)


def normalise(unit: np.ndarray, mean: float = DEFAULT_MEAN, std: float = DEFAULT_STD) -> np.ndarray:
    return ((unit - np.float32(mean)) / np.float32(std)).astype(np.float32)


def preprocess_file(path: str | Path, size: int = DEFAULT_SIZE, mean: float = DEFAULT_MEAN,
                    std: float = DEFAULT_STD) -> np.ndarray:
    """The full runtime contract for one file: [size, size] float32, normalised."""
    return normalise(area_resize(load_unit_grey(path), size, size), mean, std)

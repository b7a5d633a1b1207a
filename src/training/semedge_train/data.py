"""Class-folder datasets: DIR/{train,val,test}/{class}/*.{png,jpg,bmp,tif}.

Every image is decoded and area-resized once into an in-memory [N, S, S] float32 array in [0, 1]
(optionally cached on disk); augmentation then works on batches of tensors, which is far cheaper on a
small CPU than decoding 512x512 files every epoch.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from PIL import Image

from .preprocess import IMAGE_EXTENSIONS, area_resize, load_unit_grey

LABELS_FILE = "labels.csv"


class DatasetError(Exception):
    """A dataset folder that does not match the expected layout; the message says what to fix."""


@dataclass(frozen=True)
class Split:
    name: str
    images: np.ndarray  # [N, S, S] float32 in [0, 1]
    labels: np.ndarray  # [N] int64, index into classes
    files: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self, num_classes: int) -> list[int]:
        return np.bincount(self.labels, minlength=num_classes).tolist()


def list_split(split_dir: Path, classes: Sequence[str]) -> list[tuple[Path, int]]:
    """Files and labels of one split; the class folders must be exactly `classes`."""
    if not split_dir.is_dir():
        raise DatasetError(f"{split_dir}: split folder not found")
    present = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    missing = [c for c in classes if c not in present]
    extra = [c for c in present if c not in classes]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing class folder(s): " + ", ".join(missing))
        if extra:
            parts.append("unexpected class folder(s): " + ", ".join(extra) + " (pass --classes to train on them)")
        raise DatasetError(f"{split_dir}: " + "; ".join(parts))
    items: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        files = sorted(p for p in (split_dir / name).iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
        if not files:
            raise DatasetError(f"{split_dir / name}: no images (png, jpg, bmp, tif)")
        items.extend((f, label) for f in files)
    return items


def load_boxes(split_dir: Path, files: Sequence[str]) -> np.ndarray | None:
    """Defect boxes of a split's images as fractions of the image, [N, 4] (x0, y0, x1, y1), NaN where an image
    has none (clean). They come from DIR/labels.csv as `semedge synth` writes it (file relative to DIR, box in
    that image's pixels); a dataset without the file, or without a row for every image, gives None, and
    training then runs without the box loss."""
    labels_file = split_dir.parent / LABELS_FILE
    if not labels_file.is_file():
        return None
    with labels_file.open(newline="") as f:
        rows = {row["file"]: row for row in csv.DictReader(f)}
    boxes = np.full((len(files), 4), np.nan, dtype=np.float32)
    root = split_dir.parent.resolve()
    for n, path in enumerate(files):
        try:
            row = rows[Path(path).resolve().relative_to(root).as_posix()]
        except (KeyError, ValueError):
            return None
        if not row.get("x"):
            continue
        with Image.open(path) as image:
            width, height = image.size
        x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
        boxes[n] = (x / width, y / height, (x + w) / width, (y + h) / height)
    return boxes


def box_masks(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """[B, 4] fractional boxes (NaN: none) to [B, 1, size, size] masks, 1 inside the box."""
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    inside_x = (centres[None, :] >= boxes[:, 0:1]) & (centres[None, :] < boxes[:, 2:3])
    inside_y = (centres[None, :] >= boxes[:, 1:2]) & (centres[None, :] < boxes[:, 3:4])
    return (inside_y[:, :, None] & inside_x[:, None, :]).float().unsqueeze(1)


def _cache_key(items: list[tuple[Path, int]], size: int) -> str:
    digest = hashlib.sha256(f"v1:{size}".encode())
    for path, label in items:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{label}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


# Splits at least this large are decoded by a pool of processes; below it, starting them costs more than it saves.
PARALLEL_DECODE_MIN = 512


def _decode(path: Path, size: int) -> np.ndarray:
    try:
        return area_resize(load_unit_grey(path), size, size)
    except Exception as error:  # a corrupt file must name itself, not stop training anonymously
        raise DatasetError(f"{path}: cannot read image ({error})") from error


def load_split(split_dir: Path, classes: Sequence[str], size: int, cache_dir: Path | None = None,
               name: str | None = None, log=print) -> Split:
    items = list_split(split_dir, classes)
    name = name or split_dir.name
    cache_file = None
    if cache_dir is not None:
        cache_file = cache_dir / f"{name}-{size}-{_cache_key(items, size)}.npz"
        if cache_file.exists():
            with np.load(cache_file) as cached:
                return Split(name, cached["images"], cached["labels"], tuple(str(p) for p, _ in items))
    images = np.empty((len(items), size, size), dtype=np.float32)
    paths = [path for path, _ in items]
    workers = min(os.cpu_count() or 1, 8)
    if workers > 1 and len(paths) >= PARALLEL_DECODE_MIN:
        # Decoding thousands of PNGs is most of a build's preprocessing time: use every core.
        with ProcessPoolExecutor(workers) as pool:
            for n, image in enumerate(pool.map(_decode, paths, [size] * len(paths), chunksize=64)):
                images[n] = image
    else:
        for n, path in enumerate(paths):
            images[n] = _decode(path, size)
    labels = np.array([label for _, label in items], dtype=np.int64)
    log(f"{name}: {len(items)} images preprocessed to {size}x{size}")
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".{cache_file.stem}.{os.getpid()}.npz")
        np.savez(tmp, images=images, labels=labels)
        tmp.replace(cache_file)
    return Split(name, images, labels, tuple(str(p) for p, _ in items))


def to_screen_labels(labels: np.ndarray, classes: Sequence[str], clean_class: str = "clean") -> np.ndarray:
    """Maps class labels to the screen's clean (0) / defect (1)."""
    if clean_class not in classes:
        raise DatasetError(f"the screen needs a '{clean_class}' class; classes are {', '.join(classes)}")
    return (labels != list(classes).index(clean_class)).astype(np.int64)


@dataclass(frozen=True)
class Augmentation:
    """Random, label-preserving changes applied to square [B, 1, S, S] batches in [0, 1]. SEM defects have no
    preferred orientation and the microscope's brightness, contrast and noise drift, so the model must not
    depend on any of them.

    The defaults are built for transfer to real review images, which differ from synthetic ones in magnification,
    focus, detector response and compression: a wide zoom (a random resized crop, 1/1.35x to 1.35x, on half the
    images), gamma, Gaussian blur, stronger noise and JPEG artefacts. `mild()` is the set before them (2026-11)."""

    flips: bool = True
    rot90: bool = True
    max_rotate_deg: float = 8.0
    max_translate: float = 0.06
    # Zoom factor range: 1 + max_scale at most, 1 / (1 + max_scale) at least (log-uniform).
    max_scale: float = 0.35
    affine_p: float = 0.5
    brightness: float = 0.08
    contrast: float = 0.25
    max_noise: float = 0.05
    # Gamma exp(U(-gamma, gamma)) on a share of the images: a detector's non-linear response.
    gamma: float = 0.4
    gamma_p: float = 0.5
    # Gaussian blur with sigma U(0.3, max_blur_sigma) pixels (at the model's input size): focus and beam spot.
    blur_p: float = 0.25
    max_blur_sigma: float = 1.2
    # JPEG round trip at quality U(lo, hi): many real images are compressed figure crops.
    jpeg_p: float = 0.2
    jpeg_quality: tuple[int, int] = (20, 75)

    @classmethod
    def mild(cls) -> "Augmentation":
        """The augmentation of the 2026-11 builds: small warps, brightness/contrast and noise only."""
        return cls(max_scale=0.08, affine_p=0.2, contrast=0.2, max_noise=0.03, gamma=0.0, blur_p=0.0, jpeg_p=0.0)

    @classmethod
    def geometric(cls, **changes) -> "Augmentation":
        """Flips, quarter turns and the affine warp only (no photometric change)."""
        return replace(cls(brightness=0.0, contrast=0.0, max_noise=0.0, gamma=0.0, blur_p=0.0, jpeg_p=0.0), **changes)

    def describe(self) -> dict:
        return asdict(self)

    def __call__(self, batch: torch.Tensor, generator: torch.Generator,
                 mask: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Augments `batch`; a `mask` ([B, 1, S, S], e.g. the defect boxes) gets the same flips, rotations
        and affine warp, and is returned beside the images."""
        b = batch.shape[0]
        x = batch if mask is None else torch.cat([batch, mask], 1)
        # Flips and quarter turns are exact copies (pixel centres land on pixel centres); only the images drawn
        # for the small affine warp are resampled, by one grid_sample. Resampling the whole batch every step cost
        # as much as a fifth of a training step on a small CPU.
        flip = (torch.rand(b, 2, generator=generator) < 0.5) if self.flips else torch.zeros(b, 2, dtype=torch.bool)
        quarter = torch.randint(0, 4, (b,), generator=generator) if self.rot90 else torch.zeros(b, dtype=torch.long)
        if self.flips or self.rot90:
            # One copy per distinct orientation (at most 16) rather than per image.
            code = flip[:, 0].long() * 8 + flip[:, 1].long() * 4 + quarter
            oriented = torch.empty_like(x)
            for value in code.unique().tolist():
                chosen = (code == value).nonzero().flatten()
                dims = [d for d, on in ((-2, value & 8), (-1, value & 4)) if on]
                group = x.index_select(0, chosen)
                group = group.flip(dims) if dims else group
                oriented.index_copy_(0, chosen, torch.rot90(group, value & 3, (-2, -1)))
            x = oriented
        if self.affine_p > 0:
            chosen = torch.rand(b, generator=generator) < self.affine_p
            angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(self.max_rotate_deg)
            scale = torch.exp((torch.rand(b, generator=generator) * 2 - 1) * math.log1p(self.max_scale))
            shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * self.max_translate * 2
            if bool(chosen.any()):
                cos, sin = torch.cos(angle[chosen]) / scale[chosen], torch.sin(angle[chosen]) / scale[chosen]
                theta = torch.stack([torch.stack([cos, -sin, shift[chosen, 0]], 1),
                                     torch.stack([sin, cos, shift[chosen, 1]], 1)], 1)
                warped = x[chosen]
                grid = F.affine_grid(theta, list(warped.shape), align_corners=False)
                if x is batch:
                    x = x.clone()  # never write into the caller's tensor
                x[chosen] = F.grid_sample(warped, grid, mode="bilinear", padding_mode="reflection",
                                          align_corners=False)
        if mask is not None:
            x, mask = x[:, :1], x[:, 1:]
        if self.gamma > 0 and self.gamma_p > 0:
            chosen = (torch.rand(b, 1, 1, 1, generator=generator) < self.gamma_p).float()
            g = torch.exp((torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * self.gamma * chosen)
            x = x.clamp(0.0, 1.0) ** g
        if self.contrast > 0 or self.brightness > 0:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            c = 1 + (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * self.contrast
            d = (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * self.brightness
            x = (x - mean) * c + mean + d
        if self.blur_p > 0:
            chosen = torch.rand(b, generator=generator) < self.blur_p
            sigma = 0.3 + torch.rand(b, generator=generator) * max(self.max_blur_sigma - 0.3, 0.0)
            if bool(chosen.any()):
                x = x.clone() if x is batch else x
                x[chosen] = gaussian_blur(x[chosen], sigma[chosen])
        if self.max_noise > 0:
            sigma = torch.rand(b, 1, 1, 1, generator=generator) * self.max_noise
            x = x + torch.randn(x.shape, generator=generator) * sigma
        x = x.clamp(0.0, 1.0)
        if self.jpeg_p > 0:
            chosen = (torch.rand(b, generator=generator) < self.jpeg_p).nonzero().flatten().tolist()
            lo, hi = self.jpeg_quality
            qualities = torch.randint(lo, hi + 1, (b,), generator=generator).tolist()
            if chosen:
                x = x.clone() if x is batch else x
                for i in chosen:
                    x[i, 0] = jpeg_round_trip(x[i, 0], qualities[i])
        return x if mask is None else (x, mask)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """[B, 1, H, W] blurred with a per-image Gaussian of standard deviation `sigma` [B] pixels (separable,
    reflected at the border)."""
    radius = int(math.ceil(3 * float(sigma.max())))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernels = torch.exp(-0.5 * (taps[None, :] / sigma[:, None].to(x.dtype)) ** 2)
    kernels = kernels / kernels.sum(1, keepdim=True)
    b = x.shape[0]
    y = F.pad(x.reshape(1, b, *x.shape[-2:]), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, kernels[:, None, None, :], groups=b)
    y = F.conv2d(y, kernels[:, None, :, None], groups=b)
    return y.reshape(x.shape)


def jpeg_round_trip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """A [H, W] image in [0, 1] through an 8-bit JPEG encode and decode (PIL) at `quality`."""
    buffer = io.BytesIO()
    array = (image.detach().clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)
    Image.fromarray(array, mode="L").save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return torch.from_numpy(np.asarray(decoded.convert("L"), dtype=np.float32) / 255.0)


def batches(n: int, batch_size: int, generator: torch.Generator | None, drop_last: bool = False):
    """Index batches; a seeded generator gives the same order on every run."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    stop = n - (n % batch_size) if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


class Progress:
    """One line per epoch: redrawn in place on a terminal, printed once at the end otherwise (a CI log
    should not fill with carriage returns)."""

    def __init__(self, total: int, label: str, stream=None):
        self._total = max(total, 1)
        self._label = label
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._done = 0

    def update(self, n: int, status: str = "") -> None:
        self._done += n
        if self._tty:
            filled = int(30 * self._done / self._total)
            bar = "#" * filled + "." * (30 - filled)
            self._stream.write(f"\r{self._label} [{bar}] {self._done}/{self._total} {status}  ")
            self._stream.flush()

    def close(self, status: str = "") -> None:
        if self._tty:
            self._stream.write("\n")
        else:
            self._stream.write(f"{self._label} {self._done}/{self._total} {status}\n")
        self._stream.flush()

"""A fab's own labelled images, as a process engineer has them: class folders under train/ and val/ (test/
optional), with folder names that may not be ours, classes that are missing or empty, images in every
format and mode the SEM or a review tool writes, imbalanced counts, and the same picture in two splits.

Images are decoded and preprocessed by the daemon's own code (`semedge preprocess`: the C# ImageDecoder and
Preprocessor), so the model learns from exactly the tensors it will see on the board: every PNG mode, JPEG,
BMP, 8/16-bit TIFF, alpha composited over black.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import DEFAULT_CLASSES

REPO = Path(__file__).resolve().parents[3]
SEMEDGE = REPO / "scripts" / "semedge"
# What `semedge evaluate` and the daemon's drop folder accept, by extension (the decoder sniffs the bytes).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
SPLITS = ("train", "val", "test")
# Near duplicates: cosine similarity of the mean-free 32x32 thumbnails at or above this. Resized, recompressed or
# slightly re-levelled copies of one picture score above 0.97; distinct synthetic images of the same layout scored
# at most 0.93 in the fab proxy (1,960 images).
NEAR_DUPLICATE_SIMILARITY = 0.97


class FabDataError(Exception):
    """A dataset the fab flow cannot use; the message says what to change."""


@dataclass(frozen=True)
class FabImage:
    path: Path
    split: str  # train, val, test or unlabelled
    label: int  # index into the classes, -1 for unlabelled
    folder: str  # the folder name as the fab wrote it


@dataclass
class FabScan:
    classes: tuple[str, ...]
    images: list[FabImage]
    mapping: dict[str, str]
    ignored: list[str] = field(default_factory=list)

    def split(self, name: str) -> list[FabImage]:
        return [i for i in self.images if i.split == name]

    def counts(self, name: str) -> list[int]:
        counts = [0] * len(self.classes)
        for image in self.split(name):
            counts[image.label] += 1
        return counts

    def without_training_images(self) -> list[str]:
        return [c for c, n in zip(self.classes, self.counts("train")) if n == 0]


def parse_mapping(text: str | None, classes: Sequence[str] = DEFAULT_CLASSES) -> dict[str, str]:
    """`--map fabname=bridge,Particles=particle`: folder names to our classes. Several folders may map to one class."""
    mapping: dict[str, str] = {}
    if not text:
        return mapping
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "=" not in part:
            raise FabDataError(f"--map entry '{part}' is not FOLDER=CLASS (e.g. --map bridging=bridge,pcl=particle)")
        folder, target = (s.strip() for s in part.split("=", 1))
        if target not in classes:
            raise FabDataError(f"--map {folder}={target}: '{target}' is not a class; the classes are {', '.join(classes)}")
        if folder in mapping and mapping[folder] != target:
            raise FabDataError(f"--map names folder '{folder}' twice ({mapping[folder]} and {target})")
        mapping[folder] = target
    return mapping


def _images_under(folder: Path) -> tuple[list[Path], list[str]]:
    images, ignored = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        (images if path.suffix.lower() in IMAGE_EXTENSIONS else ignored).append(path)
    return images, [str(p) for p in ignored]


def scan(data: Path, mapping: dict[str, str] | None = None, unlabelled: Path | None = None,
         classes: Sequence[str] = DEFAULT_CLASSES) -> FabScan:
    """Lists every image with its split and class. Missing or empty class folders are fine (the model keeps every
    class; the card lists those without training images); a folder that is neither a class nor mapped to one is an
    error that names the known classes and the --map option."""
    mapping = dict(mapping or {})
    classes = tuple(classes)
    if not data.is_dir():
        raise FabDataError(f"--data {data}: folder not found")
    for required in ("train", "val"):
        if not (data / required).is_dir():
            raise FabDataError(f"--data {data}: no {required}/ folder (expected {data}/train/CLASS/*.png and "
                               f"{data}/val/CLASS/*.png, optionally {data}/test/CLASS/*.png)")
    images: list[FabImage] = []
    ignored: list[str] = []
    unknown: dict[str, list[str]] = {}
    for split in SPLITS:
        split_dir = data / split
        if not split_dir.is_dir():
            continue
        for folder in sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            target = mapping.get(folder.name, folder.name)
            if target not in classes:
                unknown.setdefault(folder.name, []).append(split)
                continue
            found, skipped = _images_under(folder)
            ignored += skipped
            images += [FabImage(path, split, classes.index(target), folder.name) for path in found]
        ignored += [str(p) for p in split_dir.iterdir() if p.is_file() and not p.name.startswith(".")]
    if unknown:
        names = ", ".join(f"'{name}' (in {', '.join(splits)})" for name, splits in sorted(unknown.items()))
        example = next(iter(sorted(unknown)))
        raise FabDataError(f"unknown class folder(s): {names}. The model's classes are {', '.join(classes)}. "
                           f"Rename the folders, or map them: --map {example}=CLASS[,OTHER=CLASS...]")
    if unlabelled is not None:
        if not unlabelled.is_dir():
            raise FabDataError(f"--unlabelled {unlabelled}: folder not found")
        found, skipped = _images_under(unlabelled)
        ignored += skipped
        images += [FabImage(path, "unlabelled", -1, "") for path in found]
    result = FabScan(classes, images, mapping, ignored)
    if not any(result.counts("train")):
        raise FabDataError(f"{data / 'train'}: no images in any class folder")
    if not any(result.counts("val")):
        raise FabDataError(f"{data / 'val'}: no images in any class folder (validation chooses the recipe and "
                           "calibrates the confidences)")
    return result


@dataclass
class Preprocessed:
    """Daemon-exact tensors of the images that decoded: [N, S, S] float32 grey in [0, 1]."""

    images: list[FabImage]
    pixels: np.ndarray
    original_sizes: list[tuple[int, int]]
    rejected: list[dict]

    def select(self, split: str) -> tuple[np.ndarray, np.ndarray, list[FabImage]]:
        rows = [n for n, image in enumerate(self.images) if image.split == split]
        labels = np.array([self.images[n].label for n in rows], dtype=np.int64)
        return self.pixels[rows], labels, [self.images[n] for n in rows]


def _list_key(paths: Sequence[Path], size: int) -> str:
    digest = hashlib.sha256(f"preprocess-v1:{size}".encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def preprocess(images: Sequence[FabImage], size: int, work: Path, log: Callable[[str], None] = print,
               semedge: Path = SEMEDGE) -> Preprocessed:
    """Runs `semedge preprocess` over every image once (cached in `work` by path, size and mtime)."""
    work.mkdir(parents=True, exist_ok=True)
    paths = [image.path.resolve() for image in images]
    key = _list_key(paths, size)
    prefix = work / f"preprocessed-{size}-{key}"
    if not (prefix.with_suffix(".npy").exists() and prefix.with_suffix(".json").exists()):
        listing = work / f"files-{key}.txt"
        listing.write_text("".join(f"{p}\n" for p in paths))
        run = subprocess.run([str(semedge), "preprocess", "--list", str(listing), "--out", str(prefix),
                              "--size", str(size), "--threads", str(max(1, min(os.cpu_count() or 1, 8)))],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise FabDataError(f"semedge preprocess failed ({run.returncode}): {run.stderr.strip() or run.stdout.strip()}")
    index = json.loads(prefix.with_suffix(".json").read_text())
    pixels = np.load(prefix.with_suffix(".npy"))
    by_path = {p: image for p, image in zip(paths, images)}
    kept = [by_path[Path(f)] for f in index["files"]]
    if len(kept) != pixels.shape[0]:
        raise FabDataError(f"{prefix}.npy holds {pixels.shape[0]} images but its index lists {len(kept)}")
    rejected = [{"file": r["file"], "reason": r["reason"]} for r in index["rejected"]]
    for r in rejected:
        log(f"warning: {r['file']} cannot be read and is left out ({r['reason']})")
    return Preprocessed(kept, pixels, [tuple(s) for s in index["originalSizes"]], rejected)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def thumbnails(pixels: np.ndarray, side: int = 32) -> np.ndarray:
    """Mean-free, unit-length 32x32 area-averaged thumbnails, one row per image (for near-duplicate search)."""
    n, s, _ = pixels.shape
    factor = s // side
    small = pixels[:, :factor * side, :factor * side].reshape(n, side, factor, side, factor).mean(axis=(2, 4))
    flat = small.reshape(n, -1).astype(np.float64)
    flat -= flat.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    return flat / np.maximum(norms, 1e-12)


def find_duplicates(pre: Preprocessed, threshold: float = NEAR_DUPLICATE_SIMILARITY) -> list[dict]:
    """Pairs of images in different labelled splits that are the same file (sha256) or nearly the same picture
    (thumbnail cosine >= threshold): a validation or test image that also trains the model inflates its figures."""
    labelled = [n for n, image in enumerate(pre.images) if image.split in SPLITS]
    found: list[dict] = []
    seen: set[tuple[int, int]] = set()
    digests: dict[str, list[int]] = {}
    for n in labelled:
        digests.setdefault(file_digest(pre.images[n].path), []).append(n)
    for rows in digests.values():
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                if pre.images[a].split != pre.images[b].split:
                    seen.add((a, b))
                    found.append(_pair(pre, a, b, "exact", 1.0))
    if len(labelled) > 1:
        thumbs = thumbnails(pre.pixels[labelled])
        similarity = thumbs @ thumbs.T
        splits = np.array([pre.images[n].split for n in labelled])
        close = np.argwhere(np.triu(similarity >= threshold, k=1) & (splits[:, None] != splits[None, :]))
        for i, j in close:
            a, b = labelled[i], labelled[j]
            if (a, b) not in seen:
                found.append(_pair(pre, a, b, "near", float(similarity[i, j])))
    return found


def _pair(pre: Preprocessed, a: int, b: int, kind: str, similarity: float) -> dict:
    first, second = pre.images[a], pre.images[b]
    return {"kind": kind, "similarity": round(similarity, 4),
            "files": [str(first.path), str(second.path)], "splits": [first.split, second.split],
            "sameLabel": first.label == second.label}

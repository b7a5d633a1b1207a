#!/usr/bin/env python3
"""Computes a trained teacher's soft labels for class-folder splits once, into the cache the students read.

  /usr/bin/python3 src/training/soft_labels.py --teacher T/teacher.pt --cache CACHE --split DIR/train:train [...]

Each --split is FOLDER:NAME, NAME as the student will load it ("train", "unlabelled"); see semedge_train/distill.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from semedge_train import DEFAULT_CLASSES  # noqa: E402
from semedge_train.data import DatasetError, load_split  # noqa: E402
from semedge_train.distill import cached_soft_labels  # noqa: E402
from semedge_train.preprocess import DEFAULT_SIZE  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--split", action="append", required=True, help="FOLDER:NAME")
    p.add_argument("--classes", default=",".join(DEFAULT_CLASSES))
    p.add_argument("--size", type=int, default=DEFAULT_SIZE)
    args = p.parse_args(argv)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    try:
        for spec in args.split:
            folder, _, name = spec.rpartition(":")
            if not folder or not name:
                raise DatasetError(f"--split {spec}: expected FOLDER:NAME")
            split = load_split(Path(folder), classes, args.size, args.cache, name=name)
            cached_soft_labels(args.teacher, split.images, split.files, args.cache, name,
                               log=lambda m: print(m, flush=True))
    except (DatasetError, ValueError) as error:
        print(f"soft_labels: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

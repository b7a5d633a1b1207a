import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src" / "training"))

from semedge_train import DEFAULT_CLASSES  # noqa: E402


def write_class_folders(root: Path, classes=DEFAULT_CLASSES, per_split=(("train", 8), ("val", 4), ("test", 4)),
                        size=96, seed=0) -> Path:
    """A small dataset whose classes differ by where a bright band sits, so a model can learn it."""
    rng = np.random.default_rng(seed)
    for split, n in per_split:
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                image = rng.normal(0.4, 0.05, (size, size))
                band = (index * size) // len(classes)
                image[band:band + size // len(classes), :] += 0.45
                Image.fromarray((image.clip(0, 1) * 255).astype(np.uint8)).save(folder / f"{name}-{i:03d}.png")
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return write_class_folders(tmp_path / "data")

#!/usr/bin/env python3
"""Entry point of scripts/train-models; see semedge_train/pipeline.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from semedge_train.pipeline import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

"""What the two trainers share: the synthetic build (train.py) and the fab retraining (fab_train.py).

- `WarmupCosine`: the learning-rate factor, a linear warm-up and then a cosine to zero; the total can be re-planned
  while training (a time budget), so the cosine still ends near zero instead of being cut off.
- `epochs_that_fit`: how many epochs a time budget still holds, from the last few epochs' times.
- `BestEpoch`: keeps the weights of the epoch with the best validation key and counts the epochs since, for early
  stopping.
- `load_checkpoint` / `init_from`: a NAME.pt this package wrote, and copying its matching tensors into a model.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
from pathlib import Path
from typing import Callable

import torch
from torch import nn


class WarmupCosine:
    """Learning-rate factor at a step: (step + 1) / (warmup + 1) during the warm-up, then a cosine from 1 to 0 that
    ends at `total_steps` (and stays 0 after it). `total_steps` may be changed between steps."""

    def __init__(self, warmup_steps: int, total_steps: int):
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


# Epochs whose mean time predicts the next ones when a time budget re-plans the run.
RECENT_EPOCHS = 3


def mean_recent_epoch(history: list[dict]) -> float:
    """Mean seconds of the last RECENT_EPOCHS epochs (history rows carry "seconds"): a shared machine speeds up and
    slows down, so the recent epochs predict the next ones better than the first."""
    recent = history[-RECENT_EPOCHS:]
    return max(sum(h["seconds"] for h in recent) / len(recent), 1e-3)


def epochs_that_fit(history: list[dict], epoch: int, seconds_left: float) -> int:
    """The last epoch that ends within `seconds_left` of now, at the recent epochs' pace. Never before `epoch`, the
    one just finished."""
    return epoch + max(0, int(seconds_left // mean_recent_epoch(history)))


class BestEpoch:
    """The best epoch so far by a key (larger is better, compared as a tuple) and a copy of its weights."""

    def __init__(self, patience: int):
        self.patience = patience
        self.key: tuple | None = None
        self.epoch = 0
        self.state: dict | None = None
        self.stale = 0

    def offer(self, key: tuple, epoch: int, model: nn.Module) -> bool:
        """Records the epoch if it beats the best so far; True when it did."""
        if self.key is None or key > self.key:
            self.key, self.epoch, self.stale = key, epoch, 0
            self.state = copy.deepcopy(model.state_dict())
            return True
        self.stale += 1
        return False

    @property
    def patience_ran_out(self) -> bool:
        return self.stale >= self.patience

    def restore(self, model: nn.Module) -> None:
        assert self.state is not None, "no epoch was offered"
        model.load_state_dict(self.state)


def load_checkpoint(path: Path) -> dict:
    """A NAME.pt written by this package: its metadata (arch, classes, kind, size, mean, std) and `state_dict`."""
    kwargs = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = True
    checkpoint = torch.load(str(path), **kwargs)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "meta" not in checkpoint:
        raise ValueError(f"{path}: not a SemEdge training checkpoint (NAME.pt written by this trainer)")
    return {**json.loads(checkpoint["meta"]), "state_dict": checkpoint["state_dict"]}


def init_from(model: nn.Module, checkpoint: dict, log: Callable[[str], None]) -> None:
    """Copies every tensor whose name and shape match; a different class list re-initialises the head."""
    own = model.state_dict()
    taken, skipped = {}, []
    for key, value in checkpoint["state_dict"].items():
        if key in own and own[key].shape == value.shape:
            taken[key] = value
        else:
            skipped.append(key)
    own.update(taken)
    model.load_state_dict(own)
    log(f"init: {len(taken)} tensors from checkpoint" + (f", re-initialised {', '.join(skipped)}" if skipped else ""))

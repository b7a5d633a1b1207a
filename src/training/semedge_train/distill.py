"""Knowledge distillation: the teacher's soft labels for the edge models.

The teacher (teacher.py, trained on the same classes) scores every training image once, unaugmented, before the
students train (`cached_soft_labels`): on 2 CPU cores a teacher forward pass per training step would cost the
student five times its own step, and the augmentations the students see (flips, quarter turns, photometric changes)
leave the teacher's answer all but unchanged. Images drawn without using their labels ("unlabelled") take part
through the soft labels alone.

Loss (Hinton et al. 2015): weight * T^2 * KL(softmax(teacher / T) || softmax(student / T)) over every image, plus
(1 - weight) * cross-entropy on the hard label over the labelled ones. A screen (clean / defect) distils the
teacher's P(clean) against the sum of its defect classes (`to_screen_distribution`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .export import sha256_file
from .loop import load_checkpoint
from .model import ArchSpec, build_model


@dataclass(frozen=True)
class DistillConfig:
    teacher: Path
    temperature: float = 4.0
    # Share of the loss that follows the teacher; the rest follows the hard labels.
    weight: float = 0.7
    # Learn the teacher's answer only where it is trusted (`trusted_teacher`); False: everywhere.
    trusted_only: bool = True

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"distillation temperature must be > 0 (got {self.temperature})")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"distillation weight must be in [0, 1] (got {self.weight})")


def load_trained(path: Path) -> tuple[nn.Module, dict]:
    """A trained model (NAME.pt written by train.py: a teacher, a student) in eval mode, and its metadata (classes,
    arch, size, mean, std)."""
    checkpoint = load_checkpoint(path)
    meta = {k: v for k, v in checkpoint.items() if k != "state_dict"}
    model = build_model(len(meta["classes"]), ArchSpec(**meta["arch"]))
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), meta


@torch.no_grad()
def teacher_logits(teacher: nn.Module, images: np.ndarray, mean: float, std: float,
                   batch_size: int = 128) -> np.ndarray:
    """The teacher's logits for [N, S, S] images in [0, 1], normalised as the runtime does."""
    teacher.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = (torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])).unsqueeze(1) - mean) / std
        out.append(teacher(x.contiguous(memory_format=torch.channels_last)).float())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def cached_soft_labels(teacher_path: Path, images: np.ndarray, files: tuple[str, ...], cache_dir: Path | None,
                       name: str, log: Callable[[str], None] = print) -> tuple[np.ndarray, list[str]]:
    """The teacher's logits for a split's images and its class list, computed once per (teacher, images) and
    kept in `cache_dir` so a second student reads them instead of running the teacher again."""
    key = hashlib.sha256(sha256_file(teacher_path).encode())
    key.update(f"{images.shape}|{float(images[:, ::7, ::7].sum()):.6f}|".encode())
    key.update("\n".join(files).encode())
    cache_file = cache_dir / f"soft-{name}-{key.hexdigest()[:20]}.npz" if cache_dir is not None else None
    if cache_file is not None and cache_file.exists():
        with np.load(cache_file) as cached:
            return cached["logits"], [str(c) for c in cached["classes"]]
    teacher, meta = load_trained(teacher_path)
    started = time.monotonic()
    logits = teacher_logits(teacher, images, meta["mean"], meta["std"])
    log(f"teacher soft labels for {name}: {len(images)} images in {time.monotonic() - started:.0f} s")
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".{cache_file.stem}.tmp.npz")
        np.savez(tmp, logits=logits, classes=np.array(meta["classes"]))
        tmp.replace(cache_file)
    return logits, list(meta["classes"])


def to_screen_distribution(teacher_logits_t: torch.Tensor, clean_index: int, temperature: float) -> torch.Tensor:
    """[B, 2] probabilities (clean, defect) of a classifier teacher at `temperature`: P(clean) and the sum of the
    rest."""
    p = torch.softmax(teacher_logits_t / temperature, dim=1)
    clean = p[:, clean_index]
    return torch.stack([clean, 1.0 - clean], dim=1)


def trusted_teacher(teacher_logits_t: torch.Tensor, targets: torch.Tensor, labelled: torch.Tensor,
                    min_confidence: float = 0.5) -> torch.Tensor:
    """Which images the student should learn the teacher's answer for: a labelled image where the teacher's top
    class is the label, an unlabelled one where the teacher is at least `min_confidence` sure (at T = 1). A teacher
    the time budget left half-trained then teaches only what it knows, and cannot pull the student below what the
    hard labels alone would give; a good teacher is trusted almost everywhere."""
    top = teacher_logits_t.argmax(dim=1)
    confident = torch.softmax(teacher_logits_t.float(), dim=1).max(dim=1).values >= min_confidence
    return torch.where(labelled, top == targets, confident)


def distillation_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, targets: torch.Tensor,
                      labelled: torch.Tensor, temperature: float, weight: float, label_smoothing: float = 0.0,
                      class_weights: torch.Tensor | None = None, trusted: torch.Tensor | None = None) -> torch.Tensor:
    """weight * T^2 * KL(teacher || student at T) over the trusted images (all, without `trusted`; averaged over
    the batch) + (1 - weight) * CE(hard label) over the labelled ones. `teacher_probs` are the teacher's
    probabilities at temperature T; `labelled` is a bool mask (an unlabelled image's target is ignored)."""
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    per_image = (teacher_probs * (torch.log(teacher_probs.clamp_min(1e-8)) - log_student)).sum(dim=1)
    if trusted is not None:
        per_image = per_image * trusted.to(per_image.dtype)
    kl = per_image.mean()
    loss = weight * temperature * temperature * kl
    if weight < 1.0 and bool(labelled.any()):
        hard = F.cross_entropy(student_logits[labelled], targets[labelled], weight=class_weights,
                               label_smoothing=label_smoothing)
        loss = loss + (1.0 - weight) * hard
    return loss


def teacher_targets(teacher_logits_t: torch.Tensor, student_classes: tuple[str, ...], teacher_classes: list[str],
                    temperature: float) -> torch.Tensor:
    """The teacher's probabilities at T in the student's class space: the same classes (any order), or a
    clean/defect screen."""
    if tuple(student_classes) == ("clean", "defect") and "clean" in teacher_classes and len(teacher_classes) > 2:
        return to_screen_distribution(teacher_logits_t, teacher_classes.index("clean"), temperature)
    missing = [c for c in student_classes if c not in teacher_classes]
    if missing:
        raise ValueError(f"the teacher has no class {', '.join(missing)} (its classes: {', '.join(teacher_classes)})")
    order = [teacher_classes.index(c) for c in student_classes]
    return torch.softmax(teacher_logits_t[:, order] / temperature, dim=1)

"""Training of the classifier and the clean-vs-defect screen, from scratch or from an earlier checkpoint.

Writes into the output folder, for a model NAME:
  NAME.pt            checkpoint (architecture, classes, weights) for --init fine-tuning
  NAME.fp32.onnx     opset 17, input image [1,1,S,S], output logits
  NAME.fp32.json     manifest (ModelManifest.cs schema)
  NAME.parity.json   preprocessed inputs and torch logits for `semedge parity`
  NAME.metrics.json  per-epoch history and final validation (and optional test) figures
  NAME.curve.png     loss and validation accuracy per epoch
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import DEFAULT_CLASSES, SCREEN_CLASSES
from .allocator import keep_freed_memory
from .data import Augmentation, DatasetError, Progress, Split, batches, box_masks, load_boxes, load_split, \
    to_screen_labels
from .distill import DistillConfig, cached_soft_labels, distillation_loss, teacher_targets, trusted_teacher
from .loop import BestEpoch, WarmupCosine, epochs_that_fit, init_from, load_checkpoint, mean_recent_epoch
from .export import build_manifest, export_onnx, write_json, write_parity_reference
from .model import CLASSIFIER_ARCH, SCREEN_ARCH, TEACHER_FAMILY, ArchSpec, build_model, count_parameters, \
    int8_size_estimate, recompute_bn_statistics
from .plot import draw_curves
from .preprocess import DEFAULT_MEAN, DEFAULT_SIZE, DEFAULT_STD

KINDS = ("classifier", "screen")
PRECISIONS = ("auto", "fp32", "bf16")
# Training images the final BatchNorm pass and the reported training accuracy use (spread evenly over the split).
FINAL_PASS_IMAGES = 4096


@dataclass
class TrainConfig:
    data: Path
    out: Path
    kind: str = "classifier"
    name: str | None = None
    classes: tuple[str, ...] = DEFAULT_CLASSES
    size: int = DEFAULT_SIZE
    mean: float = DEFAULT_MEAN
    std: float = DEFAULT_STD
    epochs: int = 30
    patience: int = 6
    batch_size: int = 64
    lr: float = 5e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    warmup_epochs: float = 1.0
    # Weight of the per-cell (box) loss where the data has defect boxes (labels.csv); 0 trains without it.
    # 2.0 beat 1.0 by 3.4 points of validation accuracy in 12-minute probes (71.4 % against 68.0 %).
    box_loss: float = 2.0
    # A defect covers few grid cells: its cells weigh this much more than empty ones.
    box_positive_weight: float = 5.0
    seed: int = 1
    init: Path | None = None
    threads: int = 0
    # A file whose appearance means another process has finished and its cores are free (see CoreHandoff).
    cores_freed_flag: Path | None = None
    # Training arithmetic: "bf16" runs the network's forward pass under CPU autocast (convolutions in bfloat16;
    # weights, optimizer, losses and BatchNorm statistics stay float32); "auto" picks it where the CPU does
    # bfloat16 natively, "fp32" everywhere else.
    precision: str = "auto"
    cache: Path | None = None
    test: Path | None = None
    arch: ArchSpec | None = None
    min_defect_recall: float = 0.995
    threshold_margin: float = 1.0
    max_minutes: float | None = None
    version: str = "0"
    parity_cases: int = 3
    data_seed: int | None = None
    augmentation: Augmentation = field(default_factory=Augmentation)
    # Knowledge distillation from a trained teacher (distill.py); None trains on the hard labels alone.
    distill: DistillConfig | None = None
    # A split folder of images used without their labels, through the teacher's soft labels (needs `distill`).
    unlabelled: Path | None = None
    # Where the ImageNet weights of an imagenet-resnet18 model are converted to once (teacher.py's default: ~/.cache).
    imagenet_cache: Path | None = None
    # imagenet-resnet18: the stem and this many stages keep their ImageNet weights (0: everything trains).
    freeze_stages: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"--kind must be one of {', '.join(KINDS)} (got {self.kind})")
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValueError("--classes needs at least two distinct names")
        for name, value in (("epochs", self.epochs), ("batch size", self.batch_size), ("size", self.size)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1 (got {value})")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)} (got {self.precision})")
        if not 0.5 <= self.min_defect_recall <= 1.0:
            raise ValueError(f"--min-defect-recall must be in [0.5, 1] (got {self.min_defect_recall})")
        if self.unlabelled is not None and self.distill is None:
            raise ValueError("unlabelled images need a teacher (--teacher) to take part in training")
        if self.name is None:
            self.name = self.kind


@dataclass
class TrainResult:
    checkpoint: Path
    onnx: Path
    manifest: Path
    parity: Path
    metrics_path: Path
    curve: Path
    metrics: dict


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True where the CPU computes bfloat16 dot products in hardware (AVX512-BF16 or AMX), which makes
    autocast training 2-3x faster than float32 here; elsewhere bfloat16 is emulated and slower."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_precision(requested: str, cpuinfo: str | None = None) -> str:
    if requested == "auto":
        return "bf16" if cpu_has_native_bf16(cpuinfo) else "fp32"
    return requested


class CoreHandoff:
    """Lets a running trainer take over cores another process gives up: once the file `flag` exists
    (train-models creates it when the model training beside this one finishes) the next batch runs on every core
    this process may use. A file rather than a signal, so it can never arrive before the trainer listens."""

    def __init__(self, flag: Path | None) -> None:
        self.flag = flag
        self.raised_at_epoch: int | None = None

    def take_freed_cores(self, epoch: int, log: Callable[[str], None]) -> None:
        if self.flag is None or self.raised_at_epoch is not None or not self.flag.exists():
            return
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.raised_at_epoch = epoch
        if cores > torch.get_num_threads():
            log(f"{self.flag.name} appeared: {torch.get_num_threads()} -> {cores} threads from epoch {epoch}")
            torch.set_num_threads(cores)


def defect_auc(p_defect: np.ndarray, is_defect: np.ndarray) -> float:
    """Area under the ROC curve of P(defect): the chance that a random defect image scores above a random clean
    one (ties count half). Threshold-free, so it ranks screens smoothly where the clean share passed at a 99.5 %
    recall threshold is still zero for every epoch."""
    defect = is_defect.astype(bool)
    positives, negatives = int(defect.sum()), int((~defect).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(p_defect, kind="mergesort")
    ranks = np.empty(len(p_defect), dtype=np.float64)
    sorted_scores = p_defect[order]
    # Average ranks over ties (1-based), then the Mann-Whitney U statistic.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return float((ranks[defect].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def _seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def _to_input(images: np.ndarray | torch.Tensor, mean: float, std: float) -> torch.Tensor:
    x = torch.as_tensor(images, dtype=torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    # Channels-last, like the model during training: oneDNN's convolutions run about 1.5x faster on CPU so.
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict_logits(model: nn.Module, images: np.ndarray, mean: float, std: float,
                   batch_size: int = 256) -> torch.Tensor:
    model.eval()
    out = [model(_to_input(images[i:i + batch_size], mean, std)) for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def confusion(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def choose_defect_threshold(p_defect: np.ndarray, is_defect: np.ndarray, min_recall: float,
                            margin: float) -> float:
    """The threshold on P(defect) that keeps validation defect recall >= min_recall, lowered by `margin`
    in log-odds so unseen defects a little less confident than the validation ones still pass. Never
    above 0.5: an image the screen itself calls defect always goes on to the classifier."""
    scores = np.sort(p_defect[is_defect.astype(bool)])
    if scores.size == 0:
        raise DatasetError("the validation split has no defect images to set the screen threshold on")
    allowed_misses = int(math.floor(scores.size * (1.0 - min_recall) + 1e-9))
    at = float(np.clip(scores[allowed_misses], 1e-7, 1 - 1e-7))
    logit = math.log(at / (1 - at)) - margin
    threshold = 1.0 / (1.0 + math.exp(-logit))
    return float(min(max(threshold, 1e-6), 0.5))


def screen_figures(p_defect: np.ndarray, is_defect: np.ndarray, threshold: float) -> dict:
    sent = p_defect >= threshold
    defect = is_defect.astype(bool)
    tp, fn = int((sent & defect).sum()), int((~sent & defect).sum())
    tn, fp = int((~sent & ~defect).sum()), int((sent & ~defect).sum())
    return {
        "threshold": threshold,
        "defectRecall": tp / max(tp + fn, 1),
        "cleanPrecision": tn / max(tn + fn, 1),
        "cleanRecall": tn / max(tn + fp, 1),
        "sparedFraction": (tn + fn) / max(len(defect), 1),
        "missedDefects": fn,
        "defects": tp + fn,
        "cleans": tn + fp,
    }


def _evaluate(model: nn.Module, split: Split, labels: np.ndarray, classes: Sequence[str], cfg: TrainConfig,
              weights: torch.Tensor | None) -> dict:
    logits = predict_logits(model, split.images, cfg.mean, cfg.std)
    target = torch.from_numpy(labels)
    loss = float(F.cross_entropy(logits, target, weight=weights)) if len(labels) else float("nan")
    predicted = logits.argmax(1).numpy()
    matrix = confusion(labels, predicted, len(classes))
    per_class = {}
    for i, name in enumerate(classes):
        tp = int(matrix[i, i])
        recall = tp / max(int(matrix[i].sum()), 1)
        precision = tp / max(int(matrix[:, i].sum()), 1)
        per_class[name] = {"recall": recall, "precision": precision}
    result = {"loss": loss, "accuracy": float((predicted == labels).mean()) if len(labels) else float("nan"),
              "images": int(len(labels)), "confusion": matrix.tolist(), "perClass": per_class,
              "_probabilities": torch.softmax(logits, 1).numpy()}
    return result


def _box_loss(cells: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, positive_weight: float) -> torch.Tensor:
    """Per-cell cross-entropy of the cell head: a cell the (augmented) box touches should name the defect's class
    (channel 1 + label), every other cell "no defect" (channel 0)."""
    touched = F.adaptive_max_pool2d(mask, cells.shape[-2:])[:, 0] > 0.5
    target = torch.where(touched, labels[:, None, None] + 1, torch.zeros_like(labels)[:, None, None])
    weight = touched.float() * (positive_weight - 1) + 1
    return (F.cross_entropy(cells, target, reduction="none") * weight).sum() / weight.sum()


REPO = Path(__file__).resolve().parents[3]


def describe_path(path: Path | None) -> str | None:
    """A path as a manifest may carry it: relative to the repository when inside it, else only its last two parts,
    so no build machine's absolute path ends up in a shipped file."""
    if path is None:
        return None
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(REPO).as_posix()
    except ValueError:
        return "/".join(resolved.parts[-2:])


def _public(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if not k.startswith("_")}


@dataclass
class _Data:
    """The splits a run trains and judges on, with labels in the model's own class space."""

    train: Split
    val: Split
    test: Split | None
    classes: tuple[str, ...]
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray | None
    counts: np.ndarray
    # Class weights of the loss (the screen: inverse frequency), None for the classifier.
    weights: torch.Tensor | None


@dataclass
class _Pool:
    """What the epochs draw batches from: the labelled training images, then any unlabelled ones, with their
    targets, defect boxes and the teacher's soft labels."""

    images: torch.Tensor
    targets: torch.Tensor
    cell_targets: torch.Tensor
    labelled: torch.Tensor
    soft: torch.Tensor | None = None
    trusted: torch.Tensor | None = None
    trust_share: float | None = None
    unlabelled_count: int = 0
    boxes: torch.Tensor | None = None


@dataclass
class _Run:
    history: list[dict]
    best_epoch: int
    stop_reason: str
    budget_note: str | None


def _load_data(cfg: TrainConfig, log: Callable[[str], None]) -> _Data:
    train_split = load_split(cfg.data / "train", cfg.classes, cfg.size, cfg.cache, log=log)
    val_split = load_split(cfg.data / "val", cfg.classes, cfg.size, cfg.cache, log=log)
    test_split = load_split(cfg.test, cfg.classes, cfg.size, cfg.cache, name="test", log=log) if cfg.test else None
    if cfg.kind == "screen":
        classes: tuple[str, ...] = SCREEN_CLASSES
        relabel = lambda s: to_screen_labels(s.labels, cfg.classes)  # noqa: E731
    else:
        classes = tuple(cfg.classes)
        relabel = lambda s: s.labels  # noqa: E731
    y_train, y_val = relabel(train_split), relabel(val_split)
    y_test = relabel(test_split) if test_split is not None else None
    counts = np.bincount(y_train, minlength=len(classes))
    if (counts == 0).any():
        missing = [c for c, n in zip(classes, counts) if n == 0]
        raise DatasetError(f"no training images for: {', '.join(missing)}")
    # The screen sees one clean image for every nine defects; weighting classes by inverse frequency keeps
    # it from learning "always defect", and the threshold then buys back recall.
    weights = None
    if cfg.kind == "screen":
        weights = torch.tensor(len(y_train) / (len(classes) * counts), dtype=torch.float32)
    return _Data(train_split, val_split, test_split, classes, y_train, y_val, y_test, counts, weights)


def _build_network(cfg: TrainConfig, num_classes: int, log: Callable[[str], None]) -> tuple[nn.Module, ArchSpec]:
    """The network to train: the checkpoint's architecture and weights (--init), the ImageNet ResNet-18 for the
    teacher family, or a fresh SemNet."""
    checkpoint = load_checkpoint(cfg.init) if cfg.init else None
    arch = ArchSpec(**checkpoint["arch"]) if checkpoint else (cfg.arch or (SCREEN_ARCH if cfg.kind == "screen" else CLASSIFIER_ARCH))
    if cfg.kind == "screen" and arch.family == "semnet" and not arch.cell_classes:
        arch = replace(arch, cell_classes=len(cfg.classes))
    if arch.family == TEACHER_FAMILY and not checkpoint:
        from .teacher import build_imagenet_teacher
        model = build_imagenet_teacher(num_classes, arch.stages or 3, cfg.mean, cfg.std, cache_dir=cfg.imagenet_cache,
                                       log=log, dropout=arch.dropout, work_size=arch.work_size)
        log(f"{cfg.name}: ImageNet ResNet-18 weights, cut after stage {arch.stages or 3}, new {num_classes}-class head")
    else:
        model = build_model(num_classes, arch)
    if checkpoint:
        init_from(model, checkpoint, log)
    if arch.family == TEACHER_FAMILY and cfg.freeze_stages > 0:
        from .teacher import freeze_early_stages
        frozen = freeze_early_stages(model, cfg.freeze_stages)  # type: ignore[arg-type]
        log(f"{cfg.name}: stem and first {cfg.freeze_stages} stage(s) frozen ({frozen:,} parameters)")
    return model.to(memory_format=torch.channels_last), arch


def _training_pool(cfg: TrainConfig, model: nn.Module, data: _Data, log: Callable[[str], None]) -> _Pool:
    pool = _Pool(images=torch.from_numpy(data.train.images).unsqueeze(1), targets=torch.from_numpy(data.y_train),
                 # The box loss teaches the cells the dataset's own classes, also where the model's outputs are coarser.
                 cell_targets=torch.from_numpy(data.train.labels),
                 labelled=torch.ones(len(data.y_train), dtype=torch.bool))
    if cfg.distill is not None:
        _add_soft_labels(cfg, data, pool, log)
    if cfg.box_loss > 0 and hasattr(model, "forward_with_boxes"):
        found = load_boxes(cfg.data / "train", data.train.files)
        if found is not None and pool.unlabelled_count:
            found = np.concatenate([found, np.full((pool.unlabelled_count, 4), np.nan, dtype=np.float32)])
        pool.boxes = torch.from_numpy(found) if found is not None else None
        log(f"{cfg.name}: box loss " + (f"on ({int((~torch.isnan(pool.boxes[:, 0])).sum())} defect boxes from labels.csv)"
                                        if pool.boxes is not None else "off (no labels.csv with every training image)"))
    return pool


def _add_soft_labels(cfg: TrainConfig, data: _Data, pool: _Pool, log: Callable[[str], None]) -> None:
    """The teacher's cached logits for the training images and, with --unlabelled, more images that take part
    through them alone; which of them the student follows (`trusted_teacher`)."""
    assert cfg.distill is not None
    teacher_logits_np, teacher_classes = cached_soft_labels(cfg.distill.teacher, data.train.images, data.train.files,
                                                            cfg.cache, "train", log)
    soft_parts = [torch.from_numpy(teacher_logits_np)]
    if cfg.unlabelled is not None:
        extra = load_split(cfg.unlabelled, cfg.classes, cfg.size, cfg.cache, name="unlabelled", log=log)
        extra_logits, _ = cached_soft_labels(cfg.distill.teacher, extra.images, extra.files, cfg.cache,
                                             "unlabelled", log)
        pool.unlabelled_count = len(extra)
        soft_parts.append(torch.from_numpy(extra_logits))
        pool.images = torch.cat([pool.images, torch.from_numpy(extra.images).unsqueeze(1)])
        # Placeholders: an unlabelled image's targets never reach a loss (see `labelled`).
        pool.targets = torch.cat([pool.targets, torch.zeros(len(extra), dtype=pool.targets.dtype)])
        pool.cell_targets = torch.cat([pool.cell_targets, torch.zeros(len(extra), dtype=pool.cell_targets.dtype)])
        pool.labelled = torch.cat([pool.labelled, torch.zeros(len(extra), dtype=torch.bool)])
    all_logits = torch.cat(soft_parts)
    pool.soft = teacher_targets(all_logits, data.classes, teacher_classes, cfg.distill.temperature)
    # Trust is decided in the student's class space (a screen: clean or defect), at T = 1.
    plain = torch.log(teacher_targets(all_logits, data.classes, teacher_classes, 1.0).clamp_min(1e-12))
    pool.trusted = trusted_teacher(plain, pool.targets, pool.labelled) if cfg.distill.trusted_only else None
    labelled_count = len(data.y_train)
    agreement = float((pool.soft[:labelled_count].argmax(1).numpy() == data.y_train).mean())
    trusted = pool.trusted
    log(f"{cfg.name}: distilling {cfg.distill.teacher.name} at T={cfg.distill.temperature:g}, weight "
        f"{cfg.distill.weight:g}; teacher agrees with {agreement:.1%} of the training labels"
        + (f"; {pool.unlabelled_count} unlabelled images" if pool.unlabelled_count else "")
        + (f"; trusted on {float(trusted[:labelled_count].float().mean()):.1%} of the labelled and "
           f"{float(trusted[labelled_count:].float().mean()) if pool.unlabelled_count else 0:.1%} of the unlabelled"
           if trusted is not None else ""))
    pool.trust_share = None if trusted is None else float(trusted.float().mean())


def _batch_loss(cfg: TrainConfig, model: nn.Module, pool: _Pool, index: torch.Tensor, weights: torch.Tensor | None,
                generator: torch.Generator, precision: str) -> torch.Tensor:
    """The loss of one batch: hard labels (or distillation) on the image logits, plus the box loss on the cells."""
    y = pool.targets[index]
    if pool.boxes is None:
        x, mask = _to_input(cfg.augmentation(pool.images[index], generator), cfg.mean, cfg.std), None
    else:
        augmented, mask = cfg.augmentation(pool.images[index], generator, box_masks(pool.boxes[index], cfg.size))
        x = _to_input(augmented, cfg.mean, cfg.std)
    # Only the network runs in bfloat16; the losses take float32 logits.
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        logits, cells = model.forward_with_boxes(x) if mask is not None else (model(x), None)
    known = pool.labelled[index]
    if pool.soft is not None:
        assert cfg.distill is not None
        loss = distillation_loss(logits.float(), pool.soft[index], y, known, cfg.distill.temperature,
                                 cfg.distill.weight, cfg.label_smoothing, weights,
                                 None if pool.trusted is None else pool.trusted[index])
    else:
        loss = F.cross_entropy(logits.float(), y, weight=weights, label_smoothing=cfg.label_smoothing)
    if cells is not None and bool(known.any()):
        # Boxes are labels too: an unlabelled image's cells are left to the image-level loss.
        loss = loss + cfg.box_loss * _box_loss(cells[known].float(), mask[known], pool.cell_targets[index][known],
                                               cfg.box_positive_weight)
    return loss


def _selection_key(cfg: TrainConfig, val: dict, y_val: np.ndarray, row: dict) -> tuple:
    """What picks the epoch that is kept. A screen: the share of clean images it lets pass at the threshold that
    keeps the required defect recall; while that is zero (early on, usually), the ROC AUC of P(defect) ranks it.
    The classifier: validation accuracy, then the lower loss."""
    if cfg.kind != "screen":
        return val["accuracy"], -val["loss"]
    p_defect = val["_probabilities"][:, 1]
    threshold = choose_defect_threshold(p_defect, y_val, cfg.min_defect_recall, cfg.threshold_margin)
    row["valCleanPassed"] = screen_figures(p_defect, y_val, threshold)["cleanRecall"]
    row["valAuc"] = defect_auc(p_defect, y_val)
    return row["valCleanPassed"], row["valAuc"], -val["loss"]


def _replan_epochs(cfg: TrainConfig, history: list[dict], epoch: int, started: float) -> int:
    """The epochs that fit the time budget, from the mean time of the last few (a shared machine speeds up and
    slows down, and freed cores speed this run up), keeping time for the BN pass, final evaluations and export."""
    assert cfg.max_minutes is not None
    reserve = 30 + 0.5 * mean_recent_epoch(history)
    remaining = cfg.max_minutes * 60 - (time.monotonic() - started) - reserve
    return max(epoch, min(cfg.epochs, epochs_that_fit(history, epoch, remaining)))


def _fit(cfg: TrainConfig, model: nn.Module, data: _Data, pool: _Pool, generator: torch.Generator, precision: str,
         handoff: CoreHandoff, started: float, log: Callable[[str], None]) -> _Run:
    """The epochs: AdamW on a warm-up and cosine schedule that follows the time budget, the best validation epoch
    kept (restored into `model` at the end), early stopping."""
    total_images = len(pool.targets)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                                  weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, total_images // cfg.batch_size)
    planned_epochs = cfg.epochs
    warmup = min(int(cfg.warmup_epochs * steps_per_epoch), max(cfg.epochs * steps_per_epoch - 1, 0))
    schedule = WarmupCosine(warmup, planned_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    history: list[dict] = []
    best = BestEpoch(cfg.patience)
    stop_reason = "ran all planned epochs"
    budget_note = None
    epoch = 0
    while epoch < planned_epochs:
        epoch += 1
        epoch_start = time.monotonic()
        model.train()
        progress = Progress(total_images - total_images % cfg.batch_size if total_images >= cfg.batch_size
                            else total_images, f"{cfg.name} epoch {epoch}/{planned_epochs}")
        total_loss, seen = 0.0, 0
        for index in batches(total_images, cfg.batch_size, generator, drop_last=True):
            handoff.take_freed_cores(epoch, log)
            loss = _batch_loss(cfg, model, pool, index, data.weights, generator, precision)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += float(loss) * len(index)
            seen += len(index)
            progress.update(len(index), f"loss {total_loss / seen:.4f}")
        val = _evaluate(model, data.val, data.y_val, data.classes, cfg, data.weights)
        seconds = time.monotonic() - epoch_start
        row = {"epoch": epoch, "trainLoss": total_loss / max(seen, 1), "valLoss": val["loss"],
               "valAccuracy": val["accuracy"], "lr": optimizer.param_groups[0]["lr"], "seconds": round(seconds, 1)}
        history.append(row)
        progress.close(f"loss {row['trainLoss']:.4f} val loss {val['loss']:.4f} val acc {val['accuracy']:.4f} "
                       f"({seconds:.0f} s)")
        best.offer(_selection_key(cfg, val, data.y_val, row), epoch, model)
        if best.patience_ran_out:
            stop_reason = (f"early stop: no val {'clean-pass/AUC' if cfg.kind == 'screen' else 'accuracy'} gain "
                           f"for {cfg.patience} epochs")
            break
        if cfg.max_minutes is not None:
            new_plan = _replan_epochs(cfg, history, epoch, started)
            if new_plan != planned_epochs:
                budget_note = (f"epochs planned {new_plan} of {cfg.epochs} to fit {cfg.max_minutes:g} min "
                               f"(mean epoch {mean_recent_epoch(history):.0f} s)")
                log(f"{cfg.name}: {budget_note}")
                planned_epochs = new_plan
                # The cosine follows the plan, so it still ends near zero instead of being cut off.
                schedule.total_steps = planned_epochs * steps_per_epoch
            if epoch >= planned_epochs:
                stop_reason = f"time budget of {cfg.max_minutes:g} min reached"
                break
    log(f"{cfg.name}: {stop_reason}; best epoch {best.epoch}")
    best.restore(model)
    return _Run(history, best.epoch, stop_reason, budget_note)


@dataclass
class _Final:
    val: dict
    train_eval: dict
    test: dict | None
    metrics: dict
    threshold: float | None
    screen_val: dict | None
    bn_images: int


def _finalise(cfg: TrainConfig, model: nn.Module, data: _Data, log: Callable[[str], None]) -> _Final:
    """BatchNorm statistics recomputed, then the kept model judged on validation, training and test images (and
    the screen's threshold set on validation)."""
    # Exact BN statistics over (unaugmented) training images: the running averages only approximate them, and
    # the runtime sees unaugmented images. An even spread of a few thousand images pins the averages and the
    # training accuracy as well as all of them do, in a fraction of the time a time budget would lose to it.
    y_train, y_val, y_test = data.y_train, data.y_val, data.y_test
    spread = np.unique(np.linspace(0, len(y_train) - 1, num=min(len(y_train), FINAL_PASS_IMAGES)).round().astype(int))
    train_sample = Split(data.train.name, data.train.images[spread], data.train.labels[spread],
                         tuple(data.train.files[i] for i in spread))
    recompute_bn_statistics(model, _to_input(train_sample.images, cfg.mean, cfg.std))
    model.eval()
    val = _evaluate(model, data.val, y_val, data.classes, cfg, data.weights)
    train_eval = _evaluate(model, train_sample, y_train[spread], data.classes, cfg, data.weights)
    log(f"{cfg.name}: after BN recompute: val acc {val['accuracy']:.4f}, train acc {train_eval['accuracy']:.4f}")

    metrics: dict = {"valAccuracy": val["accuracy"], "valLoss": val["loss"], "trainAccuracy": train_eval["accuracy"],
                     "trainAccuracyImages": train_eval["images"], "valImages": val["images"]}
    threshold = None
    screen_val = None
    if cfg.kind == "screen":
        p_val = val["_probabilities"][:, 1]
        threshold = choose_defect_threshold(p_val, y_val, cfg.min_defect_recall, cfg.threshold_margin)
        screen_val = screen_figures(p_val, y_val, threshold)
        metrics.update({"valDefectRecall": screen_val["defectRecall"], "valCleanPrecision": screen_val["cleanPrecision"],
                        "valCleanRecall": screen_val["cleanRecall"]})
        log(f"{cfg.name}: defectThreshold {threshold:.4g}: val defect recall {screen_val['defectRecall']:.4f}, "
            f"clean precision {screen_val['cleanPrecision']:.4f}, clean recall {screen_val['cleanRecall']:.4f}")
    test = None
    if data.test is not None and y_test is not None:
        test = _evaluate(model, data.test, y_test, data.classes, cfg, data.weights)
        metrics["torchTestAccuracy"] = test["accuracy"]
        metrics["testImages"] = test["images"]
        if threshold is not None:
            screen_test = screen_figures(test["_probabilities"][:, 1], y_test, threshold)
            metrics.update({"torchTestDefectRecall": screen_test["defectRecall"],
                            "torchTestCleanPrecision": screen_test["cleanPrecision"]})
        log(f"{cfg.name}: torch FP32 test accuracy {test['accuracy']:.4f} on {test['images']} images")
    return _Final(val, train_eval, test, metrics, threshold, screen_val, len(spread))


def _training_record(cfg: TrainConfig, data: _Data, pool: _Pool, run: _Run, arch: ArchSpec, params: int,
                     precision: str, handoff: CoreHandoff, final: _Final, seconds: float) -> dict:
    """The manifest's `training` section: how this model was made."""
    training = {
        "dataSeed": cfg.data_seed, "trainSeed": cfg.seed, "data": describe_path(cfg.data),
        "trainImages": int(len(data.y_train)), "valImages": int(len(data.y_val)),
        "epochs": len(run.history), "bestEpoch": run.best_epoch, "maxEpochs": cfg.epochs, "stop": run.stop_reason,
        "timeBudget": run.budget_note,
        "seconds": round(seconds, 1), "torch": torch.__version__, "python": platform.python_version(),
        "threads": torch.get_num_threads(), "threadsRaisedAtEpoch": handoff.raised_at_epoch, "precision": precision,
        "params": params, "arch": arch.to_dict(),
        "optimizer": {"name": "AdamW", "lr": cfg.lr, "weightDecay": cfg.weight_decay, "schedule": "cosine",
                      "warmupEpochs": cfg.warmup_epochs, "batchSize": cfg.batch_size},
        "labelSmoothing": cfg.label_smoothing, "batchNorm": f"recomputed over {final.bn_images} evenly spread training images",
        "boxLoss": {"weight": cfg.box_loss, "positiveCellWeight": cfg.box_positive_weight} if pool.boxes is not None else None,
        "init": describe_path(cfg.init),
        "distillation": None if cfg.distill is None else {
            "teacher": describe_path(cfg.distill.teacher), "temperature": cfg.distill.temperature,
            "weight": cfg.distill.weight, "unlabelledImages": pool.unlabelled_count,
            "trustedOnly": cfg.distill.trusted_only, "trustedShare": pool.trust_share,
            "softLabels": "teacher logits on the unaugmented images, computed once"},
        "augmentation": cfg.augmentation.describe(),
    }
    if arch.family == TEACHER_FAMILY:
        from .teacher import describe_source
        training["imagenet"] = {**describe_source(), "frozenStages": cfg.freeze_stages}
    if cfg.kind == "screen":
        training["classWeights"] = [round(float(w), 4) for w in data.weights]  # type: ignore[union-attr]
        training["thresholdRule"] = (f"val defect recall >= {cfg.min_defect_recall}, "
                                     f"lowered by {cfg.threshold_margin} log-odds, at most 0.5")
    return training


def _write_outputs(cfg: TrainConfig, model: nn.Module, arch: ArchSpec, data: _Data, pool: _Pool, run: _Run,
                   final: _Final, params: int, precision: str, handoff: CoreHandoff, started: float,
                   log: Callable[[str], None]) -> TrainResult:
    """Checkpoint, FP32 ONNX, manifest, parity reference, metrics and curve (see the module docstring)."""
    seconds = time.monotonic() - started
    name, out = cfg.name, cfg.out
    assert name is not None
    # Checkpoint and ONNX file hold plain contiguous weights, whatever layout training used.
    model = model.to(memory_format=torch.contiguous_format)
    checkpoint_path = out / f"{name}.pt"
    # Metadata as a JSON string: torch.load(weights_only=True) on torch 1.13 cannot unpickle floats.
    meta = {"arch": arch.to_dict(), "classes": list(data.classes), "kind": cfg.kind, "size": cfg.size,
            "mean": cfg.mean, "std": cfg.std}
    torch.save({"meta": json.dumps(meta), "state_dict": model.state_dict()}, str(checkpoint_path))
    onnx_path = out / f"{name}.fp32.onnx"
    export_onnx(model, onnx_path, cfg.size)
    training = _training_record(cfg, data, pool, run, arch, params, precision, handoff, final, seconds)
    manifest = build_manifest(model_id=f"semedge-{name}", kind=cfg.kind, version=cfg.version, onnx_path=onnx_path,
                              classes=data.classes, size=cfg.size, mean=cfg.mean, std=cfg.std,
                              defect_threshold=final.threshold, training=training,
                              metrics={k: v for k, v in final.metrics.items() if isinstance(v, (int, float))})
    manifest_path = out / f"{name}.fp32.json"
    write_json(manifest_path, manifest)

    picks = np.linspace(0, len(data.y_val) - 1, num=min(cfg.parity_cases, len(data.y_val))).round().astype(int)
    parity_path = out / f"{name}.parity.json"
    write_parity_reference(model, (data.val.images[picks] - cfg.mean) / cfg.std, parity_path)

    full_metrics = {"name": name, "kind": cfg.kind, "classes": list(data.classes), "params": params,
                    "seconds": round(seconds, 1), "precision": precision,
                    "threadsRaisedAtEpoch": handoff.raised_at_epoch, "history": run.history,
                    "bestEpoch": run.best_epoch, "stop": run.stop_reason,
                    "val": _public(final.val),
                    "train": {"accuracy": final.train_eval["accuracy"], "loss": final.train_eval["loss"]},
                    "defectThreshold": final.threshold, "screenVal": final.screen_val,
                    "test": _public(final.test) if final.test else None}
    metrics_path = out / f"{name}.metrics.json"
    write_json(metrics_path, full_metrics)
    curve_path = out / f"{name}.curve.png"
    draw_curves(curve_path, name, [h["trainLoss"] for h in run.history], [h["valLoss"] for h in run.history],
                [h["valAccuracy"] for h in run.history])
    log(f"{cfg.name}: wrote {onnx_path.name}, {manifest_path.name}, {parity_path.name} in {out} "
        f"({seconds:.0f} s)")
    return TrainResult(checkpoint_path, onnx_path, manifest_path, parity_path, metrics_path, curve_path, full_metrics)


def train(cfg: TrainConfig, log: Callable[[str], None] = print) -> TrainResult:
    """Loads the data, builds the network, trains it, judges it and writes its files into `cfg.out`."""
    started = time.monotonic()
    handoff = CoreHandoff(cfg.cores_freed_flag)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    generator = _seed_everything(cfg.seed)
    precision = resolve_precision(cfg.precision)
    reuses_memory = keep_freed_memory()
    cfg.out.mkdir(parents=True, exist_ok=True)

    data = _load_data(cfg, log)
    model, arch = _build_network(cfg, len(data.classes), log)
    params = count_parameters(model)
    log(f"{cfg.name}: {cfg.kind}, {len(data.classes)} classes, {params:,} parameters "
        f"(INT8 estimate {int8_size_estimate(model) / 1e6:.2f} MB), arch {arch.to_dict()}, {precision} training"
        + ("" if reuses_memory else " (malloc tuning unavailable: not glibc)"))
    log(f"{cfg.name}: train {len(data.y_train)} images {data.counts.tolist()}, val {len(data.y_val)}"
        + (f", test {len(data.y_test)}" if data.y_test is not None else ""))
    pool = _training_pool(cfg, model, data, log)
    run = _fit(cfg, model, data, pool, generator, precision, handoff, started, log)
    final = _finalise(cfg, model, data, log)
    return _write_outputs(cfg, model, arch, data, pool, run, final, params, precision, handoff, started, log)

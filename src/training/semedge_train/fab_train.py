"""Training for a few hundred images: fine-tuning with layer-wise learning rates, class-balanced sampling, strong
augmentation, EMA weights and early stopping on validation; knowledge distillation from a teacher's test-time-
augmented soft labels (labelled and unlabelled images); temperature scaling and the d4 test-time augmentation the
runtime applies (ModelSession.cs).

Everything works on in-memory arrays of daemon-exact grey images in [0, 1] ([N, S, S], see fab_data.preprocess).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import Augmentation
from .loop import BestEpoch, WarmupCosine, epochs_that_fit
from .model import recompute_bn_statistics

# The transfer augmentation of the pretraining (data.py: zoom 1/1.35x to 1.35x, gamma, blur, noise, JPEG) with more
# rotation, shift and brightness/contrast: a few hundred images are memorised in a few epochs without it.
FAB_AUGMENTATION = Augmentation(max_rotate_deg=12.0, max_translate=0.08, affine_p=0.5, brightness=0.12, contrast=0.3)


@dataclass(frozen=True)
class Recipe:
    """One candidate: where the weights start and how they are trained. Candidates are compared on validation only."""

    name: str
    start: str  # "synthetic" (the shipped student), "random", or "teacher"
    lr: float
    layer_decay: float = 1.0  # learning rate of a block = lr * layer_decay ** (blocks between it and the output)
    max_epochs: int = 60
    patience: int = 15
    batch_size: int = 32
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    mixup: float = 0.0  # Beta(a, a) mixing of image pairs, 0: off
    ema: float = 0.99
    warmup_epochs: float = 2.0
    distil_weight: float = 0.0  # share of the loss on the teacher's soft labels (distillation), 0: none
    distil_temperature: float = 2.0
    augmentation: Augmentation = FAB_AUGMENTATION

    def describe(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "augmentation"}
        d["augmentation"] = self.augmentation.__dict__
        return d


@dataclass
class FitResult:
    model: nn.Module
    recipe: Recipe
    history: list[dict]
    best_epoch: int
    stop: str
    val_accuracy: float
    val_loss: float
    seconds: float
    extra: dict = field(default_factory=dict)


def to_input(unit: np.ndarray | torch.Tensor, mean: float = 0.5, std: float = 0.25) -> torch.Tensor:
    x = torch.as_tensor(unit, dtype=torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def d4_views(x: torch.Tensor) -> list[torch.Tensor]:
    """The 8 flips and quarter turns of [B, 1, S, S] (the same group as ModelSession.ApplyD4)."""
    views = []
    for flipped in (x, x.flip(-1)):
        for k in range(4):
            views.append(torch.rot90(flipped, k, (-2, -1)))
    return views


@torch.no_grad()
def predict(model: nn.Module, unit: np.ndarray, tta: bool = False, batch_size: int = 128) -> torch.Tensor:
    """Logits of [N, S, S] unit images; with `tta` the mean logits over the 8 d4 views, as the runtime computes them."""
    model.eval()
    out = []
    for i in range(0, len(unit), batch_size):
        x = to_input(unit[i:i + batch_size])
        if tta:
            out.append(torch.stack([model(v.contiguous(memory_format=torch.channels_last)).float()
                                    for v in d4_views(x)]).mean(0))
        else:
            out.append(model(x).float())
    return torch.cat(out) if out else torch.empty(0)


def accuracy(logits: torch.Tensor, labels: np.ndarray) -> float:
    return float((logits.argmax(1).numpy() == labels).mean()) if len(labels) else float("nan")


def fit_temperature(logits: torch.Tensor, labels: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 that minimises the validation NLL of softmax(logits / T).
    One parameter, so a hundred validation images pin it; the argmax (accuracy) does not change."""
    if len(labels) == 0:
        return 1.0
    target = torch.from_numpy(labels)
    logits = logits.double()

    def nll(log_t: float) -> float:
        return float(F.cross_entropy(logits / math.exp(log_t), target))

    grid = np.linspace(math.log(0.05), math.log(20.0), 61)
    best = min(grid, key=nll)
    lo, hi = best - (grid[1] - grid[0]), best + (grid[1] - grid[0])
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(40):  # golden-section search inside the best grid cell's neighbourhood
        a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float(math.exp((lo + hi) / 2))


def _is_block(module: nn.Module) -> bool:
    """A unit that takes one learning rate: a leaf layer, a residual block, or a Sequential of leaves (a SemNet
    stage: convolution, batch norm, ReLU)."""
    children = list(module.children())
    if not children or type(module).__name__.endswith("Block"):
        return True
    return isinstance(module, nn.Sequential) and all(not list(c.children()) for c in children)


def _blocks(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameter groups from input to output (SemNet's stages, a ResNet's stem layers and residual blocks, the
    heads), so layer-wise rates can fall off towards the input."""
    blocks: list[list[nn.Parameter]] = []

    def walk(module: nn.Module) -> None:
        for child in module.children():
            if _is_block(child):
                params = [p for p in child.parameters() if p.requires_grad]
                if params:
                    blocks.append(params)
            else:
                walk(child)

    walk(model)
    return blocks


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    blocks = _blocks(model)
    groups = []
    for depth, params in enumerate(reversed(blocks)):
        lr = recipe.lr * recipe.layer_decay ** max(0, depth - 1)  # the last two blocks (the head) take the full rate
        decay = [p for p in params if p.dim() > 1]
        no_decay = [p for p in params if p.dim() <= 1]
        if decay:
            groups.append({"params": decay, "lr": lr, "weight_decay": recipe.weight_decay})
        if no_decay:
            groups.append({"params": no_decay, "lr": lr, "weight_decay": 0.0})
    for group in groups:
        group["initial_lr"] = group["lr"]
    return torch.optim.AdamW(groups)


def balanced_sampler_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """Each present class is drawn equally often (imbalanced fab data); unlabelled images (-1), when distilling,
    get the weight of one more class."""
    labelled = labels >= 0
    counts = np.bincount(labels[labelled], minlength=num_classes).astype(np.float64)
    present = max(int((counts > 0).sum()), 1)
    weights = np.zeros(len(labels), dtype=np.float64)
    weights[labelled] = 1.0 / counts[labels[labelled]]
    unlabelled = int((~labelled).sum())
    if unlabelled:
        weights[~labelled] = 1.0 / unlabelled
        present += 1
    return torch.from_numpy(weights / present)


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.mul_(decay).add_(p.detach(), alpha=1 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


def _default_score(logits: torch.Tensor, labels: np.ndarray) -> tuple:
    loss = float(F.cross_entropy(logits, torch.from_numpy(labels))) if len(labels) else float("nan")
    return accuracy(logits, labels), -loss


def fit(model: nn.Module, recipe: Recipe, train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
        val_y: np.ndarray, num_classes: int, seed: int, deadline: float | None = None,
        soft_targets: torch.Tensor | None = None, class_weights: torch.Tensor | None = None,
        score: Callable[[torch.Tensor, np.ndarray], tuple] = _default_score,
        precision: str = "fp32", log: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic) -> FitResult:
    """Trains `model` with `recipe`; keeps the EMA weights of the epoch that scores best on validation
    (`score`: larger is better, accuracy then -loss by default), then recomputes BatchNorm statistics over the
    training images. `train_y` -1 marks unlabelled images (they need `soft_targets`, the teacher's logits for every
    training row). `deadline` (time.monotonic) ends training early."""
    started = clock()
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model)
    optimizer = make_optimizer(model, recipe)
    images = torch.from_numpy(train_x).unsqueeze(1)
    labels = torch.from_numpy(train_y)
    labelled_rows = train_y >= 0
    weights = balanced_sampler_weights(train_y, num_classes)
    steps_per_epoch = max(1, math.ceil(int(labelled_rows.sum()) / recipe.batch_size))
    warmup = int(recipe.warmup_epochs * steps_per_epoch)
    # The cosine ends where training will end: at max_epochs, or sooner at the last epoch that fits before the
    # deadline (re-planned after each epoch). A schedule cut off by the deadline would stop at a high learning rate.
    planned_epochs = recipe.max_epochs
    lr_factor = WarmupCosine(warmup, planned_epochs * steps_per_epoch)

    temperature = recipe.distil_temperature
    history: list[dict] = []
    best = BestEpoch(recipe.patience)
    stop = f"ran all {recipe.max_epochs} epochs"
    step = 0
    epoch = 0
    while epoch < planned_epochs:
        epoch += 1
        epoch_start = clock()
        model.train()
        order = torch.multinomial(weights, steps_per_epoch * recipe.batch_size, replacement=True, generator=generator)
        total, seen = 0.0, 0
        for start in range(0, len(order), recipe.batch_size):
            index = order[start:start + recipe.batch_size]
            x = recipe.augmentation(images[index], generator)
            y = labels[index]
            soft = soft_targets[index] if soft_targets is not None else None
            lam, partner = 1.0, None
            if recipe.mixup > 0:
                lam = float(np.random.default_rng(seed * 100003 + step).beta(recipe.mixup, recipe.mixup))
                lam = max(lam, 1 - lam)
                partner = torch.randperm(len(index), generator=generator)
                x = lam * x + (1 - lam) * x[partner]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                logits = model(to_input(x)).float()
            has_label = y >= 0
            loss = torch.zeros(())
            hard_weight = 1.0 - recipe.distil_weight if soft is not None else 1.0
            if bool(has_label.any()) and hard_weight > 0:
                hard = F.cross_entropy(logits[has_label], y[has_label], weight=class_weights,
                                       label_smoothing=recipe.label_smoothing)
                if partner is not None:
                    partner_y = y[partner]
                    both = has_label & (partner_y >= 0)
                    if bool(both.any()):
                        hard = lam * hard + (1 - lam) * F.cross_entropy(
                            logits[both], partner_y[both], weight=class_weights, label_smoothing=recipe.label_smoothing)
                loss = loss + hard_weight * hard
            if soft is not None and recipe.distil_weight > 0:
                target = F.softmax(soft / temperature, 1)
                if partner is not None:
                    target = lam * target + (1 - lam) * target[partner]
                kl = F.kl_div(F.log_softmax(logits / temperature, 1), target, reduction="batchmean")
                loss = loss + recipe.distil_weight * temperature ** 2 * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            factor = lr_factor(step)
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * factor
            optimizer.step()
            _ema_update(ema, model, recipe.ema if step >= warmup else 0.0)
            step += 1
            total += float(loss) * len(index)
            seen += len(index)
        val_logits = predict(ema, val_x)
        key = score(val_logits, val_y)
        val_loss = float(F.cross_entropy(val_logits, torch.from_numpy(val_y))) if len(val_y) else float("nan")
        row = {"epoch": epoch, "trainLoss": total / max(seen, 1), "valLoss": val_loss,
               "valAccuracy": accuracy(val_logits, val_y), "score": list(key),
               "seconds": round(clock() - epoch_start, 2), "lrFactor": round(factor, 4)}
        history.append(row)
        best.offer(key, epoch, ema)
        if best.patience_ran_out:
            stop = f"early stop: no validation gain for {recipe.patience} epochs"
            break
        if deadline is not None:
            fits = epochs_that_fit(history, epoch, deadline - clock())
            if fits < planned_epochs:
                planned_epochs = fits
                lr_factor.total_steps = max(planned_epochs * steps_per_epoch, warmup + 1)
                stop = f"time budget: {planned_epochs} epochs fitted"
    best.restore(ema)
    best_epoch = best.epoch
    labelled_images = train_x[labelled_rows] if labelled_rows.any() else train_x
    recompute_bn_statistics(ema, to_input(labelled_images))
    ema.eval()
    val_logits = predict(ema, val_x)
    val_acc = accuracy(val_logits, val_y)
    val_loss = float(F.cross_entropy(val_logits, torch.from_numpy(val_y))) if len(val_y) else float("nan")
    seconds = clock() - started
    log(f"{recipe.name}: val accuracy {val_acc:.4f} (loss {val_loss:.3f}) at best epoch {best_epoch} of "
        f"{len(history)}; {stop}; {seconds:.0f} s")
    return FitResult(ema, recipe, history, best_epoch, stop, val_acc, val_loss, seconds)


class LogitMean(nn.Module):
    """The mean logits of several trained models: the distillation teacher. An ensemble of differently started
    models (the synthetic students, the ImageNet teacher) errs less than any one of them, and its soft labels carry
    what each learnt."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x).float() for member in self.members]).mean(0)


ENSEMBLE_MARGIN = 0.05  # members are the candidates within this much validation accuracy of the best one


def clearly_better(challenger: torch.Tensor, incumbent: torch.Tensor, labels: np.ndarray) -> tuple[bool, int, int]:
    """Whether the challenger's validation logits beat the incumbent's by more than validation noise: a sign test on
    the images where exactly one of the two is right (wins - losses > one standard deviation, sqrt(wins + losses),
    of that difference when both are equally good). With a fab's 10-15 validation images per class, a point or two
    of accuracy is one or two images, and choosing on it would choose at random. Returns (better, wins, losses)."""
    right_c = challenger.argmax(1).numpy() == labels
    right_i = incumbent.argmax(1).numpy() == labels
    wins, losses = int((right_c & ~right_i).sum()), int((right_i & ~right_c).sum())
    return wins - losses > math.sqrt(wins + losses), wins, losses


def choose_teacher(candidates: Sequence[FitResult], val_x: np.ndarray, val_y: np.ndarray,
                   log: Callable[[str], None] = print) -> tuple[nn.Module, str, dict]:
    """The distillation teacher: the mean of the candidates within ENSEMBLE_MARGIN of the best one on validation,
    unless the best one alone is clearly better than that mean (`clearly_better`). A candidate far behind (random
    initialisation on a few hundred images) would only pull the mean down, so it is left out."""
    best = max(candidates, key=lambda r: (r.val_accuracy, -r.val_loss))
    members = [r for r in candidates if r.val_accuracy >= best.val_accuracy - ENSEMBLE_MARGIN]
    note = {"best": best.recipe.name, "bestValAccuracy": best.val_accuracy}
    if len(members) < 2:
        return best.model, best.recipe.name, note
    ensemble = LogitMean([r.model for r in members])
    ensemble_logits = predict(ensemble, val_x)
    ensemble_accuracy = accuracy(ensemble_logits, val_y)
    better, wins, losses = clearly_better(predict(best.model, val_x), ensemble_logits, val_y)
    names = [r.recipe.name for r in members]
    note.update(members=names, ensembleValAccuracy=ensemble_accuracy, bestAloneWins=wins, bestAloneLosses=losses)
    log(f"ensemble of {', '.join(names)}: val accuracy {ensemble_accuracy:.4f}; {best.recipe.name} alone "
        f"{best.val_accuracy:.4f} (right where the mean is wrong on {wins} images, wrong where it is right on {losses})")
    if better:
        return best.model, best.recipe.name, note
    return ensemble, "ensemble(" + "+".join(names) + ")", note


def choose_candidate(results: Sequence[FitResult], val_x: np.ndarray, val_y: np.ndarray,
                     log: Callable[[str], None] = print) -> tuple[FitResult, dict]:
    """The model to ship: the distilled student (the recipe's design: everything we have, taught to the edge
    student), unless the best candidate on validation is clearly better than it (`clearly_better`). Without a
    distilled candidate, the best on validation (then the lowest validation loss)."""
    best = max(results, key=lambda r: (r.val_accuracy, -r.val_loss))
    distilled = [r for r in results if r.recipe.distil_weight > 0]
    if not distilled or distilled[-1] is best:
        return best, {"rule": "best on validation"}
    preferred = distilled[-1]
    better, wins, losses = clearly_better(predict(best.model, val_x), predict(preferred.model, val_x), val_y)
    note = {"preferred": preferred.recipe.name, "best": best.recipe.name, "bestWins": wins, "bestLosses": losses}
    log(f"{best.recipe.name} against {preferred.recipe.name} on validation: right where it is wrong on {wins} "
        f"images, wrong where it is right on {losses}: {'clearly better' if better else 'within the noise'}")
    if better:
        return best, {**note, "rule": "clearly better on validation than the distilled student"}
    return preferred, {**note, "rule": "distilled student (no candidate clearly better on validation)"}


def soft_labels(teacher: nn.Module, unit: np.ndarray, seconds: float | None = None,
                batch_size: int = 64) -> tuple[torch.Tensor, int]:
    """The teacher's logits for every image, once, before the student trains: the mean over the 8 d4 views (steadier
    soft labels than one view) when that fits in `seconds`, judged from the time of the first batch, else one view.
    Returns the logits and the number of views."""
    if len(unit) == 0:
        return torch.empty(0), 1
    started = time.monotonic()
    first = predict(teacher, unit[:batch_size])
    estimate = (time.monotonic() - started) * len(unit) / min(batch_size, len(unit)) * 8
    if seconds is not None and estimate > seconds:
        rest = predict(teacher, unit[batch_size:], batch_size=batch_size)
        return torch.cat([first, rest]) if len(rest) else first, 1
    return predict(teacher, unit, tta=True, batch_size=batch_size), 8


def with_epochs(recipe: Recipe, **changes) -> Recipe:
    return replace(recipe, **changes)


def summarise_candidates(results: Sequence[FitResult]) -> list[dict]:
    return [{"name": r.recipe.name, "start": r.recipe.start, "lr": r.recipe.lr, "layerDecay": r.recipe.layer_decay,
             "distilWeight": r.recipe.distil_weight, "mixup": r.recipe.mixup,
             "valAccuracy": r.val_accuracy, "valLoss": r.val_loss, "epochs": len(r.history),
             "bestEpoch": r.best_epoch, "stop": r.stop, "seconds": round(r.seconds, 1), **r.extra} for r in results]

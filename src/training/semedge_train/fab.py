"""`scripts/train-models --data DIR --out OUT`: retrains the classifier and the screen on a fab's own images.

Stages: scan (class folders, --map, duplicates) -> preprocess (the daemon's decoder, `semedge preprocess`) ->
candidates (fine-tune the shipped synthetic student, train from random, fine-tune a teacher and distil it into
the student, chosen on validation) -> screen -> calibrate (temperature, test-time augmentation) -> export +
parity -> quantize -> evaluate -> OUT/ (hot-swap ready) with a model card and a summary table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import DEFAULT_CLASSES, SCREEN_CLASSES
from .allocator import keep_freed_memory
from .export import build_manifest, export_onnx, sha256_file, write_json, write_parity_reference
from .fab_data import REPO, SEMEDGE, FabDataError, FabScan, Preprocessed, find_duplicates, parse_mapping, \
    preprocess, scan
from .fab_train import FitResult, Recipe, accuracy, choose_candidate, choose_teacher, fit, fit_temperature, predict, soft_labels, \
    summarise_candidates
from .model import CLASSIFIER_ARCH, SCREEN_ARCH, TEACHER_ARCH, TEACHER_FAMILY, ArchSpec, build_model
from .plot import draw_curves
from .loop import init_from, load_checkpoint
from .modelcard import screen_earns_its_place
from .train import choose_defect_threshold, defect_auc, describe_path, \
    resolve_precision, screen_figures

SIZE, MEAN, STD = 128, 0.5, 0.25
SHIPPED = REPO / "models"
# Test-time augmentation is switched on only when it buys at least this much validation accuracy: it costs
# 8 inferences per image.
TTA_MIN_GAIN = 0.01
STAGES = ("scan", "preprocess", "candidates", "screen", "calibrate", "export", "quantize", "evaluate", "ship")


class Progress:
    """The stage display: `[3/9] candidates ...` on start, elapsed time on finish, a summary table at the end."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def stage(self, name: str, detail: str = "") -> None:
        self.finish()
        number = STAGES.index(name) + 1 if name in STAGES else 0
        self._current = (name, time.monotonic())
        elapsed = time.monotonic() - self.started
        print(f"==> [{number}/{len(STAGES)}] {name}{': ' + detail if detail else ''} (at {elapsed / 60:.1f} min)",
              file=self.stream, flush=True)

    def finish(self) -> None:
        if self._current:
            name, since = self._current
            self.timings[name] = round(time.monotonic() - since, 1)
            self._current = None

    def log(self, message: str) -> None:
        print(f"    {message}", file=self.stream, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/train-models --data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="DIR with train/ and val/ (optionally test/), one folder per class")
    p.add_argument("--out", type=Path, required=True, help="output folder, ready to copy into a board's models folder")
    p.add_argument("--map", dest="mapping", help="rename class folders: FOLDER=CLASS[,FOLDER=CLASS...]")
    p.add_argument("--unlabelled", type=Path, help="folder of unlabelled images (e.g. the daemon's archive) for distillation")
    p.add_argument("--work", type=Path, help="scratch folder (default OUT/.work, removed at the end unless --keep-work)")
    p.add_argument("--keep-work", action="store_true")
    p.add_argument("--minutes", type=float, default=15.0, help="time budget of the whole run (default 15)")
    p.add_argument("--init", type=Path, default=SHIPPED / "classifier.pt", help="the synthetic student to start from")
    p.add_argument("--screen-init", type=Path, default=SHIPPED / "screen.pt", help="the screen to fine-tune")
    p.add_argument("--teacher-init", type=Path, default=SHIPPED / "teacher.pt",
                   help="a synthetic-trained teacher checkpoint (default models/teacher.pt when it exists; else the "
                        "ImageNet ResNet-18 of the NuGet package)")
    p.add_argument("--tta", choices=("auto", "none", "d4"), default="auto",
                   help="test-time augmentation: auto (d4 when it gains >= 1 point on validation), none, or d4")
    p.add_argument("--no-teacher", action="store_true", help="skip the teacher (distil from the best student)")
    p.add_argument("--candidates", help="comma-separated subset of the candidate names (default: all that apply)")
    p.add_argument("--epochs", type=int, help="cap on every candidate's epochs (tests and quick looks)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: every core)")
    p.add_argument("--report-candidates", action="store_true",
                   help="also export, quantize and evaluate every student candidate on test (scripts/fab-proxy)")
    p.add_argument("--signing-key", type=Path,
                   help="Ed25519 private key (semedge keygen) that signs OUT's manifests, so a board that trusts it "
                        "hot-swaps them in; default: the development key (~/.config/semedge/dev-signing.key)")
    p.add_argument("--version", default=time.strftime("%Y.%m.%d.%H%M", time.gmtime()),
                   help="manifest version; the hot swap takes a higher version of the same model id")
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------------------------------------
# Candidates


def _student(init: Path | None, log) -> torch.nn.Module:
    model = build_model(len(DEFAULT_CLASSES), CLASSIFIER_ARCH)
    if init is not None:
        checkpoint = load_checkpoint(init)
        if tuple(checkpoint["classes"]) != DEFAULT_CLASSES:
            raise FabDataError(f"{init}: classes {checkpoint['classes']} are not the model's {list(DEFAULT_CLASSES)}")
        if ArchSpec(**checkpoint["arch"]) != CLASSIFIER_ARCH:
            model = build_model(len(DEFAULT_CLASSES), ArchSpec(**checkpoint["arch"]))
        init_from(model, checkpoint, log)
    return model


def build_teacher(init: Path | None, log) -> tuple[torch.nn.Module, ArchSpec, str]:
    """The teacher to fine-tune on the fab's images: the synthetic-trained ImageNet teacher of the shipped build
    (`--teacher-init`, a NAME.pt of family imagenet-resnet18) when there is one, else the ImageNet ResNet-18 weights
    of the NuGet package (semedge_train/teacher.py), with a new 10-class head."""
    from .teacher import build_imagenet_teacher, describe_source
    if init is not None and init.exists():
        checkpoint = load_checkpoint(init)
        arch = ArchSpec(**checkpoint["arch"])
        if arch.family != TEACHER_FAMILY:
            raise FabDataError(f"--teacher-init {init}: family {arch.family}, expected {TEACHER_FAMILY}")
        model = build_model(len(DEFAULT_CLASSES), arch)
        init_from(model, checkpoint, log)
        return model, arch, f"{init.name} (ImageNet ResNet-18 trained on synthetic images)"
    model = build_imagenet_teacher(len(DEFAULT_CLASSES), TEACHER_ARCH.stages, MEAN, STD, log=log,
                                   dropout=TEACHER_ARCH.dropout, work_size=TEACHER_ARCH.work_size)
    source = describe_source()
    return model, TEACHER_ARCH, f"ImageNet ResNet-18 ({source['package']} {source['version']}), cut after stage " \
                                f"{TEACHER_ARCH.stages}, run at {TEACHER_ARCH.work_size}x{TEACHER_ARCH.work_size}"


def teacher_recipe(epochs_cap: int | None) -> Recipe:
    """Fine-tuning the ImageNet teacher: a low rate falling off towards the stem (its early filters are the part of
    ImageNet that transfers), strong augmentation. It costs about 2.5 student steps per image, so its share of the
    budget usually ends it first (the schedule then anneals to the deadline); the epoch cap only matters when the
    students stop early and leave it time."""
    recipe = Recipe("teacher", start="teacher", lr=1e-3, layer_decay=0.7, max_epochs=50, patience=12,
                    weight_decay=0.05, ema=0.98, warmup_epochs=1.0)
    if epochs_cap:
        recipe = replace(recipe, max_epochs=min(recipe.max_epochs, epochs_cap), patience=min(recipe.patience, epochs_cap),
                         warmup_epochs=min(recipe.warmup_epochs, max(epochs_cap / 4, 0.25)))
    return recipe


def student_recipes(epochs_cap: int | None) -> list[Recipe]:
    """The student candidates. Learning rates and layer-wise decay bracket what worked on the proxy
    (scripts/fab-proxy); validation picks among them."""
    recipes = [
        Recipe("synthetic-lr2e-3", start="synthetic", lr=2e-3, layer_decay=0.8, max_epochs=80, patience=20),
        Recipe("synthetic-lr5e-3", start="synthetic", lr=5e-3, layer_decay=0.9, max_epochs=80, patience=20),
        Recipe("random-lr5e-3", start="random", lr=5e-3, layer_decay=1.0, max_epochs=80, patience=20),
    ]
    if epochs_cap:
        recipes = [replace(r, max_epochs=min(r.max_epochs, epochs_cap), patience=min(r.patience, epochs_cap),
                           warmup_epochs=min(r.warmup_epochs, max(epochs_cap / 4, 0.25))) for r in recipes]
    return recipes


def distil_recipe(epochs_cap: int | None, teacher_name: str) -> Recipe:
    recipe = Recipe(f"distilled-from-{teacher_name}", start="synthetic", lr=3e-3, layer_decay=0.8, max_epochs=100,
                    patience=25, distil_weight=0.7, distil_temperature=2.0)
    if epochs_cap:
        recipe = replace(recipe, max_epochs=min(recipe.max_epochs, epochs_cap), patience=min(recipe.patience, epochs_cap),
                         warmup_epochs=min(recipe.warmup_epochs, max(epochs_cap / 4, 0.25)))
    return recipe


def run_candidates(args, scan_result: FabScan, pre: Preprocessed, deadline: float, precision: str,
                   progress: Progress) -> tuple[FitResult, list[FitResult], dict]:
    train_x, train_y, _ = pre.select("train")
    val_x, val_y, _ = pre.select("val")
    unl_x, _, _ = pre.select("unlabelled")
    wanted = set(args.candidates.split(",")) if args.candidates else None
    recipes = [r for r in student_recipes(args.epochs) if wanted is None or r.name in wanted]
    if not args.init.exists():
        progress.log(f"{args.init} not found: the synthetic-student candidates are skipped")
        recipes = [r for r in recipes if r.start != "synthetic"]
    use_teacher = (wanted is None or "teacher" in wanted) and not args.no_teacher
    distil = wanted is None or any(w.startswith("distilled") for w in wanted)
    # Time is shared out by weight over what is left to run, re-planned after each candidate: the teacher costs
    # about three students, the distillation two.
    weights = {r.name: 1.0 for r in recipes}
    if use_teacher:
        weights["teacher"] = 3.0
    if distil:
        weights["distilled"] = 2.0
    results: list[FitResult] = []
    notes: dict = {"teacher": None}

    def share(name: str) -> float:
        left = sum(weights.values())
        seconds = (deadline - time.monotonic()) * weights.pop(name) / max(left, 1e-9)
        return time.monotonic() + max(seconds, 1.0)

    for index, recipe in enumerate(recipes):
        model = _student(args.init if recipe.start == "synthetic" else None, progress.log)
        result = fit(model, recipe, train_x, train_y, val_x, val_y, len(DEFAULT_CLASSES), args.seed + index,
                     deadline=share(recipe.name), precision=precision, log=progress.log)
        results.append(result)

    teacher_model, teacher_name = None, None
    if use_teacher:
        try:
            model, arch, source = build_teacher(args.teacher_init, progress.log)
            teacher_result = fit(model, teacher_recipe(args.epochs), train_x, train_y, val_x, val_y,
                                 len(DEFAULT_CLASSES), args.seed + 50, deadline=share("teacher"), precision=precision,
                                 log=progress.log)
            # The teacher of the distillation is chosen on validation among the ImageNet teacher, the students
            # and their mean (choose_teacher): a teacher worse than a student (too few epochs on a slow or busy
            # machine) would only pull the student down.
            teacher_model, teacher_name, notes["teaching"] = choose_teacher(results + [teacher_result], val_x, val_y,
                                                                            progress.log)
            notes["teacher"] = {"source": source, "valAccuracy": teacher_result.val_accuracy,
                                "epochs": len(teacher_result.history), "bestEpoch": teacher_result.best_epoch,
                                "seconds": round(teacher_result.seconds, 1), "arch": arch.to_dict()}
            notes["teacherResult"] = teacher_result
            notes["teacherArch"] = arch
        except Exception as error:  # noqa: BLE001 -- the students still stand; the card says why there was no teacher
            weights.pop("teacher", None)
            notes["teacher"] = {"error": f"{type(error).__name__}: {error}"}
            progress.log(f"teacher unavailable ({error}); distilling from the best student instead")
    elif distil:
        notes["teacher"] = {"error": "teacher not used (--no-teacher or --candidates): distilled from the best "
                                     "student candidate (self-distillation)"}
    if distil and teacher_model is None and results:
        teacher_model, teacher_name, notes["teaching"] = choose_teacher(results, val_x, val_y, progress.log)
    if distil and teacher_model is not None:
        recipe = distil_recipe(args.epochs, teacher_name)
        rows_x = np.concatenate([train_x, unl_x]) if len(unl_x) else train_x
        rows_y = np.concatenate([train_y, np.full(len(unl_x), -1, dtype=np.int64)]) if len(unl_x) else train_y
        # Soft labels take at most a tenth of the time left (8 views each when that fits, else one).
        soft, views = soft_labels(teacher_model, rows_x, seconds=0.1 * (deadline - time.monotonic()))
        notes["distillation"] = {"teacher": teacher_name, "labelledImages": int(len(train_x)),
                                 "unlabelledImages": int(len(unl_x)), "softLabelViews": views,
                                 "temperature": recipe.distil_temperature, "weight": recipe.distil_weight,
                                 "teacherAgreesWithTrainLabels": float((soft[:len(train_y)].argmax(1).numpy()
                                                                        == train_y).mean())}
        progress.log(f"soft labels from {teacher_name}: {len(rows_x)} images, {views} view(s) each")
        result = fit(_student(args.init if args.init.exists() else None, progress.log), recipe, rows_x, rows_y,
                     val_x, val_y, len(DEFAULT_CLASSES), args.seed + 97, deadline=share("distilled"),
                     soft_targets=soft, precision=precision, log=progress.log)
        result.extra["teacher"] = teacher_name
        results.append(result)
    if not results:
        raise FabDataError("no candidate to train (check --candidates)")
    chosen, notes["choice"] = choose_candidate(results, val_x, val_y, progress.log)
    return chosen, results, notes


# ---------------------------------------------------------------------------------------------------------------
# Screen


def _screen_score(min_recall: float):
    def score(logits: torch.Tensor, labels: np.ndarray) -> tuple:
        p = torch.softmax(logits, 1)[:, 1].numpy()
        if labels.min(initial=1) == labels.max(initial=0):
            return (accuracy(logits, labels),)
        threshold = choose_defect_threshold(p, labels, min_recall, 1.0)
        return screen_figures(p, labels, threshold)["cleanRecall"], defect_auc(p, labels)
    return score


def train_screen(args, pre: Preprocessed, deadline: float, precision: str, progress: Progress) -> dict:
    """Fine-tunes the shipped screen on clean vs defect. Without clean and defect images in both training and
    validation its threshold cannot be set on the fab's data, so it is shipped with defectThreshold 0: every
    image goes on to the classifier (the screen is bypassed, never trusted blind)."""
    train_x, train_y, _ = pre.select("train")
    val_x, val_y, _ = pre.select("val")
    clean = DEFAULT_CLASSES.index("clean")
    ty, vy = (train_y != clean).astype(np.int64), (val_y != clean).astype(np.int64)
    arch = replace(SCREEN_ARCH, cell_classes=len(DEFAULT_CLASSES))
    model = build_model(len(SCREEN_CLASSES), arch)
    if args.screen_init.exists():
        checkpoint = load_checkpoint(args.screen_init)
        arch = ArchSpec(**checkpoint["arch"])
        model = build_model(len(SCREEN_CLASSES), arch)
        init_from(model, checkpoint, progress.log)
    usable = all(len(set(y.tolist())) == 2 for y in (ty, vy))
    info: dict = {"arch": arch.to_dict(), "init": str(args.screen_init) if args.screen_init.exists() else None}
    if not usable:
        info.update(bypassed=True, reason="the fab data needs clean and defect images in train/ and val/ to set the "
                                          "screen's threshold; shipped with defectThreshold 0 (every image goes on "
                                          "to the classifier)", threshold=0.0)
        info["model"] = model
        progress.log("screen: " + info["reason"])
        return info
    counts = np.bincount(ty, minlength=2)
    weights = torch.tensor(len(ty) / (2 * counts), dtype=torch.float32)
    recipe = Recipe("screen", start="synthetic", lr=2e-3, layer_decay=0.8, max_epochs=min(args.epochs or 40, 40),
                    patience=min(args.epochs or 12, 12), label_smoothing=0.0)
    result = fit(model, recipe, train_x, ty, val_x, vy, 2, args.seed + 7, deadline=deadline, class_weights=weights,
                 score=_screen_score(0.995), precision=precision, log=progress.log)
    p = torch.softmax(predict(result.model, val_x), 1)[:, 1].numpy()
    threshold = choose_defect_threshold(p, vy, 0.995, 1.0)
    figures = screen_figures(p, vy, threshold)
    progress.log(f"screen: defectThreshold {threshold:.4g}: val defect recall {figures['defectRecall']:.3f}, "
                 f"clean images passed {figures['cleanRecall']:.3f}")
    info.update(bypassed=False, threshold=threshold, val=figures, model=result.model, result=result,
                classWeights=[round(float(w), 4) for w in weights])
    return info


# ---------------------------------------------------------------------------------------------------------------
# Export, quantize, evaluate


def _save_checkpoint(model, arch: ArchSpec, classes, kind: str, path: Path) -> None:
    meta = {"arch": arch.to_dict(), "classes": list(classes), "kind": kind, "size": SIZE, "mean": MEAN, "std": STD}
    model = model.to(memory_format=torch.contiguous_format)
    torch.save({"meta": json.dumps(meta), "state_dict": model.state_dict()}, str(path))


def export_model(model, arch: ArchSpec, name: str, kind: str, classes, folder: Path, version: str,
                 val_x: np.ndarray, training: dict, metrics: dict, threshold: float | None = None,
                 temperature: float | None = None, tta: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model = model.to(memory_format=torch.contiguous_format).eval()
    _save_checkpoint(model, arch, classes, kind, folder / f"{name}.pt")
    onnx_path = folder / f"{name}.fp32.onnx"
    export_onnx(model, onnx_path, SIZE)
    manifest = build_manifest(model_id=f"semedge-{kind}", kind=kind, version=version, onnx_path=onnx_path,
                              classes=classes, size=SIZE, mean=MEAN, std=STD, defect_threshold=threshold,
                              training=training, metrics=metrics)
    if temperature is not None:
        manifest["temperature"] = round(float(temperature), 6)
    if tta is not None:
        manifest["tta"] = tta
    path = folder / f"{name}.fp32.json"
    write_json(path, manifest)
    picks = np.linspace(0, len(val_x) - 1, num=min(3, len(val_x))).round().astype(int)
    write_parity_reference(model, (val_x[picks] - MEAN) / STD, folder / f"{name}.parity.json")
    return path


def _semedge(args: list, log: Callable[[str], None], work: Path, name: str) -> str:
    run = subprocess.run([str(SEMEDGE), *[str(a) for a in args]], capture_output=True, text=True, cwd=REPO)
    (work / "logs").mkdir(parents=True, exist_ok=True)
    (work / "logs" / f"{name}.log").write_text(run.stdout + run.stderr)
    if run.returncode != 0:
        raise FabDataError(f"semedge {args[0]} ({name}) failed with exit code {run.returncode}: "
                           f"{(run.stderr or run.stdout).strip()[-2000:]}")
    return run.stdout


def _link_split(pre: Preprocessed, split: str, folder: Path) -> Path | None:
    """The split as `semedge evaluate` reads it: DIR/{class}/file, with the fab's folder names mapped to ours."""
    rows = [image for image in pre.images if image.split == split]
    if not rows:
        return None
    if folder.exists():
        shutil.rmtree(folder)
    for n, image in enumerate(rows):
        target = folder / DEFAULT_CLASSES[image.label] / f"{n:05d}-{image.path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(image.path.resolve(), target)
    return folder


def _calibration_folder(pre: Preprocessed, folder: Path, per_class: int = 20) -> Path:
    """A class-balanced sample of training images for INT8 calibration (copies: the quantizer reads files)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for label in range(len(DEFAULT_CLASSES)):
        rows = [i for i in pre.images if i.split == "train" and i.label == label]
        picks = np.linspace(0, len(rows) - 1, num=min(per_class, len(rows))).round().astype(int) if rows else []
        for k in sorted(set(int(p) for p in picks)):
            shutil.copyfile(rows[k].path, folder / f"{DEFAULT_CLASSES[label]}-{k:04d}{rows[k].path.suffix.lower()}")
    return folder


def _evaluate(manifest: Path, data: Path, out: Path, log, work: Path, name: str, screen: Path | None = None) -> dict:
    extra = ["--screen", screen] if screen else []
    _semedge(["evaluate", manifest, "--data", data, "--out", out, *extra], log, work, name)
    return json.loads((out / "report.json").read_text())


# ---------------------------------------------------------------------------------------------------------------
# The flow


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    progress = Progress()
    try:
        summary = run(args, progress)
    except FabDataError as error:
        print(f"train-models: {error}", file=sys.stderr)
        return 2
    print_summary(summary, progress)
    return 0


def run(args, progress: Progress) -> dict:
    started = time.monotonic()
    deadline = started + args.minutes * 60
    # Every core by default: this torch build starts with one thread, and the fab flow runs alone.
    torch.set_num_threads(args.threads if args.threads > 0 else len(os.sched_getaffinity(0)))
    keep_freed_memory()
    precision = resolve_precision("auto")
    out = args.out.resolve()
    work = (args.work or out / ".work").resolve()
    work.mkdir(parents=True, exist_ok=True)

    progress.stage("scan", str(args.data))
    mapping = parse_mapping(args.mapping)
    found = scan(args.data, mapping, args.unlabelled)
    for split in ("train", "val", "test"):
        counts = found.counts(split)
        if any(counts):
            progress.log(f"{split}: {sum(counts)} images " + ", ".join(f"{c} {n}" for c, n in zip(DEFAULT_CLASSES, counts)))
    if found.split("unlabelled"):
        progress.log(f"unlabelled: {len(found.split('unlabelled'))} images")
    missing = found.without_training_images()
    if missing:
        progress.log(f"no training images for {', '.join(missing)}: the model keeps all {len(DEFAULT_CLASSES)} "
                     "classes but will hardly ever predict these")
    for path in found.ignored[:10]:
        progress.log(f"ignored (not an image by its extension): {path}")

    progress.stage("preprocess", f"{len(found.images)} images with the daemon's decoder (semedge preprocess)")
    pre = preprocess(found.images, SIZE, work / "cache", log=progress.log)
    sizes = np.array(pre.original_sizes) if pre.original_sizes else np.zeros((0, 2))
    if len(sizes):
        progress.log(f"decoded {len(pre.images)} images, {sizes.min()}..{sizes.max()} px on a side")
    duplicates = find_duplicates(pre)
    for pair in duplicates[:20]:
        progress.log(f"warning: {pair['kind']} duplicate across {pair['splits'][0]}/{pair['splits'][1]}: "
                     f"{pair['files'][0]} and {pair['files'][1]} (similarity {pair['similarity']:.3f})")
    if len(duplicates) > 20:
        progress.log(f"warning: {len(duplicates) - 20} more duplicate pairs in reports/duplicates.json")
    train_x, train_y, _ = pre.select("train")
    val_x, val_y, _ = pre.select("val")
    if len(train_x) == 0 or len(val_x) == 0:
        raise FabDataError("no readable training or validation images are left (see the warnings above)")

    # Shares of the budget: the candidates take what the rest leaves, the screen a tenth, a reserve for export,
    # quantize and evaluate (about a minute for 1,000 images here).
    reserve = max(60.0, 0.12 * args.minutes * 60)
    screen_seconds = max(20.0, 0.1 * args.minutes * 60)
    candidates_deadline = deadline - reserve - screen_seconds
    progress.stage("candidates", f"{precision} training, {torch.get_num_threads()} threads")
    chosen, results, notes = run_candidates(args, found, pre, candidates_deadline, precision, progress)
    for r in results:
        progress.log(f"candidate {r.recipe.name}: val accuracy {100 * r.val_accuracy:.1f} % ({len(r.history)} epochs)")
    progress.log(f"chosen on validation: {chosen.recipe.name}")

    progress.stage("screen")
    screen = train_screen(args, pre, deadline - reserve, precision, progress)

    progress.stage("calibrate", "test-time augmentation and temperature on validation")
    plain = predict(chosen.model, val_x)
    d4 = predict(chosen.model, val_x, tta=True)
    plain_acc, d4_acc = accuracy(plain, val_y), accuracy(d4, val_y)
    tta = args.tta if args.tta != "auto" else ("d4" if d4_acc - plain_acc >= TTA_MIN_GAIN else "none")
    temperature = fit_temperature(d4 if tta == "d4" else plain, val_y)
    progress.log(f"val accuracy {100 * plain_acc:.1f} % plain, {100 * d4_acc:.1f} % with d4 averaging -> tta {tta}; "
                 f"temperature {temperature:.3f}")

    progress.stage("export", "checkpoints, FP32 ONNX, manifests, parity")
    trained = work / "trained"
    counts = {s: found.counts(s) for s in ("train", "val", "test")}
    common = {"fab": True, "data": describe_path(args.data), "mapping": mapping or None,
              "trainImages": int(len(train_x)), "valImages": int(len(val_x)),
              "perClassTrain": dict(zip(DEFAULT_CLASSES, counts["train"])),
              "classesWithoutTrainingImages": missing, "unlabelledImages": int(len(pre.select("unlabelled")[0])),
              "rejectedFiles": len(pre.rejected), "duplicatePairs": len(duplicates), "precision": precision,
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    classifier_training = {**common, "recipe": chosen.recipe.describe(), "chosenFrom": summarise_candidates(results),
                           "epochs": len(chosen.history), "bestEpoch": chosen.best_epoch, "stop": chosen.stop,
                           "init": str(args.init) if chosen.recipe.start == "synthetic" else None,
                           "teacher": notes.get("teacher"), "distillation": notes.get("distillation"),
                           "calibration": {"temperature": temperature, "valAccuracy": plain_acc,
                                           "valAccuracyD4": d4_acc, "tta": tta,
                                           "rule": f"d4 on when it gains >= {100 * TTA_MIN_GAIN:g} points on validation"}}
    classifier_manifest = export_model(chosen.model, CLASSIFIER_ARCH, "classifier", "classifier", DEFAULT_CLASSES,
                                       trained, args.version, val_x, classifier_training,
                                       {"valAccuracy": d4_acc if tta == "d4" else plain_acc},
                                       temperature=temperature, tta=tta)
    screen_training = {**common, "bypassed": screen["bypassed"], "init": screen["init"],
                       "reason": screen.get("reason"), "val": screen.get("val"), "classWeights": screen.get("classWeights")}
    if screen.get("result"):
        r = screen["result"]
        screen_training.update(epochs=len(r.history), bestEpoch=r.best_epoch, stop=r.stop)
    screen_manifest = export_model(screen["model"], ArchSpec(**screen["arch"]), "screen", "screen", SCREEN_CLASSES,
                                   trained, args.version, val_x, screen_training, {}, threshold=screen["threshold"])
    parity = {}
    for name, manifest in (("classifier", classifier_manifest), ("screen", screen_manifest)):
        text = _semedge(["parity", manifest, "--reference", trained / f"{name}.parity.json"], progress.log, work,
                        f"parity-{name}")
        parity[name] = text.strip().splitlines()[-1] if text.strip() else ""
        progress.log(parity[name])

    progress.stage("quantize", "INT8 QDQ, calibrated on class-balanced training images")
    calib = _calibration_folder(pre, work / "calib")
    for name in ("classifier", "screen"):
        _semedge(["quantize", trained / f"{name}.fp32.onnx", "--calib", calib, "--out", trained / f"{name}.int8.onnx",
                  "--manifest", trained / f"{name}.fp32.json"], progress.log, work, f"quantize-{name}")

    progress.stage("evaluate", "semedge evaluate on validation" + (" and test" if found.split("test") else ""))
    reports_dir = work / "reports"
    splits = {s: _link_split(pre, s, work / "eval" / s) for s in ("val", "test")}
    reports: dict[str, dict] = {}
    for split, folder in splits.items():
        if folder is None:
            continue
        for key, manifest in (("classifier-fp32", "classifier.fp32.json"), ("classifier-int8", "classifier.int8.json"),
                              ("screen-int8", "screen.int8.json")):
            reports[f"{split}/{key}"] = _evaluate(trained / manifest, folder, reports_dir / split / key, progress.log,
                                                  work, f"evaluate-{split}-{key}")
        reports[f"{split}/cascade-int8"] = _evaluate(trained / "classifier.int8.json", folder,
                                                     reports_dir / split / "cascade-int8", progress.log, work,
                                                     f"evaluate-{split}-cascade", screen=trained / "screen.int8.json")
    candidate_reports = {}
    if args.report_candidates and splits.get("test"):
        candidate_reports = _report_candidates(args, results, notes, trained.parent / "candidates", calib,
                                               splits["test"], val_x, progress, work)

    progress.stage("ship", str(out))
    # The daemon refuses an unsigned manifest, at start and at every hot swap (docs/classes-and-model-trust.md).
    key = ["--key", args.signing_key] if args.signing_key else []
    _semedge(["sign-model", *(trained / f"{n}.{f}.json" for n in ("classifier", "screen") for f in ("int8", "fp32")),
              *key], progress.log, work, "sign")
    summary = _summary(args, found, pre, duplicates, chosen, results, notes, screen, temperature, tta,
                       plain_acc, d4_acc, parity, reports, candidate_reports, progress, started)
    curve_runs = results + ([notes["teacherResult"]] if notes.get("teacherResult") else [])
    _ship(trained, reports_dir, out, summary, curve_runs, chosen, screen, duplicates, pre)
    progress.finish()
    summary["stageSeconds"] = progress.timings
    summary["wallSeconds"] = round(time.monotonic() - started, 1)
    write_json(out / "reports" / "summary.json", summary)
    write_fab_card(out, summary)
    if not args.keep_work and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return summary


def _report_candidates(args, results, notes, folder: Path, calib: Path, test: Path, val_x, progress, work) -> dict:
    """Every candidate (and the teacher) exported, quantized and evaluated on test: the proxy's table of starting
    points. Only for measuring (scripts/fab-proxy); the choice itself never looks at test."""
    figures = {}
    runs = [(r, CLASSIFIER_ARCH) for r in results]
    if notes.get("teacherResult") is not None:
        runs.append((notes["teacherResult"], notes["teacherArch"]))
    for r, arch in runs:
        sub = folder / r.recipe.name
        row = {"valAccuracy": r.val_accuracy}
        try:
            manifest = export_model(r.model, arch, "classifier", "classifier", DEFAULT_CLASSES, sub, args.version,
                                    val_x, {"candidate": r.recipe.name}, {})
            row["fp32Bytes"] = (sub / "classifier.fp32.onnx").stat().st_size
            row["testFP32"] = _evaluate(manifest, test, sub / "test-fp32", progress.log, work,
                                        f"evaluate-{r.recipe.name}-fp32")["classifier"]["accuracy"]
            _semedge(["quantize", sub / "classifier.fp32.onnx", "--calib", calib, "--out",
                      sub / "classifier.int8.onnx", "--manifest", manifest], progress.log, work,
                     f"quantize-{r.recipe.name}")
            row["int8Bytes"] = (sub / "classifier.int8.onnx").stat().st_size
            row["testINT8"] = _evaluate(sub / "classifier.int8.json", test, sub / "test-int8", progress.log, work,
                                        f"evaluate-{r.recipe.name}-int8")["classifier"]["accuracy"]
        except (FabDataError, RuntimeError, OSError) as error:
            row["error"] = str(error)[-300:]
        figures[r.recipe.name] = row
        progress.log(f"candidate {r.recipe.name}: test FP32 {_pct(row.get('testFP32'))}, INT8 {_pct(row.get('testINT8'))}")
    return figures


def _headline(report: dict | None) -> dict:
    if not report:
        return {}
    if report.get("cascade"):
        c = report["cascade"]
        return {"accuracy": c["result"]["accuracy"], "classifierSpared": c["classifierSparedFraction"],
                "defectRecall": c["screen"]["metrics"]["defectRecall"]}
    if report.get("screen"):
        m = report["screen"]["metrics"]
        return {"defectRecall": m["defectRecall"], "cleanRecall": m["cleanRecall"], "threshold": m["threshold"]}
    c = report["classifier"]
    purity = c.get("purity") or {}
    return {"accuracy": c["accuracy"], "macroF1": c["macroF1"], "total": c["total"],
            "latencyP50Ms": c["latencyMs"]["p50"], "latencyP99Ms": c["latencyMs"]["p99"],
            "purityTarget": purity.get("atTargetPurity"), "purityPoints": purity.get("points"),
            "ece": purity.get("expectedCalibrationError"), "confusion": c["confusion"]}


def _summary(args, found, pre, duplicates, chosen, results, notes, screen, temperature, tta, plain_acc, d4_acc,
             parity, reports, candidate_reports, progress, started) -> dict:
    return {
        "version": args.version, "data": describe_path(args.data), "mapping": found.mapping or None,
        "classes": list(DEFAULT_CLASSES),
        "counts": {s: dict(zip(DEFAULT_CLASSES, found.counts(s))) for s in ("train", "val", "test")},
        "unlabelled": len(found.split("unlabelled")), "classesWithoutTrainingImages": found.without_training_images(),
        "rejected": pre.rejected, "duplicates": len(duplicates),
        "chosen": chosen.recipe.name, "candidates": summarise_candidates(results), "teacher": notes.get("teacher"),
        "distillation": notes.get("distillation"), "teaching": notes.get("teaching"), "choice": notes.get("choice"),
        "calibration": {"temperature": temperature, "tta": tta, "valAccuracyPlain": plain_acc, "valAccuracyD4": d4_acc},
        "screen": {"bypassed": screen["bypassed"], "threshold": screen["threshold"], "reason": screen.get("reason"),
                   "val": screen.get("val")},
        "parity": parity, "figures": {k: _headline(v) for k, v in reports.items()},
        "candidateTest": candidate_reports, "minutes": args.minutes,
        "machine": {"cpus": os.cpu_count(), "threads": torch.get_num_threads()},
    }


def _ship(trained: Path, reports_dir: Path, out: Path, summary: dict, results, chosen, screen, duplicates, pre) -> None:
    """OUT/ as the daemon's models folder wants it: the INT8 and FP32 models with their manifests (sha256 checked
    here once more), the checkpoints, parity references, reports, curves and the model card."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("classifier", "screen"):
        for fmt in ("int8", "fp32"):
            manifest_path = trained / f"{name}.{fmt}.json"
            manifest = json.loads(manifest_path.read_text())
            if sha256_file(trained / manifest["file"]) != manifest["sha256"]:
                raise FabDataError(f"{manifest_path}: sha256 does not match {manifest['file']}")
            shutil.copyfile(trained / manifest["file"], out / manifest["file"])
        for suffix in (".pt", ".parity.json"):
            shutil.copyfile(trained / f"{name}{suffix}", out / f"{name}{suffix}")
    # Manifests last, after their signatures: the hot swap reacts to a manifest, and its model file and signature
    # must already be complete.
    for name in ("classifier", "screen"):
        for fmt in ("fp32", "int8"):
            shutil.copyfile(trained / f"{name}.{fmt}.json.sig", out / f"{name}.{fmt}.json.sig")
            shutil.copyfile(trained / f"{name}.{fmt}.json", out / f"{name}.{fmt}.json")
    shipped = out / "reports"
    if shipped.exists():
        shutil.rmtree(shipped)
    shutil.copytree(reports_dir, shipped)
    curves = shipped / "training"
    curves.mkdir(parents=True, exist_ok=True)
    runs = list(results) + ([screen["result"]] if screen.get("result") else [])
    for r in runs:
        draw_curves(curves / f"{r.recipe.name}.curve.png", r.recipe.name, [h["trainLoss"] for h in r.history],
                    [h["valLoss"] for h in r.history], [h["valAccuracy"] for h in r.history])
    write_json(curves / "candidates.json", {"chosen": chosen.recipe.name,
                                            "runs": [{"name": r.recipe.name, "history": r.history} for r in runs]})
    write_json(shipped / "duplicates.json", duplicates)
    write_json(shipped / "rejected.json", pre.rejected)
    split = "test" if (shipped / "test").exists() else "val"
    png = shipped / split / "classifier-int8" / "confusion.png"
    if png.exists():
        shutil.copyfile(png, out / "confusion-matrix.png")


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def print_summary(summary: dict, progress: Progress) -> None:
    f = summary["figures"]
    rows = [("stage seconds", ", ".join(f"{k} {v:g}" for k, v in summary["stageSeconds"].items()))]
    rows.append(("wall time", f"{summary['wallSeconds'] / 60:.1f} min (budget {summary['minutes']:g})"))
    rows.append(("chosen recipe", summary["chosen"]))
    for c in summary["candidates"]:
        rows.append((f"  candidate {c['name']}", f"val {_pct(c['valAccuracy'])}, {c['epochs']} epochs, {c['seconds']:.0f} s"))
    teacher = summary.get("teacher") or {}
    if "valAccuracy" in teacher:
        rows.append(("  teacher (not shipped)", f"val {_pct(teacher['valAccuracy'])}, {teacher['epochs']} epochs, "
                                                f"{teacher['seconds']:.0f} s: {teacher['source']}"))
    elif teacher.get("error"):
        rows.append(("  teacher", teacher["error"][:100]))
    if (summary.get("distillation") or {}).get("teacher"):
        rows.append(("  distillation teacher", summary["distillation"]["teacher"]))
    cal = summary["calibration"]
    rows.append(("calibration", f"temperature {cal['temperature']:.3f}, tta {cal['tta']} "
                                f"(val {_pct(cal['valAccuracyPlain'])} plain, {_pct(cal['valAccuracyD4'])} d4)"))
    for split in ("val", "test"):
        fp32, int8 = f.get(f"{split}/classifier-fp32"), f.get(f"{split}/classifier-int8")
        if not int8:
            continue
        target = int8.get("purityTarget")
        rows.append((f"{split} classifier", f"FP32 {_pct(fp32.get('accuracy'))}, INT8 {_pct(int8.get('accuracy'))} "
                                            f"({int8['total']} images)"))
        rows.append((f"{split} 95 % purity", "not reached" if not target else
                     f"confidence >= {target['threshold']:.3f}: accept rate {_pct(target['acceptRate'])}"))
        cascade = f.get(f"{split}/cascade-int8", {})
        rows.append((f"{split} cascade", f"accuracy {_pct(cascade.get('accuracy'))}, classifier spared on "
                                         f"{_pct(cascade.get('classifierSpared'))}"))
    rows.append(("screen", "bypassed (threshold 0)" if summary["screen"]["bypassed"]
                 else f"defectThreshold {summary['screen']['threshold']:.4g}"))
    if summary["classesWithoutTrainingImages"]:
        rows.append(("no training images", ", ".join(summary["classesWithoutTrainingImages"])))
    rows.append(("warnings", f"{summary['duplicates']} duplicate pair(s), {len(summary['rejected'])} unreadable file(s)"))
    width = max(len(k) for k, _ in rows)
    print("\n" + "-" * (width + 60))
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    print("-" * (width + 60))


def _screen_use(screen: dict) -> str:
    """The card's advice on `Pipeline:UseShippedScreen`: the daemon runs the classifier alone unless it is set, and a
    screen pays for its own inference on every image only when it lets a large share of the clean ones skip the
    classifier (half is the bar the shipped models are held to)."""
    val = screen.get("val") or {}
    if screen.get("bypassed") or val.get("cleanRecall") is None:
        return "Leave `Pipeline:UseShippedScreen` off (the default): this screen has no threshold of its own."
    passed, recall = val["cleanRecall"], val.get("defectRecall") or 0
    verdict = ("it pays on a mostly clean line: set `Pipeline:UseShippedScreen=true` to put it in front"
               if screen_earns_its_place(recall, passed) else
               "too few to pay for a second model on every other image: leave `Pipeline:UseShippedScreen` off (the default)")
    return (f"On validation it keeps {_pct(recall)} of the defects and passes {_pct(passed)} of the clean images "
            f"alone; {verdict}.")


def write_fab_card(out: Path, s: dict) -> Path:
    f = s["figures"]
    split = "test" if f.get("test/classifier-int8") else "val"
    int8, fp32 = f.get(f"{split}/classifier-int8", {}), f.get(f"{split}/classifier-fp32", {})
    val_int8 = f.get("val/classifier-int8", {})
    target = val_int8.get("purityTarget")
    test_target = int8.get("purityTarget") if split == "test" else None
    cal = s["calibration"]
    counts = s["counts"]
    table = "\n".join(f"| {c} | {counts['train'][c]} | {counts['val'][c]} | {counts['test'][c]} |" for c in s["classes"])
    candidates = "\n".join(f"| {c['name']} | {_pct(c['valAccuracy'])} | {c['epochs']} (best {c['bestEpoch']}) | "
                           f"{c['seconds']:.0f} s |" for c in s["candidates"])
    missing = s["classesWithoutTrainingImages"]
    purity_rows = "\n".join(f"| {p['threshold']:.2f} | {_pct(p['acceptRate'])} | {_pct(p['purity'])} |"
                            for p in (val_int8.get("purityPoints") or []))
    teacher = s.get("teacher") or {}
    lines = f"""# SemEdge models retrained on fab images (version {s['version']})

Built by `scripts/train-models --data {s['data']}`. Every figure was measured by `semedge evaluate` (the
daemon's decoder, preprocessing and ONNX Runtime) on the fab's own {split} split.

| | FP32 | INT8 |
|---|---|---|
| Classifier accuracy ({split}, {int8.get('total', 'n/a')} images) | {_pct(fp32.get('accuracy'))} | {_pct(int8.get('accuracy'))} |
| Macro F1 | {fp32.get('macroF1', 0):.3f} | {int8.get('macroF1', 0):.3f} |
| Latency p50 per image (this CPU, decode included) | {fp32.get('latencyP50Ms', 0):.2f} ms | {int8.get('latencyP50Ms', 0):.2f} ms |

**Purity and accept rate.** An image whose confidence is below `Decision:DefaultMinConfidence` goes to review.
Confidences are calibrated on validation (softmax temperature {cal['temperature']:.3f} in the manifest), so a
confidence of 0.9 is right about 90 % of the time (expected calibration error on {split}:
{int8.get('ece', float('nan')):.3f}). **95 % purity** needs a confidence floor of
{'n/a (not reached on validation)' if not target else f"**{target['threshold']:.3f}**, chosen on validation, where it accepts {_pct(target['acceptRate'])} of images"}{'' if not test_target else f"; on test the lowest floor with 95 % purity is {test_target['threshold']:.3f} (accept rate {_pct(test_target['acceptRate'])})"}.
Set it with `"Decision": {{ "DefaultMinConfidence": {'0.5' if not target else f"{target['threshold']:.3f}"} }}` in `/etc/semedge/semedge.json`.

| Confidence floor (INT8, validation) | Accept rate | Purity |
|---|---|---|
{purity_rows}

Test-time augmentation: `tta: {cal['tta']}` (validation {_pct(cal['valAccuracyPlain'])} plain, {_pct(cal['valAccuracyD4'])}
averaged over the 8 flips and quarter turns; it is switched on only for a gain of at least {100 * TTA_MIN_GAIN:g} point,
and costs 8 inferences per image).

## Data

| Class | train | val | test |
|---|---|---|---|
{table}

{'Classes without training images: **' + ', '.join(missing) + '**. The model keeps all ten outputs (the daemon contract), but it has never been shown these classes and will hardly ever predict them.' if missing else 'Every class had training images.'}
Folder mapping: {s['mapping'] or 'none'}. Unlabelled images used for distillation: {s['unlabelled']}.
Duplicate pairs across splits: {s['duplicates']} (listed in `reports/duplicates.json`; a validation or test image
that also trains the model inflates the figures). Unreadable files left out: {len(s['rejected'])} (`reports/rejected.json`).

## Recipe, chosen on validation

| Candidate | Validation accuracy | Epochs | Time |
|---|---|---|---|
{candidates}

Chosen: **{s['chosen']}**. Teacher: {teacher.get('source') or teacher.get('error') or 'none'}.
Distillation teacher: {(s.get('distillation') or {}).get('teacher') or 'none'} (the mean of the candidates within 5
points of the best on validation, unless the best alone is clearly better: a sign test on the images where exactly one
of the two is right). Choice: {(s.get('choice') or {}).get('rule', 'best on validation')}.
Each candidate: AdamW, layer-wise learning rates, a warm-up and cosine schedule, class-balanced sampling, flips,
quarter turns, affine, brightness/contrast and noise augmentation, label smoothing 0.1, an exponential moving
average of the weights, early stopping on validation, BatchNorm statistics recomputed over the training images.
Curves: `reports/training/`.

Screen: {'bypassed: ' + s['screen']['reason'] if s['screen']['bypassed'] else f"fine-tuned on clean vs defect, defectThreshold {s['screen']['threshold']:.4g} (validation defect recall >= 99.5 %, lowered by one unit of log-odds)"}.
{_screen_use(s['screen'])}

## Install on a board

Copy the model files first and the manifests last into the daemon's models folder
(`/opt/semedge/current/models/`); the daemon's hot swap verifies the sha256 and switches without a restart:

```bash
scp classifier.int8.onnx screen.int8.onnx root@BOARD:/opt/semedge/current/models/
scp classifier.int8.json screen.int8.json root@BOARD:/opt/semedge/current/models/
```

Wall time: {s['wallSeconds'] / 60:.1f} min on {s['machine']['cpus']} cores (budget {s['minutes']:g} min); stages (s):
{', '.join(f'{k} {v:g}' for k, v in s['stageSeconds'].items())}.
"""
    path = out / "README.md"
    path.write_text(lines)
    return path

"""models/README.md, the model card, regenerated from the figures of the run that built the models."""

from __future__ import annotations

from pathlib import Path


# A screen earns its place only if it lets a real share of clean images skip the classifier while keeping nearly every
# defect: passing a handful while keeping recall is no screen at all. Half of them is the bar the cards hold it to.
SCREEN_MIN_DEFECT_RECALL = 0.995
SCREEN_MIN_CLEAN_PASSED = 0.5


def screen_earns_its_place(defect_recall: float | None, clean_passed: float | None) -> bool:
    """The screen target of both model cards (the shipped build's and a fab's): worth putting in front of the
    classifier."""
    return (defect_recall is not None and defect_recall >= SCREEN_MIN_DEFECT_RECALL
            and (clean_passed or 0) >= SCREEN_MIN_CLEAN_PASSED)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def _num(value, fmt: str = ".2f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _mb(size) -> str:
    return "n/a" if size is None else f"{size / 1e6:.2f} MB ({size:,} bytes)"


def _target_check(ci: dict, cf: dict, si: dict, sizes: dict) -> str:
    """A line per target the issue set for the shipped models, met or missed, so the card never oversells."""
    checks = []
    if ci.get("accuracy") is not None:
        checks.append((ci["accuracy"] >= 0.95, f"INT8 classifier accuracy on the synthetic test split >= 95 % "
                                               f"(is {100 * ci['accuracy']:.2f} %)"))
    if ci.get("accuracy") is not None and cf.get("accuracy") is not None:
        gap = 100 * (cf["accuracy"] - ci["accuracy"])
        checks.append((gap <= 0.5, f"INT8 loses at most 0.5 points against FP32 (FP32 minus INT8: {gap:+.2f} points)"))
    if "classifier.int8.onnx" in sizes:
        checks.append((sizes["classifier.int8.onnx"] <= 1_000_000,
                       f"INT8 classifier <= 1.0 MB (is {sizes['classifier.int8.onnx'] / 1e6:.2f} MB)"))
    if si.get("defectRecall") is not None:
        passed = si.get("cleanRecall") or 0
        checks.append((screen_earns_its_place(si["defectRecall"], passed),
                       f"screen defect recall >= 99.5 % while passing at least half the clean images (recall "
                       f"{100 * si['defectRecall']:.2f} %, clean images passed {100 * passed:.2f} %, clean precision "
                       f"{100 * (si.get('cleanPrecision') or 0):.2f} %)"))
    if not checks:
        return ""
    missed = [text for ok, text in checks if not ok]
    head = ("\n> **Targets missed** (synthetic test split):\n" if missed else "\n> All synthetic-data targets met.\n")
    return head + ">\n" + "\n".join(f"> - {'met' if ok else 'MISSED'}: {text}" for ok, text in checks) + "\n"


def _screen_use_sentence(si: dict) -> str:
    """Whether the daemon should put this screen in front: it runs the classifier alone by default, and a screen
    that misses its target would cost more than it spares."""
    if screen_earns_its_place(si.get("defectRecall"), si.get("cleanRecall")):
        return ("This screen meets its target: turn it on with `Pipeline:UseShippedScreen=true` (the daemon runs the "
                "classifier alone by default).")
    return ("The daemon runs the classifier alone by default (`Pipeline:UseShippedScreen` off) and should stay so "
            "with this screen: it misses its target, and a screen that passes few clean images costs every other "
            "image a second model.")


def _per_class_table(classes: list[str], columns: list[tuple[str, dict]]) -> str:
    rows = ["| class | " + " | ".join(name for name, _ in columns) + " |",
            "|---|" + "---|" * len(columns)]
    for c in classes:
        rows.append(f"| {c} | " + " | ".join(_pct((fig.get("perClassRecall") or {}).get(c)) for _, fig in columns)
                    + " |")
    return "\n".join(rows)


def _precision_sentence(train: dict) -> str:
    used = sorted({train[name].get("precision") or "unrecorded" for name in ("teacher", "classifier", "screen")
                   if name in train})
    if used == ["bf16"]:
        return ("Convolutions ran in bfloat16 autocast (the CPU has it natively); weights, optimizer state, "
                "BatchNorm statistics and the exported models are float32.")
    return f"Training arithmetic: {', '.join(used)}."


def _handoff_sentence(train: dict) -> str:
    taken = [f"the {name} ran on every core from its epoch {train[name]['threadsRaisedAtEpoch']}, when the {other} "
             "finished" for name, other in (("classifier", "screen"), ("screen", "classifier"))
             if train[name].get("threadsRaisedAtEpoch")]
    return f"; {'; '.join(taken)}" if taken else ""


def _validation_sentence(validation: dict) -> str:
    new, old = validation.get("new-classifier"), validation.get("previous-classifier")
    if not new:
        return ""
    text = f"On this build's validation split the INT8 classifier is {_pct(new.get('accuracy'))} accurate"
    if old:
        text += f" (the models it replaced: {_pct(old.get('accuracy'))})"
    screen, old_screen = validation.get("new-screen"), validation.get("previous-screen")
    if screen:
        text += (f"; the INT8 screen keeps {_pct(screen.get('defectRecall'))} of its defects and passes "
                 f"{_pct(screen.get('cleanRecall'))} of its clean images")
        if old_screen:
            text += f" (replaced screen: {_pct(old_screen.get('defectRecall'))}, {_pct(old_screen.get('cleanRecall'))})"
    return text + "."


def _init_sentence(student_init: dict | None) -> str:
    if not student_init:
        return "The students start from random weights."
    return (f"The students start from the SemNets of the 2026-11-30 build, trained on the legacy generator "
            f"(`{student_init.get('classifier')}`, `{student_init.get('screen')}`), and fine-tune at a peak learning "
            "rate of 2e-3 with a 0.2-epoch warm-up.")


def _distillation_sentence(distillation: dict) -> str:
    """What the students learnt from, and why: the pipeline decides on validation whether to distil."""
    why = f" Chosen on validation: {distillation['reason']}." if distillation.get("reason") else ""
    box = ("the defect-box loss (each grid cell a box from `labels.csv` touches must name the defect's class, every "
           "other cell \"no defect\")")
    if distillation.get("used", True):
        return ("Knowledge distillation: the teacher scores every training and unlabelled image once; each student "
                "learns from 0.7 x T^2 x KL(teacher || student at T = 4) on every image plus 0.3 x the hard-label "
                f"cross-entropy (label smoothing 0.1) on the labelled ones, and {box}. The screen distils the "
                "teacher's P(clean) against the sum of its defect classes and weights the hard labels by inverse "
                f"class frequency.{why}")
    return ("No distillation: each student learns from the hard-label cross-entropy (label smoothing 0.1) and "
            f"{box}; the screen weights its labels by inverse class frequency; the unlabelled images are not used.{why}")


def _command_sentence(summary: dict) -> str:
    command = summary.get("command")
    return f"This build was made with `{command}`." if command else ""


def write_model_card(out: Path, summary: dict) -> Path:
    f = summary["figures"]
    sizes = summary["sizes"]
    data = summary["data"]
    train = summary["training"]
    teacher = train.get("teacher", {})
    tf = f.get("teacher-fp32", {})
    cf, ci = f.get("classifier-fp32", {}), f.get("classifier-int8", {})
    sf, si = f.get("screen-fp32", {}), f.get("screen-int8", {})
    cascade = f.get("cascade-int8", {})
    per = data["perClass"]
    wall = summary.get("wallSeconds")
    steps = summary.get("stepSeconds", {})
    machine = summary.get("machine", {})
    teacher_setup = summary.get("teacher", {})
    student_seconds = max(steps.get("train-classifier", 0), steps.get("train-screen", 0))
    delta = None if ci.get("accuracy") is None or cf.get("accuracy") is None else 100 * (ci["accuracy"] - cf["accuracy"])
    quick_note = ("\n> **Smoke build (`--quick`)**: a handful of small images, one epoch, the teacher cut after its "
                  "first stage. These figures only show the chain works; they say nothing about model quality.\n"
                  if summary.get("quick") else "")
    targets = _target_check(ci, cf, si, sizes) if not summary.get("quick") else ""
    classes = data["classes"]
    # Builds before the validation gate always distilled.
    distillation = summary.get("distillation") or {"used": True}
    distilled = distillation.get("used", True)
    origin = ("distilled from an ImageNet-initialised teacher" if distilled else
              "fine-tuned on their labels (the ImageNet-initialised teacher built beside them did not earn distillation "
              "on validation, see Training)")
    lines = f"""# SemEdge models (version {summary['version']})
{quick_note}{targets}
Two INT8 ONNX models for the SemEdge inspection daemon, {origin}, built by
`scripts/train-models` from synthetic SEM images (`semedge synth`) only; no real image was used. Trained on
{machine.get('trainedOn', 'n/a')}. Every figure below was measured by `semedge evaluate` (ONNX Runtime, the
daemon's own decode and preprocessing) on a test split generated from synth seed {data['testSeed']}, which never
produced a training, validation or unlabelled image (those came from seeds {data['seed']} and
{data.get('unlabelledSeed', 'n/a')}). Models were chosen on the validation split, never on these figures.

| File | What |
|---|---|
| `classifier.int8.onnx` + `.json` | 10-class classifier ({', '.join(classes)}), INT8 QDQ |
| `screen.int8.onnx` + `.json` | clean-vs-defect screen, INT8 QDQ; `defectThreshold` in its manifest |
| `*.fp32.onnx` + `.json` | the FP32 exports the INT8 models were quantized from |
| `*.pt` | PyTorch checkpoints, the starting point for fine-tuning (`--init`) |
| `*.parity.json` | preprocessed inputs and PyTorch's logits: `semedge parity MODEL.json --reference ...` |
| `confusion-matrix.png`, `reports/` | evaluation reports (teacher too), training curves and metrics |

The teacher ships as `teacher.pt` only (PyTorch, 11 MB; the daemon never runs it): a fab's retraining
(`scripts/train-models --data`) starts its teacher candidate from it. Its figures are here.

## Figures (test split, {per['test']} images per class)

| | Teacher FP32 | Classifier FP32 | Classifier INT8 |
|---|---|---|---|
| Accuracy | {_pct(tf.get('accuracy'))} | {_pct(cf.get('accuracy'))} | {_pct(ci.get('accuracy'))} |
| Macro F1 | {_num(tf.get('macroF1'), '.4f')} | {_num(cf.get('macroF1'), '.4f')} | {_num(ci.get('macroF1'), '.4f')} |
| Validation accuracy (PyTorch) | {_pct(teacher.get('valAccuracy'))} | {_pct(train['classifier'].get('valAccuracy'))} | |
| Parameters | {_num(teacher.get('params'), ',')} | {_num(train['classifier'].get('params'), ',')} | |
| File size | {_mb(sizes.get('teacher.fp32.onnx'))} | {_mb(sizes.get('classifier.fp32.onnx'))} | {_mb(sizes.get('classifier.int8.onnx'))} |
| Latency p50 / p99 (`evaluate`, this CPU) | {_num(tf.get('latencyP50Ms'))} / {_num(tf.get('latencyP99Ms'))} ms | {_num(cf.get('latencyP50Ms'))} / {_num(cf.get('latencyP99Ms'))} ms | {_num(ci.get('latencyP50Ms'))} / {_num(ci.get('latencyP99Ms'))} ms |

Recall per class:

{_per_class_table(classes, [('Teacher FP32', tf), ('Classifier FP32', cf), ('Classifier INT8', ci)])}

INT8 minus FP32 classifier accuracy: {_num(delta)} points. PyTorch's own FP32 test accuracy:
{_pct(train['classifier'].get('torchTestAccuracy'))}; parity of the FP32 ONNX files against PyTorch (max abs logit
difference): classifier {_num(summary['parityMaxAbsDiff'].get('classifier'), '.2e')}, screen
{_num(summary['parityMaxAbsDiff'].get('screen'), '.2e')}, teacher {_num(summary['parityMaxAbsDiff'].get('teacher'), '.2e')}.

### Screen

| | FP32 | INT8 |
|---|---|---|
| Defect recall at its threshold | {_pct(sf.get('defectRecall'))} | {_pct(si.get('defectRecall'))} |
| Clean images passed (spared the classifier) | {_pct(sf.get('cleanRecall'))} | {_pct(si.get('cleanRecall'))} |
| Clean precision | {_pct(sf.get('cleanPrecision'))} | {_pct(si.get('cleanPrecision'))} |
| Defects missed | {_num(sf.get('defectsMissed'), 'd')} | {_num(si.get('defectsMissed'), 'd')} |
| File size | {_mb(sizes.get('screen.fp32.onnx'))} | {_mb(sizes.get('screen.int8.onnx'))} |
| Latency p50 / p99 | {_num(sf.get('latencyP50Ms'))} / {_num(sf.get('latencyP99Ms'))} ms | {_num(si.get('latencyP50Ms'))} / {_num(si.get('latencyP99Ms'))} ms |

The screen's `defectThreshold` ({_num(train['screen'].get('defectThreshold'), '.4g')}) was chosen on the validation
split: the highest P(defect) threshold that keeps validation defect recall >= 99.5 %, lowered by a margin
in log-odds. Cascade (INT8 screen, then the INT8 classifier on what it sends on), on this test split (one clean
image in ten): accuracy {_pct(cascade.get('accuracy'))}, defect recall {_pct(cascade.get('defectRecall'))},
classifier spared on {_pct(cascade.get('classifierSpared'))} of images. A fab line is mostly clean:
`semedge bench` measures the cascade against the single-stage classifier on a clean-heavy stream.
{_screen_use_sentence(si)}

![Confusion matrix of the INT8 classifier on the test split](confusion-matrix.png)

## Models

- Teacher: the ImageNet ResNet-18 of the NuGet package `Microsoft.ML.DnnImageFeaturizer.ResNet18` 0.23.1
  (restored by `dotnet restore src/training/teacher-package/TeacherPackage.csproj`, converted to PyTorch once by
  `semedge_train/teacher.py` and checked against ONNX Runtime by `tests/training/test_teacher.py`), cut after
  stage {teacher_setup.get('stages', 'n/a')} (stem and first {teacher_setup.get('frozenStages', 0)} stage(s) kept as
  trained on ImageNet), its stem summed over the three colour channels for one grey
  channel, run on a {teacher_setup.get('workSize', 'n/a')}x{teacher_setup.get('workSize', 'n/a')} copy of the
  128x128 input, global average pooling and a new 10-class head; fine-tuned on the synthetic training images
  (AdamW, learning rate {_num(teacher_setup.get('lr'), 'g')}, cosine): {teacher.get('epochs', 'n/a')} epochs (best
  {teacher.get('bestEpoch', 'n/a')}, {teacher.get('stop', 'n/a')}).
- Classifier (the student): SemNet, one grey 128x128 input channel, 10 classes: seven 3x3 convolution +
  batch-norm + ReLU stages (16 to 128 channels, four at stride 2) down to an 8x8 grid of cells, a 1x1 convolution
  that scores each cell as "no defect" or "a defect of class k", a max over the cells and a linear map to the
  logits: {train['classifier']['params']:,} parameters. Only Conv, ReLU, MaxPool and Gemm: every op has an INT8
  kernel in ONNX Runtime and in NPU delegates (no HardSwish).
- Screen: SemNet at half width, 2 outputs (clean, defect); its cells still score all ten classes, which it
  learns from the boxes: {train['screen']['params']:,} parameters, about a quarter of the classifier's work.
- Input contract (`preprocessing` in each manifest): BT.601 grey in [0,1] (16-bit /65535), area resize to
  128x128 (aspect not kept), (v - 0.5) / 0.25. Output `logits`; softmax gives probabilities.

## Training

{per['train']} training and {per['val']} validation images per class at {data['imageSize']}x{data['imageSize']}, and
{per.get('unlabelled', 0)} unlabelled images per class from a seed of their own (test images:
{data.get('testImageSize', data['imageSize'])}x{data.get('testImageSize', data['imageSize'])}). {_distillation_sentence(distillation)}
Augmentation, built for transfer to real
review images: flips, quarter turns, a random zoom (1/1.35x to 1.35x) with small rotation and shift on half the
images, gamma, brightness/contrast, Gaussian blur, noise and JPEG round trips. AdamW with a cosine schedule fitted
to the time budget, early stopping on validation accuracy (the screen: clean images passed at its recall threshold,
then the ROC AUC of P(defect)), BatchNorm statistics recomputed over 4,096 training images before export.
{_init_sentence(summary.get('studentInit'))}
Classifier: {train['classifier']['epochs']} epochs (best {train['classifier']['bestEpoch']}, {train['classifier']['stop']});
screen: {train['screen']['epochs']} epochs (best {train['screen']['bestEpoch']}, {train['screen']['stop']}).
{_precision_sentence(train)}
Calibration for INT8: {data['calibrationImages']} training images, class-balanced.

Wall time of the whole build: {_num(None if wall is None else wall / 60, '.1f')} min on {machine.get('trainedOn', 'n/a')},
shared with other jobs (teacher {_num(steps.get('train-teacher', 0) / 60, '.1f')} min on every core, then the two
students {_num(student_seconds / 60, '.1f')} min side by side{_handoff_sentence(train)}). Per step (seconds):
{', '.join(f'{k} {v:g}' for k, v in steps.items())}.

{_validation_sentence(summary.get('validation') or {})}

How the models got here, and what each change bought: `docs/models.md`.

## Reproduce

```bash
scripts/train-models            # synth -> teacher -> soft labels -> students -> parity -> quantize -> evaluate (30-minute budget)
scripts/train-models --quick --out /tmp/smoke   # the CI smoke run
```

{_command_sentence(summary)}

Retrain on a fab's own images (class folders `train/`, `val/`, optionally `test/`; see `docs/retraining.md`):

```bash
scripts/train-models --data FAB_DATA --out out   # candidates chosen on val, INT8, calibrated, signed, ready to install
```

## Limits

Trained only on synthetic images. Real SEM images differ in texture, noise and defect appearance; the teacher's
ImageNet features and the augmentation are there to narrow that gap, but expect to fine-tune on labelled images
from the tool before trusting the verdicts, and to re-check the screen's threshold on that data (its recall
target matters more than the share of clean images it passes).
"""
    path = out / "README.md"
    path.write_text(lines)
    return path

#!/usr/bin/env python3
"""Trains a SemEdge model on a class-folder dataset and exports it as FP32 ONNX with its manifest.

  /usr/bin/python3 src/training/train.py --data DATA --out OUT [--kind classifier|screen] [--init OLD.pt]

DATA holds train/ and val/ (and optionally test/, or pass --test), each with one folder per class.
Fine-tuning a fab's own images from the shipped model: --init models/classifier.pt --epochs 15 --lr 5e-4.
The teacher: --arch imagenet-resnet18 --name teacher --lr 1e-3 (ImageNet weights from the NuGet package).
Distillation: --teacher teacher.pt [--unlabelled DIR/train] (soft labels of the teacher, see semedge_train/distill.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from semedge_train import DEFAULT_CLASSES  # noqa: E402
from semedge_train.data import Augmentation, DatasetError  # noqa: E402
from semedge_train.distill import DistillConfig  # noqa: E402
from semedge_train.model import CLASSIFIER_ARCH, FAMILIES, SCREEN_ARCH, TEACHER_ARCH, TEACHER_FAMILY, ArchSpec  # noqa: E402
from semedge_train.train import KINDS, PRECISIONS, TrainConfig, train  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    # Defaults come from TrainConfig, so the command line and the library cannot drift apart.
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="dataset folder with train/ and val/")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--kind", choices=KINDS, default="classifier")
    p.add_argument("--name", help="file stem (default: the kind)")
    p.add_argument("--classes", default=",".join(DEFAULT_CLASSES), help="comma-separated, in logit order")
    p.add_argument("--test", type=Path, help="held-out split folder for a torch FP32 cross-check")
    p.add_argument("--size", type=int, default=TrainConfig.size)
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--patience", type=int, default=TrainConfig.patience, help="early stop after this many epochs without val gain")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr, help="peak learning rate (fine-tuning: about 5e-4)")
    p.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay)
    p.add_argument("--label-smoothing", type=float, default=TrainConfig.label_smoothing)
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--data-seed", type=int, help="the synth seed of DATA, recorded in the manifest")
    p.add_argument("--init", type=Path, help="checkpoint (NAME.pt) to fine-tune from")
    p.add_argument("--threads", type=int, default=TrainConfig.threads, help="torch threads (0: torch's default)")
    p.add_argument("--take-cores-when", type=Path, dest="cores_freed_flag",
                   help="use every core once this file exists (train-models: the other model has finished)")
    p.add_argument("--precision", choices=PRECISIONS, default=TrainConfig.precision,
                   help="training arithmetic: bf16 autocast, fp32, or auto (bf16 where the CPU has AVX512-BF16/AMX)")
    p.add_argument("--cache", type=Path, help="folder for preprocessed-image caches")
    p.add_argument("--arch", choices=FAMILIES, help="network family (default: semnet, the shipped one)")
    p.add_argument("--width-mult", type=float, help="override the architecture's width multiplier")
    p.add_argument("--last-channel", type=int, help="override the head width (SemNet: hidden width of the cell head, 0: none)")
    p.add_argument("--box-loss", type=float, default=TrainConfig.box_loss,
                   help="weight of the defect-box loss when DATA has labels.csv with boxes (0: off)")
    p.add_argument("--min-defect-recall", type=float, default=TrainConfig.min_defect_recall, help="screen: recall kept on val")
    p.add_argument("--max-minutes", type=float, help="stop after the epoch that would exceed this budget")
    p.add_argument("--teacher", type=Path, help="trained teacher checkpoint (.pt) to distil from")
    p.add_argument("--distill-temperature", type=float, default=4.0)
    p.add_argument("--distill-weight", type=float, default=0.7, help="share of the loss that follows the teacher")
    p.add_argument("--distill-everywhere", action="store_true",
                   help="follow the teacher on every image, also where it contradicts the label or is unsure")
    p.add_argument("--warmup-epochs", type=float, default=TrainConfig.warmup_epochs)
    p.add_argument("--unlabelled", type=Path, help="split folder of images used only through the teacher's soft labels")
    p.add_argument("--imagenet-cache", type=Path, help="cache of the converted ImageNet weights (default ~/.cache/semedge)")
    p.add_argument("--stages", type=int, help="imagenet-resnet18: stages kept (1..4)")
    p.add_argument("--freeze-stages", type=int, default=0, help="imagenet-resnet18: keep the stem and this many stages as trained on ImageNet")
    p.add_argument("--work-size", type=int, help="imagenet-resnet18: size the network resamples its input to (0: none)")
    p.add_argument("--augmentation", choices=("transfer", "mild"), default="transfer",
                   help="transfer: zoom, gamma, blur, noise, JPEG (default); mild: the 2026-11 set")
    p.add_argument("--version", default="0")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = SCREEN_ARCH if args.kind == "screen" else CLASSIFIER_ARCH
    if args.arch == TEACHER_FAMILY:
        base = ArchSpec(**{**TEACHER_ARCH.to_dict(), **({"stages": args.stages} if args.stages else {}),
                           **({"work_size": args.work_size} if args.work_size is not None else {})})
    if args.arch == "mobilenetv3":
        base = ArchSpec(width_mult=base.width_mult, last_channel=512 if args.kind == "classifier" else 128,
                        dropout=base.dropout)
    arch = ArchSpec(family=base.family, width_mult=args.width_mult or base.width_mult, reduced_tail=base.reduced_tail,
                    last_channel=args.last_channel or base.last_channel, dropout=base.dropout, stages=base.stages,
                    work_size=base.work_size)
    try:
        cfg = TrainConfig(data=args.data, out=args.out, kind=args.kind, name=args.name,
                          classes=tuple(c.strip() for c in args.classes.split(",") if c.strip()), size=args.size,
                          epochs=args.epochs, patience=args.patience, batch_size=args.batch_size, lr=args.lr,
                          weight_decay=args.weight_decay, label_smoothing=args.label_smoothing, seed=args.seed,
                          data_seed=args.data_seed, init=args.init, threads=args.threads,
                          cores_freed_flag=args.cores_freed_flag, precision=args.precision, cache=args.cache,
                          test=args.test, arch=arch, min_defect_recall=args.min_defect_recall,
                          max_minutes=args.max_minutes, box_loss=args.box_loss, version=args.version,
                          distill=DistillConfig(args.teacher, args.distill_temperature, args.distill_weight,
                                                trusted_only=not args.distill_everywhere)
                          if args.teacher else None, unlabelled=args.unlabelled, imagenet_cache=args.imagenet_cache,
                          freeze_stages=args.freeze_stages, warmup_epochs=args.warmup_epochs,
                          augmentation=Augmentation() if args.augmentation == "transfer" else Augmentation.mild())
        train(cfg, log=lambda m: print(m, flush=True))
    except (DatasetError, ValueError) as error:
        print(f"train: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

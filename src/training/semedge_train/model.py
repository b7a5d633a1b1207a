"""The two shipped networks, for one grey 128x128 channel, sized for the i.MX 8M Plus.

Two families:

- `semnet` (shipped): a plain stack of 3x3 convolution, batch-norm and ReLU stages down to stride 16 (an 8x8
  grid of cells at 128x128), a per-cell head that scores every cell as "no defect" or "a defect of class k", a
  max over the cells and a linear map to the image's logits. A defect is a small local anomaly on a large,
  varied background: the max passes on the strongest local evidence wherever it is, where an average dilutes
  it by the area of the image. Where the training data has defect boxes, the cells are also supervised
  directly (the box loss in train.py), so the network learns where to look from far fewer steps than the
  image label alone needs. Every op (Conv+ReLU, MaxPool, Gemm) has an INT8 kernel in ONNX Runtime and in
  NPU delegates.
- `mobilenetv3`: MobileNetV3-Small as the source documents use it (torchvision's block table, a 1-channel
  stem, `reduced_tail`, a 512-wide head): for fine-tuning from a pretrained network or on a machine with a GPU.

The classifier is about 0.3 M parameters, well under the 1.0 MB INT8 budget; the screen is the same network at
half width, since it only has to say clean or not and runs on every image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import torch
from torch import nn
from torchvision.models.mobilenetv3 import InvertedResidualConfig, MobileNetV3


# "imagenet-resnet18": the teacher (teacher.py), ResNet-18 from ImageNet weights, cut after `stages` stages.
FAMILIES = ("semnet", "mobilenetv3", "imagenet-resnet18")
TEACHER_FAMILY = "imagenet-resnet18"

# SemNet stage widths at width_mult 1.0 and strides: four stride-2 stages, 128x128 in, an 8x8 grid of cells out.
SEMNET_WIDTHS = (16, 32, 32, 64, 64, 128, 128)
SEMNET_STRIDES = (2, 2, 1, 2, 1, 2, 1)


@dataclass(frozen=True)
class ArchSpec:
    # A checkpoint written before the family existed is a MobileNetV3: that stays the default.
    family: str = "mobilenetv3"
    width_mult: float = 1.0
    reduced_tail: bool = True
    # MobileNetV3: the head width. SemNet: the hidden width of the per-cell head (0: one 1x1 convolution).
    last_channel: int = 512
    # MobileNetV3 only: SemNet's head is a single linear map over a handful of cell scores.
    dropout: float = 0.2
    # SemNet: the classes the per-cell head tells apart, when more than the outputs (0: the outputs). The screen
    # says clean or defect, but its cells learn all ten classes from the boxes: a far richer signal to learn from.
    cell_classes: int = 0
    # imagenet-resnet18 only: stages kept (1..4) and the size the network resamples its input to (0: as given).
    stages: int = 0
    work_size: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


CLASSIFIER_ARCH = ArchSpec(family="semnet", width_mult=1.0, last_channel=0, dropout=0.0)
SCREEN_ARCH = ArchSpec(family="semnet", width_mult=0.5, last_channel=0, dropout=0.0)
# The teacher: ImageNet ResNet-18 cut after its third stage (2.8 M parameters; on real SEM images after fine-tuning
# 52.9 % against the full network's 56.1 %, at three quarters of its cost), run at 96x96.
TEACHER_ARCH = ArchSpec(family=TEACHER_FAMILY, width_mult=1.0, last_channel=0, dropout=0.2, stages=3, work_size=96)

# Batch-norm momentum for training. torchvision's MobileNetV3 uses 0.01, which leaves the running
# statistics far from the data after a few hundred steps; 0.1 tracks them, and `recompute_bn_statistics`
# replaces them with exact averages before evaluation and export anyway.
BN_MOMENTUM = 0.1


def _small_setting(width_mult: float, reduced_tail: bool) -> list[InvertedResidualConfig]:
    # MobileNetV3-Small's published block table (Howard et al. 2019, table 2, as torchvision builds it), written out here rather
    # than taken from torchvision's private _mobilenet_v3_conf so it stays the same across versions.
    cfg = partial(InvertedResidualConfig, width_mult=width_mult)
    r = 2 if reduced_tail else 1
    return [
        cfg(16, 3, 16, 16, True, "RE", 2, 1),
        cfg(16, 3, 72, 24, False, "RE", 2, 1),
        cfg(24, 3, 88, 24, False, "RE", 1, 1),
        cfg(24, 5, 96, 40, True, "HS", 2, 1),
        cfg(40, 5, 240, 40, True, "HS", 1, 1),
        cfg(40, 5, 240, 40, True, "HS", 1, 1),
        cfg(40, 5, 120, 48, True, "HS", 1, 1),
        cfg(48, 5, 144, 48, True, "HS", 1, 1),
        cfg(48, 5, 288, 96 // r, True, "HS", 2, 1),
        cfg(96 // r, 5, 576 // r, 96 // r, True, "HS", 1, 1),
        cfg(96 // r, 5, 576 // r, 96 // r, True, "HS", 1, 1),
    ]


class SemNet(nn.Module):
    """Conv-BN-ReLU stages, a per-cell head, a max over cells, a linear map to the logits.

    `cells` gives [B, cell classes + 1, S/16, S/16]: channel 0 scores "no defect here", channel 1 + k "a defect of
    class k here". Training supervises it directly where boxes are known (`forward_with_boxes`); the image
    logits are a linear map of each channel's strongest cell, so "clean" is learnt as "no cell found anything"."""

    def __init__(self, num_classes: int, width_mult: float, cell_hidden: int, cell_classes: int = 0):
        super().__init__()
        stages, channels = [], 1
        for width, stride in zip(SEMNET_WIDTHS, SEMNET_STRIDES):
            out = max(8, int(round(width * width_mult / 8)) * 8)
            stages.append(nn.Sequential(
                nn.Conv2d(channels, out, 3, stride, 1, bias=False),
                nn.BatchNorm2d(out, momentum=BN_MOMENTUM),
                nn.ReLU(inplace=True)))
            channels = out
        self.features = nn.Sequential(*stages)
        cell_channels = (cell_classes or num_classes) + 1
        if cell_hidden > 0:
            self.cells = nn.Sequential(nn.Conv2d(channels, cell_hidden, 1), nn.ReLU(inplace=True),
                                       nn.Conv2d(cell_hidden, cell_channels, 1))
        else:
            self.cells = nn.Conv2d(channels, cell_channels, 1)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.classifier = nn.Linear(cell_channels, num_classes)
        # He initialisation for the ReLU stages only: the cell head keeps PyTorch's smaller default, so the first
        # steps start from modest cell logits instead of a large, arbitrary box loss.
        for m in self.features.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_with_boxes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits and the per-cell logits [B, cell classes + 1, S/16, S/16]."""
        cells = self.cells(self.features(x))
        return self.classifier(torch.flatten(self.pool(cells), 1)), cells

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_boxes(x)[0]


def build_model(num_classes: int, arch: ArchSpec = CLASSIFIER_ARCH) -> nn.Module:
    if arch.family not in FAMILIES:
        raise ValueError(f"unknown architecture family '{arch.family}' (known: {', '.join(FAMILIES)})")
    if arch.family == "semnet":
        return SemNet(num_classes, arch.width_mult, arch.last_channel, arch.cell_classes)
    if arch.family == TEACHER_FAMILY:
        # Random weights of the right shape; train.py loads the ImageNet ones (or a trained checkpoint) into it.
        from .teacher import build_imagenet_teacher
        return build_imagenet_teacher(num_classes, arch.stages or 3, pretrained=False, dropout=arch.dropout,
                                      work_size=arch.work_size)
    setting = _small_setting(arch.width_mult, arch.reduced_tail)
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=BN_MOMENTUM)
    model = MobileNetV3(setting, arch.last_channel, num_classes=num_classes, norm_layer=norm,
                        dropout=arch.dropout)
    stem = model.features[0][0]
    # One grey channel in: the same stem with in_channels=1 (initialised like torchvision's, kaiming fan_out).
    grey_stem = nn.Conv2d(1, stem.out_channels, kernel_size=stem.kernel_size, stride=stem.stride,
                          padding=stem.padding, bias=False)
    nn.init.kaiming_normal_(grey_stem.weight, mode="fan_out")
    model.features[0][0] = grey_stem
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def int8_size_estimate(model: nn.Module) -> int:
    """Bytes of an INT8 QDQ file: one byte per weight, four per bias and per-channel scale, plus ~15 %
    graph overhead. Only a budget check; the quantizer reports the real size."""
    weights = sum(p.numel() for n, p in model.named_parameters() if p.dim() > 1)
    others = sum(p.numel() for n, p in model.named_parameters() if p.dim() <= 1)
    return int((weights + 4 * others) * 1.15)


@torch.no_grad()
def recompute_bn_statistics(model: nn.Module, images: torch.Tensor, batch_size: int = 128) -> None:
    """Replaces every BatchNorm's running mean/var by the exact average over `images` ([N,1,S,S],
    already normalised): a pass in train mode with cumulative averaging (momentum=None)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [(bn.momentum, bn.training) for bn in bns]
    was_training = model.training
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    for start in range(0, images.shape[0], batch_size):
        model(images[start:start + batch_size])
    for bn, (momentum, _) in zip(bns, saved):
        bn.momentum = momentum
    model.train(was_training)

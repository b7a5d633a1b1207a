"""The two shipped networks, for one grey 128x128 channel, sized for the i.MX 8M Plus.

Two families:

- `semnet` (shipped): a plain stack of 3x3 convolution, batch-norm and ReLU stages, six of them at stride 2,
  then a global max pool and a small head. A defect is a small local anomaly on a large, varied background:
  the max pool passes on the strongest local evidence wherever it is, where an average pool dilutes it by the
  area of the image. Every op (Conv+ReLU, GlobalMaxPool, Gemm) has an INT8 kernel in ONNX Runtime and in
  NPU delegates. On this project's synthetic SEM data, trained from scratch on 2 CPU cores, it learns within
  the 30-minute budget where MobileNetV3-Small did not move off chance (see models/README.md).
- `mobilenetv3`: MobileNetV3-Small as the source documents use it (torchvision's block table, a 1-channel
  stem, `reduced_tail`, a 512-wide head): for fine-tuning from a pretrained network or on a machine with a GPU.

The classifier is about 0.6 M parameters, well under the 1.0 MB INT8 budget; the screen is the same network at
half width, since it only has to say clean or not and runs on every image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import torch
from torch import nn
from torchvision.models.mobilenetv3 import InvertedResidualConfig, MobileNetV3


FAMILIES = ("semnet", "mobilenetv3")

# SemNet stage widths at width_mult 1.0; every stage but the second-to-last halves the resolution (128 -> 2).
SEMNET_WIDTHS = (16, 32, 32, 64, 64, 128, 128, 192)
SEMNET_STRIDES = (2, 2, 1, 2, 1, 2, 1, 2)


@dataclass(frozen=True)
class ArchSpec:
    # A checkpoint written before the family existed is a MobileNetV3: that stays the default.
    family: str = "mobilenetv3"
    width_mult: float = 1.0
    reduced_tail: bool = True
    last_channel: int = 512
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


CLASSIFIER_ARCH = ArchSpec(family="semnet", width_mult=1.0, last_channel=256, dropout=0.2)
SCREEN_ARCH = ArchSpec(family="semnet", width_mult=0.5, last_channel=64, dropout=0.1)

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


# The box head reads the stage at stride 16 (an 8x8 grid at 128x128): fine enough to place a defect.
SEMNET_BOX_STAGE = 7


class SemNet(nn.Module):
    """Conv-BN-ReLU stages, global max pool, Linear-ReLU-Dropout-Linear head.

    For training only, a 1x1 box head on the stride-16 stage says for each grid cell "no defect" (channel 0) or
    which class's defect it holds (channel 1 + class). Where the data has defect boxes this dense target tells
    the network where the evidence is, which a from-scratch network on a small CPU otherwise finds only after
    far more steps than it gets. `forward` (and so the ONNX export) does not use the box head."""

    def __init__(self, num_classes: int, width_mult: float, last_channel: int, dropout: float):
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
        box_channels = self.features[SEMNET_BOX_STAGE - 1][0].out_channels
        self.box_head = nn.Conv2d(box_channels, num_classes + 1, 1)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(channels, last_channel), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))

    def forward_with_boxes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits and the box head's per-cell logits [B, classes + 1, S/16, S/16]."""
        mid = self.features[:SEMNET_BOX_STAGE](x)
        out = self.features[SEMNET_BOX_STAGE:](mid)
        return self.classifier(torch.flatten(self.pool(out), 1)), self.box_head(mid)


def build_model(num_classes: int, arch: ArchSpec = CLASSIFIER_ARCH) -> nn.Module:
    if arch.family not in FAMILIES:
        raise ValueError(f"unknown architecture family '{arch.family}' (known: {', '.join(FAMILIES)})")
    if arch.family == "semnet":
        return SemNet(num_classes, arch.width_mult, arch.last_channel, arch.dropout)
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

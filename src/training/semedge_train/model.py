"""MobileNetV3-Small for one grey 128x128 channel, sized for the i.MX 8M Plus.

torchvision's stock network has 1.5 M parameters (1.67 MB as INT8), most of them in a 576->1024 head that a
10-class problem does not need. The shipped classifier keeps the full-width early stages (small defects
live in fine detail), halves the last stage (torchvision's `reduced_tail`) and uses a 512-wide head:
about 0.59 M parameters, well under the 1.0 MB INT8 budget. The screen is a half-width network with a
small head: it only has to say clean or not, and runs on every image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import torch
from torch import nn
from torchvision.models.mobilenetv3 import InvertedResidualConfig, MobileNetV3


@dataclass(frozen=True)
class ArchSpec:
    width_mult: float = 1.0
    reduced_tail: bool = True
    last_channel: int = 512
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


CLASSIFIER_ARCH = ArchSpec(width_mult=1.0, reduced_tail=True, last_channel=512, dropout=0.2)
SCREEN_ARCH = ArchSpec(width_mult=0.5, reduced_tail=True, last_channel=128, dropout=0.1)

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


def build_model(num_classes: int, arch: ArchSpec = CLASSIFIER_ARCH) -> MobileNetV3:
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

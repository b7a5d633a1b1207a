"""The teacher: ImageNet ResNet-18 from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18, as torch modules.

The package (restored by `dotnet restore src/training/teacher-package/TeacherPackage.csproj`, never downloaded by
hand) carries `tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx`: a CNTK export (opset 8, IR 3) of ResNet-18
trained on ImageNet. Input `Input247` [1,3,224,224]: BGR on a 0..255 scale minus a mean image (the initializer of
`ResNetPrepOnnx/ResNetPreprocess.onnx`, per channel about 103 / 116 / 123); output `Pooling395_Output_0`, the 512-d
average-pooled features. Its stride-2 convolutions and the stem pad asymmetrically (the stem [3,3,2,2], the others
[1,1,0,0]), so `ResNet18Features` pads explicitly wherever a symmetric pad would shift the grid.

`convert_resnet18_onnx` reads the graph with `onnx` once and writes the weights into a cache
(`imagenet_resnet18_weights`); nothing of the ONNX file is needed after that. `ImageNetTeacher` is the trainable
teacher for one grey channel: the stem's weights summed over its three channels (the same as replicating the grey
channel, at a third of the cost), the runtime's (v - mean) / std input mapped back to the 0..255-minus-mean scale the
weights were trained on, the network cut after `stages` of its four stages, global average pooling and a new
linear head.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parents[3]
PACKAGE_ID = "Microsoft.ML.DnnImageFeaturizer.ResNet18"
PACKAGE_VERSION = "0.23.1"
PACKAGE_PROJECT = REPO / "src" / "training" / "teacher-package" / "TeacherPackage.csproj"
RESNET18_ONNX = Path("tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx")
PREPROCESS_ONNX = Path("tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx")
ONNX_INPUT = "Input247"
ONNX_OUTPUT = "Pooling395_Output_0"
ONNX_SIZE = 224
# The package's ResNet-18: stage widths, the stride of each stage's first block, and BasicBlocks per stage. The CNTK
# export has three blocks in its last stage where torchvision's ResNet-18 has two (22 convolutions, 9 additions).
STAGE_WIDTHS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
STAGE_BLOCKS = (2, 2, 2, 3)
BN_EPS = 1e-5
CACHE_FORMAT = 1


class TeacherPackageError(Exception):
    """The NuGet package or its ONNX graph is missing or not the expected ResNet-18; the message says what to do."""


def nuget_packages_root() -> Path:
    """NuGet's global packages folder: $NUGET_PACKAGES, else ~/.nuget/packages (NuGet's own rule)."""
    configured = os.environ.get("NUGET_PACKAGES")
    return Path(configured) if configured else Path.home() / ".nuget" / "packages"


def teacher_package_dir(restore: bool = True, log: Callable[[str], None] = print) -> Path:
    """The restored package's folder; runs `dotnet restore` on the restore-only project when it is not there yet."""
    folder = nuget_packages_root() / PACKAGE_ID.lower() / PACKAGE_VERSION
    if not (folder / RESNET18_ONNX).is_file() and restore:
        dotnet = shutil.which("dotnet")
        if dotnet is None:
            raise TeacherPackageError(f"{PACKAGE_ID} {PACKAGE_VERSION} is not restored and dotnet is not on PATH")
        log(f"teacher: restoring {PACKAGE_ID} {PACKAGE_VERSION} (dotnet restore {PACKAGE_PROJECT.name})")
        result = subprocess.run([dotnet, "restore", str(PACKAGE_PROJECT), "--nologo", "-v", "quiet"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise TeacherPackageError(f"dotnet restore {PACKAGE_PROJECT} failed:\n{result.stdout}{result.stderr}")
    if not (folder / RESNET18_ONNX).is_file():
        raise TeacherPackageError(f"{folder / RESNET18_ONNX} not found: run dotnet restore {PACKAGE_PROJECT}")
    return folder


class PaddedConv(nn.Conv2d):
    """A bias-free convolution with ONNX-style (top, left, bottom, right) zero padding, also asymmetric."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, pads: tuple[int, int, int, int]):
        symmetric = pads[0] == pads[1] == pads[2] == pads[3]
        super().__init__(cin, cout, kernel, stride, padding=pads[0] if symmetric else 0, bias=False)
        # F.pad order: (left, right, top, bottom).
        self.explicit_pad = None if symmetric else (pads[1], pads[3], pads[0], pads[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.explicit_pad is not None:
            x = F.pad(x, self.explicit_pad)
        return super().forward(x)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, pads) -> tuple[PaddedConv, nn.BatchNorm2d]:
    return PaddedConv(cin, cout, kernel, stride, pads), nn.BatchNorm2d(cout, eps=BN_EPS)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        # The CNTK export pads a stride-2 3x3 convolution top/left only.
        first_pads = (1, 1, 1, 1) if stride == 1 else (1, 1, 0, 0)
        self.conv1, self.bn1 = _conv_bn(cin, cout, 3, stride, first_pads)
        self.conv2, self.bn2 = _conv_bn(cout, cout, 3, 1, (1, 1, 1, 1))
        self.down: nn.Sequential | None = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(*_conv_bn(cin, cout, 1, stride, (0, 0, 0, 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet18Features(nn.Module):
    """ResNet-18 up to the end of stage `stages` (1..4), exactly as the CNTK graph computes it, and global average
    pooling: [B, in_channels, H, W] -> [B, width of the last stage]."""

    def __init__(self, in_channels: int = 3, stages: int = 4):
        super().__init__()
        if not 1 <= stages <= 4:
            raise ValueError(f"stages must be 1..4 (got {stages})")
        self.stem_conv, self.stem_bn = _conv_bn(in_channels, 64, 7, 2, (3, 3, 2, 2))
        blocks, cin = [], 64
        for width, stride, count in zip(STAGE_WIDTHS[:stages], STAGE_STRIDES[:stages], STAGE_BLOCKS[:stages]):
            blocks.append(nn.Sequential(BasicBlock(cin, width, stride),
                                        *(BasicBlock(width, width, 1) for _ in range(count - 1))))
            cin = width
        self.stages = nn.Sequential(*blocks)
        self.out_channels = cin

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem_bn(self.stem_conv(x)))
        # Max pool 3x3/2 padded top/left by one; after a ReLU every value is >= 0, so a zero pad equals -inf's.
        x = F.max_pool2d(F.pad(x, (1, 0, 1, 0)), 3, 2)
        return self.stages(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.feature_map(x), 1), 1)


def _conv_bn_pairs(model: ResNet18Features) -> list[tuple[PaddedConv, nn.BatchNorm2d]]:
    """The convolutions with their batch norms in the order the CNTK graph lists them: in a block with a
    projection shortcut the 1x1 projection comes before the block's first 3x3."""
    pairs = [(model.stem_conv, model.stem_bn)]
    for stage in model.stages:
        for block in stage:
            if block.down is not None:
                pairs.append((block.down[0], block.down[1]))
            pairs += [(block.conv1, block.bn1), (block.conv2, block.bn2)]
    return pairs


def convert_resnet18_onnx(onnx_path: Path) -> dict[str, torch.Tensor]:
    """Reads the package's ResNet-18 graph and returns the state dict of a 3-channel, 4-stage `ResNet18Features`.
    Checks each node against the structure it fills (kernel, stride, pads, shapes), so a different graph fails
    loudly instead of converting into something else."""
    import onnx  # Debian's python3-onnx; only needed for the one-off conversion
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    if [i.name for i in graph.input if i.name not in {t.name for t in graph.initializer}] != [ONNX_INPUT] or \
            [o.name for o in graph.output] != [ONNX_OUTPUT]:
        raise TeacherPackageError(f"{onnx_path}: expected input {ONNX_INPUT} and output {ONNX_OUTPUT}")
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    model = ResNet18Features(3, 4)
    pairs = _conv_bn_pairs(model)
    if len(convs) != len(pairs):
        raise TeacherPackageError(f"{onnx_path}: {len(convs)} convolutions, ResNet-18 has {len(pairs)}")
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state: dict[str, torch.Tensor] = {}
    names = {module: name for name, module in model.named_modules()}
    for node, (conv, bn) in zip(convs, pairs):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        w = weights[node.input[1]]
        expected_pads = [conv.padding[0]] * 4 if conv.explicit_pad is None else \
            [conv.explicit_pad[2], conv.explicit_pad[0], conv.explicit_pad[3], conv.explicit_pad[1]]
        if tuple(w.shape) != tuple(conv.weight.shape) or list(attrs.get("strides", [1, 1])) != list(conv.stride) \
                or list(attrs.get("pads", [0, 0, 0, 0])) != expected_pads or len(node.input) != 2:
            raise TeacherPackageError(f"{onnx_path}: node {node.output[0]} ({w.shape}, {attrs}) does not match "
                                      f"{names[conv]}")
        bn_nodes = [c for c in consumers.get(node.output[0], []) if c.op_type == "BatchNormalization"]
        if len(bn_nodes) != 1:
            raise TeacherPackageError(f"{onnx_path}: {node.output[0]} is not followed by one BatchNormalization")
        bn_node = bn_nodes[0]
        eps = {a.name: onnx.helper.get_attribute_value(a) for a in bn_node.attribute}.get("epsilon", 1e-5)
        if abs(eps - BN_EPS) > 1e-9:
            raise TeacherPackageError(f"{onnx_path}: {bn_node.output[0]} has epsilon {eps}, expected {BN_EPS}")
        gamma, beta, mean, var = (weights[i] for i in bn_node.input[1:5])
        state[f"{names[conv]}.weight"] = torch.from_numpy(w.copy())
        for key, value in (("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", var)):
            state[f"{names[bn]}.{key}"] = torch.from_numpy(np.asarray(value, dtype=np.float32).copy())
        state[f"{names[bn]}.num_batches_tracked"] = torch.tensor(0)
    missing = set(model.state_dict()) - set(state)
    if missing:
        raise TeacherPackageError(f"{onnx_path}: no weights for {sorted(missing)[:3]} ...")
    return state


def preprocessing_mean(package_dir: Path) -> np.ndarray:
    """The per-channel (B, G, R) average of the package's mean image, on the 0..255 scale."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(package_dir / PREPROCESS_ONNX)).graph
    means = [numpy_helper.to_array(t) for t in graph.initializer if t.name == "MeanImage"]
    if not means or means[0].shape[:2] != (1, 3):
        raise TeacherPackageError(f"{package_dir / PREPROCESS_ONNX}: no [1,3,H,W] MeanImage initializer")
    return means[0].reshape(3, -1).mean(1).astype(np.float32)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "semedge"


def imagenet_resnet18_weights(cache_dir: Path | None = None, restore: bool = True,
                              log: Callable[[str], None] = print) -> tuple[dict[str, torch.Tensor], np.ndarray]:
    """The converted ImageNet weights (3-channel, 4 stages) and the per-channel BGR mean, from the cache or
    converted once from the restored package into it (`resnet18-imagenet-<sha of the ONNX>.pt`)."""
    package = teacher_package_dir(restore=restore, log=log)
    onnx_path = package / RESNET18_ONNX
    cache_dir = cache_dir or default_cache_dir()
    digest = sha256_of(onnx_path)
    cached = cache_dir / f"resnet18-imagenet-{digest[:16]}.pt"
    if cached.is_file():
        data = torch.load(str(cached), map_location="cpu")
        if isinstance(data, dict) and data.get("format") == CACHE_FORMAT:
            return data["state_dict"], np.asarray(data["bgrMean"], dtype=np.float32)
    log(f"teacher: converting {onnx_path} into {cached}")
    state = convert_resnet18_onnx(onnx_path)
    mean = preprocessing_mean(package)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}")
    torch.save({"format": CACHE_FORMAT, "source": f"{PACKAGE_ID} {PACKAGE_VERSION} {RESNET18_ONNX.as_posix()}",
                "sha256": digest, "state_dict": state, "bgrMean": mean.tolist()}, str(tmp))
    tmp.replace(cached)
    return state, mean


def grey_state_dict(state: dict[str, torch.Tensor], bgr_mean: np.ndarray, stages: int) -> dict[str, torch.Tensor]:
    """Turns the 3-channel weights into those of a 1-channel `ResNet18Features` cut after `stages`: the stem's
    weights summed over B, G and R, and the part of the mean that differed between channels folded into the stem's
    batch norm (exact away from the image border, where the zero padding of the original differs per channel)."""
    grey = {k: v.clone() for k, v in state.items() if not k.startswith("stages.") or int(k.split(".")[1]) < stages}
    stem = state["stem_conv.weight"]
    grey["stem_conv.weight"] = stem.sum(dim=1, keepdim=True)
    mean = torch.from_numpy(bgr_mean).float()
    # The grey input subtracts the single mean m where channel c subtracted m_c: the 3-channel stem's response
    # exceeds the grey one by the constant sum_c,k W[o,c,k] (m - m_c), which the batch norm's mean takes over.
    offset = (stem.sum(dim=(2, 3)) * (mean.mean() - mean)[None, :]).sum(dim=1)
    grey["stem_bn.running_mean"] = state["stem_bn.running_mean"] - offset
    return grey


class ImageNetTeacher(nn.Module):
    """The teacher network: grey input normalised as the runtime does ((v - mean) / std, v in 0..1), mapped to the
    0..255-minus-mean scale of the ImageNet weights, ResNet-18 features cut after `stages`, dropout, a linear head."""

    def __init__(self, num_classes: int, stages: int = 3, input_mean: float = 0.5, input_std: float = 0.25,
                 pixel_mean: float = 114.0, dropout: float = 0.2, work_size: int = 0):
        super().__init__()
        self.features = ResNet18Features(1, stages)
        # The network may run on a smaller copy of the model's input (bilinear): at 96x96 it trains 2.6x faster
        # than at 128 on 2 cores, and the input contract stays the edge models' 1x1x128x128.
        self.work_size = work_size
        # x = (v - input_mean) / input_std  ->  255 v - pixel_mean = 255 std x + (255 mean - pixel_mean)
        self.register_buffer("input_scale", torch.tensor(255.0 * input_std))
        self.register_buffer("input_shift", torch.tensor(255.0 * input_mean - pixel_mean))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.features.out_channels, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.work_size and x.shape[-1] != self.work_size:
            x = F.interpolate(x, size=(self.work_size, self.work_size), mode="bilinear", align_corners=False)
        return self.features(x * self.input_scale + self.input_shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))


def freeze_early_stages(teacher: ImageNetTeacher, stages: int) -> int:
    """Stops gradients into the stem and the first `stages` stages (their batch norms still track the new data's
    statistics): generic ImageNet edges and textures stay as they are, and the backward pass, two thirds of a
    training step, only runs through what is left. Returns the number of frozen parameters."""
    modules = [teacher.features.stem_conv, teacher.features.stem_bn, *list(teacher.features.stages)[:stages]]
    frozen = 0
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen


def build_imagenet_teacher(num_classes: int, stages: int = 3, input_mean: float = 0.5, input_std: float = 0.25,
                           cache_dir: Path | None = None, pretrained: bool = True, restore: bool = True,
                           log: Callable[[str], None] = print, dropout: float = 0.2,
                           work_size: int = 0) -> ImageNetTeacher:
    """A grey `ImageNetTeacher` with the package's ImageNet weights (or random ones with pretrained=False, for an
    architecture to load a trained checkpoint into)."""
    if not pretrained:
        return ImageNetTeacher(num_classes, stages, input_mean, input_std, dropout=dropout, work_size=work_size)
    state, bgr_mean = imagenet_resnet18_weights(cache_dir, restore=restore, log=log)
    teacher = ImageNetTeacher(num_classes, stages, input_mean, input_std, pixel_mean=float(bgr_mean.mean()),
                              dropout=dropout, work_size=work_size)
    teacher.features.load_state_dict(grey_state_dict(state, bgr_mean, stages))
    return teacher


def describe_source() -> dict:
    return {"package": PACKAGE_ID, "version": PACKAGE_VERSION, "file": RESNET18_ONNX.as_posix(),
            "restore": str(PACKAGE_PROJECT.relative_to(REPO))}


def teacher_meta_json(stages: int) -> str:
    return json.dumps({"imagenet": describe_source(), "stages": stages})

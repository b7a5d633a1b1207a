"""FP32 ONNX export, the model manifest (schema of src/SemEdge.Runtime/Inference/ModelManifest.cs) and the parity
reference that `semedge parity` compares ONNX Runtime against."""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
OPSET = 17
MANIFEST_SCHEMA = 1


def export_onnx(model: nn.Module, path: Path, size: int) -> None:
    """Static [1,1,size,size] input `image`, output `logits`, opset 17, through the TorchScript exporter
    (torch 2.x's dynamo exporter writes a different graph; ask for the classic one where it exists)."""
    model = model.eval()
    dummy = torch.zeros(1, 1, size, size)
    kwargs: dict[str, Any] = dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=OPSET,
                                  do_constant_folding=True, export_params=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(model, dummy, str(path), **kwargs)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(*, model_id: str, kind: str, version: str, onnx_path: Path, classes: Sequence[str],
                   size: int, mean: float, std: float, defect_threshold: float | None,
                   training: dict, metrics: dict, fmt: str = "fp32") -> dict:
    manifest: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "id": model_id,
        "kind": kind,
        "version": version,
        "file": onnx_path.name,
        "sha256": sha256_file(onnx_path),
        "format": fmt,
        "classes": list(classes),
        "input": {"name": INPUT_NAME, "shape": [1, 1, size, size]},
        "output": {"name": OUTPUT_NAME, "shape": [1, len(classes)]},
        "preprocessing": {"colour": "grey-bt601", "resize": "area", "width": size, "height": size,
                          "mean": mean, "std": std},
    }
    if defect_threshold is not None:
        manifest["defectThreshold"] = defect_threshold
    manifest["training"] = training
    manifest["metrics"] = metrics
    return manifest


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


def _floats(values: np.ndarray) -> str:
    # float32 printed with 9 significant digits round-trips exactly and keeps the file small.
    return "[" + ",".join(format(float(v), ".9g") for v in values.ravel()) + "]"


@torch.no_grad()
def write_parity_reference(model: nn.Module, inputs: np.ndarray, path: Path) -> None:
    """`inputs` are preprocessed, normalised [K, S, S] arrays; writes
    {"inputShape":[1,1,S,S],"cases":[{"input":[...],"logits":[...]}]} with torch's FP32 logits."""
    model = model.eval()
    size = inputs.shape[-1]
    cases = []
    for array in inputs:
        x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).reshape(1, 1, size, size)
        logits = model(x).numpy()[0]
        cases.append('{"input":' + _floats(x.numpy()) + ',"logits":' + _floats(logits) + "}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"inputShape":[1,1,%d,%d],"cases":[\n' % (size, size) + ",\n".join(cases) + "\n]}\n")

"""The teacher: the ImageNet ResNet-18 of the NuGet package, converted to torch, against ONNX Runtime itself."""

import json
import subprocess

import numpy as np
import pytest
import torch

from conftest import REPO
from semedge_train.export import _floats
from semedge_train.teacher import (RESNET18_ONNX, ImageNetTeacher, ResNet18Features, TeacherPackageError,
                                   build_imagenet_teacher, convert_resnet18_onnx, grey_state_dict,
                                   imagenet_resnet18_weights, teacher_package_dir)

SEMEDGE = REPO / "scripts" / "semedge"


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    """The converted weights, restored through NuGet and converted once into a temporary cache."""
    cache = tmp_path_factory.mktemp("imagenet-cache")
    state, mean = imagenet_resnet18_weights(cache)
    return state, mean, cache


def _parity(tmp_path, onnx_path, x: torch.Tensor, y: torch.Tensor, tolerance: float) -> subprocess.CompletedProcess:
    reference = tmp_path / "reference.json"
    reference.write_text('{"inputShape":[%s],"cases":[{"input":%s,"logits":%s}]}'
                         % (",".join(str(d) for d in x.shape), _floats(x.numpy()), _floats(y.numpy())))
    return subprocess.run([str(SEMEDGE), "parity", str(onnx_path), "--reference", str(reference),
                           "--tolerance", str(tolerance)], capture_output=True, text=True, timeout=600)


def test_converted_network_gives_the_onnx_models_features_under_onnx_runtime(imagenet, tmp_path):
    # The same [1,3,224,224] tensor (BGR, 0..255 minus the package's mean image) through torch and through ONNX
    # Runtime running the package's own ResNet18.onnx: the 512 pooled features must agree to 1e-4.
    state, mean, _ = imagenet
    network = ResNet18Features(3, 4).eval()
    network.load_state_dict(state)
    generator = torch.Generator().manual_seed(11)
    x = torch.rand(1, 3, 224, 224, generator=generator) * 255 - torch.from_numpy(mean).view(1, 3, 1, 1)
    with torch.no_grad():
        y = network(x)
    assert y.shape == (1, 512) and float(y.abs().max()) > 0.1
    onnx_path = teacher_package_dir() / RESNET18_ONNX
    run = _parity(tmp_path, onnx_path, x, y, 1e-4)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS" in run.stdout
    # The check can fail: features off by 0.01 in one place are caught.
    y[0, 7] += 0.01
    assert _parity(tmp_path, onnx_path, x, y, 1e-4).returncode == 1


def test_grey_teacher_is_the_rgb_network_on_a_replicated_grey_image(imagenet):
    # Summing the stem over B, G, R and folding the per-channel means into its batch norm must give what the
    # 3-channel network gives on the grey image copied into each channel: exactly away from the border.
    state, mean, _ = imagenet
    rgb = ResNet18Features(3, 4).eval()
    rgb.load_state_dict(state)
    grey = ResNet18Features(1, 4).eval()
    grey.load_state_dict(grey_state_dict(state, mean, 4))
    v = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        stem_rgb = rgb.stem_bn(rgb.stem_conv(v.expand(2, 3, 64, 64) * 255 - torch.from_numpy(mean).view(1, 3, 1, 1)))
        stem_grey = grey.stem_bn(grey.stem_conv(v * 255 - float(mean.mean())))
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    torch.testing.assert_close(stem_grey[inner], stem_rgb[inner], rtol=1e-4, atol=1e-3)
    assert float((stem_grey - stem_rgb).abs().max()) > 1e-3  # the border does differ, as the docstring says


def test_teacher_maps_the_runtime_normalisation_back_to_the_imagenet_scale(imagenet):
    # The teacher takes (v - 0.5) / 0.25 as every SemEdge model does; its features must be those of the grey
    # network on 255 v - mean.
    state, mean, cache = imagenet
    teacher = build_imagenet_teacher(10, stages=3, cache_dir=cache, log=lambda _: None).eval()
    reference = ResNet18Features(1, 3).eval()
    reference.load_state_dict(grey_state_dict(state, mean, 3))
    v = torch.rand(2, 1, 96, 96, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(teacher.embed((v - 0.5) / 0.25), reference(v * 255 - float(mean.mean())),
                                   rtol=1e-4, atol=1e-4)
    assert teacher.features.out_channels == 256
    assert sum(p.numel() for p in teacher.features.parameters()) < 3_000_000


def test_teacher_can_run_on_a_smaller_copy_of_its_input(imagenet):
    _, _, cache = imagenet
    teacher = build_imagenet_teacher(3, stages=2, cache_dir=cache, log=lambda _: None, work_size=64).eval()
    with torch.no_grad():
        assert teacher(torch.zeros(1, 1, 128, 128)).shape == (1, 3)


def test_conversion_refuses_a_graph_that_is_not_the_packages_resnet18(tmp_path):
    with pytest.raises(TeacherPackageError):
        convert_resnet18_onnx(REPO / "models" / "classifier.fp32.onnx")


def test_cached_weights_are_read_back_without_the_onnx_conversion(imagenet, monkeypatch):
    state, _, cache = imagenet
    import semedge_train.teacher as teacher_module

    def refuse(_):
        raise AssertionError("converted again although the cache holds the weights")

    monkeypatch.setattr(teacher_module, "convert_resnet18_onnx", refuse)
    again, _ = imagenet_resnet18_weights(cache)
    assert again.keys() == state.keys()
    assert all(torch.equal(again[k], state[k]) for k in state)

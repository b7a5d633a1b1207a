import onnx
import pytest
import torch
from onnx import numpy_helper

from semedge_train.export import export_onnx
from semedge_train.model import CLASSIFIER_ARCH, SCREEN_ARCH, ArchSpec, build_model, count_parameters, \
    int8_size_estimate, recompute_bn_statistics


def test_classifier_takes_one_grey_channel_and_gives_ten_logits():
    model = build_model(10).eval()
    assert model.features[0][0].in_channels == 1
    assert model(torch.zeros(2, 1, 128, 128)).shape == (2, 10)


def test_classifier_fits_the_int8_budget_and_screen_is_smaller():
    classifier, screen = build_model(10, CLASSIFIER_ARCH), build_model(2, SCREEN_ARCH)
    n = count_parameters(classifier)
    print(f"classifier {n:,} parameters, screen {count_parameters(screen):,}")
    assert 150_000 < n <= 1_000_000
    assert int8_size_estimate(classifier) <= 1_000_000
    assert count_parameters(screen) < n / 2


def test_semnet_scores_an_8x8_grid_of_cells_and_its_logits_come_from_them():
    model = build_model(10, CLASSIFIER_ARCH).eval()
    x = torch.randn(2, 1, 128, 128)
    logits, cells = model.forward_with_boxes(x)
    assert logits.shape == (2, 10) and cells.shape == (2, 11, 8, 8)
    torch.testing.assert_close(model(x), logits)
    # The logits are a linear map of each channel's strongest cell, so a defect anywhere in the grid counts.
    with torch.no_grad():
        pooled = cells.amax(dim=(2, 3))
        torch.testing.assert_close(model.classifier(pooled), logits)


def test_screen_cells_can_tell_more_classes_than_its_two_outputs():
    screen = build_model(2, ArchSpec(**{**SCREEN_ARCH.to_dict(), "cell_classes": 10})).eval()
    logits, cells = screen.forward_with_boxes(torch.zeros(1, 1, 128, 128))
    assert logits.shape == (1, 2) and cells.shape == (1, 11, 8, 8)


def test_export_has_static_image_input_and_logits_output(tmp_path):
    path = tmp_path / "m.onnx"
    export_onnx(build_model(10), path, 128)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "image" and out.name == "logits"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 1, 128, 128]
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == [1, 10]
    assert "Conv" in {n.op_type for n in model.graph.node}
    first = next(n for n in model.graph.node if "image" in n.input)
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    assert first.op_type == "Conv" and weights[first.input[1]].shape[1] == 1


def test_recomputed_bn_statistics_are_the_exact_statistics_of_the_data():
    torch.manual_seed(0)
    model = build_model(10, ArchSpec(dropout=0.0))
    # Data far from the fresh running statistics (mean 0, var 1), as real normalised SEM images are.
    data = torch.rand(32, 1, 64, 64) * 0.5 + 1.5
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    seen = {}
    hooks = [bn.register_forward_hook(lambda m, i, o: seen.__setitem__(m, i[0].detach().clone())) for bn in bns]
    with torch.no_grad():
        model.train()
        batch_stats = model.features(data)
        for h in hooks:
            h.remove()
        model.eval()
        stale = model.features(data)
    recompute_bn_statistics(model, data, batch_size=len(data))
    for bn in bns:
        x = seen[bn]
        torch.testing.assert_close(bn.running_mean, x.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(bn.running_var, x.var(dim=(0, 2, 3), unbiased=True), rtol=1e-3, atol=1e-5)
        assert bn.momentum == pytest.approx(0.1)
    with torch.no_grad():
        model.eval()
        recomputed = model.features(data)
    before = (stale - batch_stats).abs().mean().item()
    after = (recomputed - batch_stats).abs().mean().item()
    print(f"mean |eval - train-mode| features: stale stats {before:.4f}, recomputed {after:.4f}")
    assert after < 0.2 * before


def test_shipped_family_is_semnet_and_mobilenetv3_still_builds():
    assert CLASSIFIER_ARCH.family == SCREEN_ARCH.family == "semnet"
    from torchvision.models.mobilenetv3 import MobileNetV3
    assert isinstance(build_model(10, ArchSpec(family="mobilenetv3")), MobileNetV3)
    with pytest.raises(ValueError, match="unknown architecture family"):
        build_model(10, ArchSpec(family="resnet"))


def test_semnet_export_uses_only_ops_with_int8_kernels(tmp_path):
    path = tmp_path / "semnet.onnx"
    export_onnx(build_model(10, CLASSIFIER_ARCH), path, 128)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    # torch exports the global max pool as GlobalMaxPool or, on a static shape, as one MaxPool over the map.
    assert ops <= {"Conv", "Relu", "GlobalMaxPool", "MaxPool", "Flatten", "Gemm", "Reshape", "Constant", "Identity"}, ops
    assert ops & {"GlobalMaxPool", "MaxPool"}

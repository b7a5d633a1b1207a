import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from conftest import REPO
from semedge_train.export import sha256_file
from semedge_train.model import ArchSpec, build_model
from semedge_train import DEFAULT_CLASSES
from semedge_train.allocator import keep_freed_memory
from semedge_train.train import CoreHandoff, TrainConfig, choose_defect_threshold, defect_auc, resolve_precision, \
    screen_figures, train

SMALL = ArchSpec(width_mult=0.5, reduced_tail=True, last_channel=64, dropout=0.0)


def quiet(_message):
    pass


def test_classifier_run_writes_model_manifest_parity_metrics_and_curve(tiny_dataset, tmp_path):
    out = tmp_path / "out"
    cfg = TrainConfig(data=tiny_dataset, out=out, size=64, epochs=2, batch_size=16, arch=SMALL,
                      test=tiny_dataset / "test", data_seed=42, version="t1")
    result = train(cfg, log=quiet)
    for path in (result.checkpoint, result.onnx, result.manifest, result.parity, result.metrics_path, result.curve):
        assert path.exists() and path.stat().st_size > 0, path
    manifest = json.loads(result.manifest.read_text())
    assert manifest["schema"] == 1 and manifest["kind"] == "classifier" and manifest["format"] == "fp32"
    assert manifest["file"] == "classifier.fp32.onnx" and manifest["sha256"] == sha256_file(result.onnx)
    assert manifest["classes"][0] == "clean" and len(manifest["classes"]) == 10
    assert manifest["input"] == {"name": "image", "shape": [1, 1, 64, 64]}
    assert manifest["output"] == {"name": "logits", "shape": [1, 10]}
    assert manifest["preprocessing"] == {"colour": "grey-bt601", "resize": "area", "width": 64, "height": 64,
                                         "mean": 0.5, "std": 0.25}
    assert "defectThreshold" not in manifest
    assert manifest["training"]["dataSeed"] == 42 and manifest["training"]["epochs"] == 2
    assert 0.0 <= manifest["metrics"]["valAccuracy"] <= 1.0
    assert 0.0 <= manifest["metrics"]["torchTestAccuracy"] <= 1.0
    onnx.checker.check_model(onnx.load(str(result.onnx)))

    # The parity reference is what the exported weights compute, so the checkpoint reproduces it.
    parity = json.loads(result.parity.read_text())
    assert parity["inputShape"] == [1, 1, 64, 64] and len(parity["cases"]) == 3
    saved = torch.load(str(result.checkpoint))
    model = build_model(10, ArchSpec(**json.loads(saved["meta"])["arch"]))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    for case in parity["cases"]:
        assert len(case["input"]) == 64 * 64 and len(case["logits"]) == 10
        x = torch.tensor(case["input"], dtype=torch.float32).reshape(1, 1, 64, 64)
        np.testing.assert_allclose(model(x).detach().numpy()[0], case["logits"], atol=1e-4)


def test_screen_run_records_a_defect_threshold_that_keeps_val_recall(tiny_dataset, tmp_path):
    cfg = TrainConfig(data=tiny_dataset, out=tmp_path / "out", kind="screen", size=64, epochs=2, batch_size=16,
                      arch=SMALL)
    result = train(cfg, log=quiet)
    manifest = json.loads(result.manifest.read_text())
    assert manifest["kind"] == "screen" and manifest["classes"] == ["clean", "defect"]
    assert manifest["output"]["shape"] == [1, 2]
    assert 0.0 < manifest["defectThreshold"] <= 0.5
    assert manifest["metrics"]["valDefectRecall"] >= 0.995
    weights = manifest["training"]["classWeights"]
    assert weights[0] > weights[1]
    # Each epoch is judged by what a screen is for: the clean share it passes at the recall threshold, then AUC.
    history = json.loads(result.metrics_path.read_text())["history"]
    assert all(0.0 <= row["valCleanPassed"] <= 1.0 and 0.0 <= row["valAuc"] <= 1.0 for row in history)


def test_semnet_screen_learns_every_class_in_its_cells_from_the_boxes(tiny_dataset, tmp_path):
    # Boxes over each defect image's bright band, as `semedge synth` would list them in labels.csv.
    rows = ["file,split,class,seed,x,y,w,h"]
    for split in ("train", "val", "test"):
        for index, name in enumerate(DEFAULT_CLASSES):
            for image in sorted((tiny_dataset / split / name).glob("*.png")):
                box = "" if name == "clean" else f"0,{index * 96 // 10},96,{96 // 10}"
                rows.append(f"{split}/{name}/{image.name},{split},{name},1,{box or ',,,'}")
    (tiny_dataset / "labels.csv").write_text("\n".join(rows) + "\n")
    result = train(TrainConfig(data=tiny_dataset, out=tmp_path / "out", kind="screen", size=64, epochs=1,
                               batch_size=16), log=quiet)
    training = json.loads(result.manifest.read_text())["training"]
    assert training["arch"]["family"] == "semnet" and training["arch"]["cell_classes"] == 10
    assert training["boxLoss"] is not None
    state = torch.load(str(result.checkpoint))["state_dict"]
    assert state["cells.weight"].shape[0] == 11 and state["classifier.weight"].shape == (2, 11)


def test_init_from_checkpoint_keeps_the_features_and_replaces_a_head_of_another_size(tiny_dataset, tmp_path):
    first = train(TrainConfig(data=tiny_dataset, out=tmp_path / "a", size=64, epochs=1, batch_size=16, arch=SMALL),
                  log=quiet)
    messages = []
    second = train(TrainConfig(data=tiny_dataset, out=tmp_path / "b", kind="screen", size=64, epochs=1,
                               batch_size=16, init=first.checkpoint), log=messages.append)
    assert any("re-initialised classifier.3.weight" in m for m in messages), messages
    assert json.loads(second.manifest.read_text())["training"]["arch"]["last_channel"] == 64


def test_threshold_keeps_the_required_recall_with_a_margin():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0.6, 1.0, 400), rng.uniform(0.0, 0.3, 100)])
    is_defect = np.concatenate([np.ones(400), np.zeros(100)])
    p[:2] = [0.05, 0.2]  # two hard defects
    threshold = choose_defect_threshold(p, is_defect, 0.995, margin=0.0)
    figures = screen_figures(p, is_defect, threshold)
    assert figures["defectRecall"] >= 0.995 and figures["missedDefects"] <= 2
    assert choose_defect_threshold(p, is_defect, 0.995, margin=1.0) < threshold
    assert choose_defect_threshold(np.full(10, 0.99), np.ones(10), 0.995, margin=0.0) == 0.5


def test_cli_refuses_a_dataset_with_a_missing_class_with_exit_2(tiny_dataset, tmp_path):
    import shutil
    shutil.rmtree(tiny_dataset / "train" / "vias")
    run = subprocess.run([sys.executable, str(REPO / "src" / "training" / "train.py"), "--data", str(tiny_dataset),
                          "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "missing class folder(s): vias" in run.stderr


def test_time_budget_shortens_the_run_and_says_so(tiny_dataset, tmp_path):
    cfg = TrainConfig(data=tiny_dataset, out=tmp_path / "out", size=64, epochs=5, batch_size=16, arch=SMALL,
                      max_minutes=0.01)
    result = train(cfg, log=quiet)
    assert len(result.metrics["history"]) == 1
    assert "time budget" in result.metrics["stop"]
    manifest = json.loads(result.manifest.read_text())
    assert "epochs planned 1 of 5" in manifest["training"]["timeBudget"]


def test_auto_precision_is_bf16_only_where_the_cpu_has_native_bfloat16():
    zen5 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
    sapphire_rapids = "flags\t\t: fpu avx512f amx_bf16 amx_tile\n"
    older = "flags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni\n"
    assert resolve_precision("auto", zen5) == "bf16"
    assert resolve_precision("auto", sapphire_rapids) == "bf16"
    assert resolve_precision("auto", older) == "fp32"
    assert resolve_precision("auto", "") == "fp32"
    assert resolve_precision("fp32", zen5) == "fp32" and resolve_precision("bf16", older) == "bf16"
    with pytest.raises(ValueError, match="--precision"):
        TrainConfig(data=REPO, out=REPO, precision="fp16")


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_either_precision_trains_records_itself_and_exports_float32_weights(tiny_dataset, tmp_path, precision):
    cfg = TrainConfig(data=tiny_dataset, out=tmp_path / "out", size=64, epochs=1, batch_size=16, arch=SMALL,
                      precision=precision)
    result = train(cfg, log=quiet)
    manifest = json.loads(result.manifest.read_text())
    assert manifest["training"]["precision"] == precision
    graph = onnx.load(str(result.onnx)).graph
    assert graph.initializer and all(t.data_type == onnx.TensorProto.FLOAT for t in graph.initializer)
    assert np.isfinite(json.loads(result.metrics_path.read_text())["history"][0]["trainLoss"])


def test_glibc_keeps_freed_training_buffers():
    # CI and the build machine run Debian (glibc): the tuning must take there, or training silently slows 2x.
    assert keep_freed_memory()


def test_defect_auc_is_the_chance_a_defect_outscores_a_clean_image():
    is_defect = np.array([0, 0, 1, 1])
    assert defect_auc(np.array([0.1, 0.2, 0.8, 0.9]), is_defect) == 1.0
    assert defect_auc(np.array([0.9, 0.8, 0.2, 0.1]), is_defect) == 0.0
    assert defect_auc(np.full(4, 0.5), is_defect) == 0.5
    rng = np.random.default_rng(3)
    scores, labels = rng.integers(0, 5, 60) / 4.0, rng.integers(0, 2, 60)
    pairs = [(d, c) for d in scores[labels == 1] for c in scores[labels == 0]]
    brute = sum(1.0 if d > c else 0.5 if d == c else 0.0 for d, c in pairs) / len(pairs)
    assert defect_auc(scores, labels) == pytest.approx(brute)
    assert np.isnan(defect_auc(np.array([0.3, 0.4]), np.array([1, 1])))


def test_trainer_takes_every_core_once_the_flag_file_appears(tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        flag = tmp_path / "cores-freed"
        handoff = CoreHandoff(flag)
        handoff.take_freed_cores(3, quiet)
        assert torch.get_num_threads() == 1 and handoff.raised_at_epoch is None
        flag.touch()
        handoff.take_freed_cores(4, quiet)
        handoff.take_freed_cores(5, quiet)
        assert handoff.raised_at_epoch == 4
        assert torch.get_num_threads() == len(os.sched_getaffinity(0))
        CoreHandoff(None).take_freed_cores(1, quiet)
    finally:
        torch.set_num_threads(before)

import json
import subprocess

from conftest import REPO
from semedge_train.loop import load_checkpoint


def test_quick_build_runs_the_whole_chain_into_a_temp_folder(tmp_path):
    out, work = tmp_path / "models", tmp_path / "work"
    key = tmp_path / "signing.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True, capture_output=True)
    run = subprocess.run([str(REPO / "scripts" / "train-models"), "--quick", "--out", str(out), "--work", str(work),
                          "--signing-key", str(key)], capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    for manifest in ("classifier.int8.json", "classifier.fp32.json", "screen.int8.json", "screen.fp32.json"):
        assert (out / (manifest + ".sig")).read_text().startswith("semedge-signature-v1 model-manifest\n")

    for name in ("classifier", "screen"):
        for fmt in ("int8", "fp32"):
            manifest = json.loads((out / f"{name}.{fmt}.json").read_text())
            assert (out / manifest["file"]).exists()
            assert manifest["format"] == ("int8-qdq" if fmt == "int8" else "fp32")
            assert manifest["kind"] == name
        int8, fp32 = (out / f"{name}.int8.onnx").stat().st_size, (out / f"{name}.fp32.onnx").stat().st_size
        assert int8 < fp32, (name, int8, fp32)
        assert (out / f"{name}.pt").exists() and (out / f"{name}.parity.json").exists()
    assert 0 < json.loads((out / "screen.int8.json").read_text())["defectThreshold"] <= 0.5
    # The teacher ships as its checkpoint, the fab retraining's --teacher-init default.
    assert load_checkpoint(out / "teacher.pt")["arch"]["family"] == "imagenet-resnet18"
    assert (out / "confusion-matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    summary = json.loads((out / "reports" / "summary.json").read_text())
    figures = summary["figures"]
    for key in ("classifier-fp32", "classifier-int8"):
        assert 0.0 <= figures[key]["accuracy"] <= 1.0, figures
    assert 0.0 <= figures["screen-int8"]["defectRecall"] <= 1.0, figures
    assert 0.0 <= figures["cascade-int8"]["accuracy"] <= 1.0, figures
    assert summary["parityMaxAbsDiff"]["classifier"] is not None
    assert summary["parityMaxAbsDiff"]["classifier"] < 1e-4
    assert summary["data"]["seed"] != summary["data"]["testSeed"]
    assert all(summary["training"][name]["precision"] in ("bf16", "fp32") for name in ("classifier", "screen"))
    # synth wrote labels.csv with the defect boxes, so both trainers used the box loss.
    for name in ("classifier", "screen"):
        training = json.loads((out / f"{name}.int8.json").read_text())["training"]
        assert training["boxLoss"] is not None, training
    # The chain now runs through the ImageNet teacher: it was trained, evaluated, and both students distilled from
    # it (labelled and unlabelled images); no manifest carries the build machine's absolute paths.
    assert 0.0 <= figures["teacher-fp32"]["accuracy"] <= 1.0, figures
    assert summary["parityMaxAbsDiff"]["teacher"] < 1e-3
    # The smoke run's teacher is the package's network cut after its first stage (about 0.15 M parameters).
    assert summary["training"]["teacher"]["params"] > 100_000
    teacher_training = json.loads((work / "teacher" / "teacher.fp32.json").read_text())["training"]
    assert teacher_training["imagenet"]["package"] == "Microsoft.ML.DnnImageFeaturizer.ResNet18"
    assert teacher_training["arch"]["family"] == "imagenet-resnet18"
    for name in ("classifier", "screen"):
        for fmt in ("int8", "fp32"):
            text = (out / f"{name}.{fmt}.json").read_text()
            manifest = json.loads(text)
            distillation = manifest["training"]["distillation"]
            assert distillation["teacher"].endswith("teacher.pt") and distillation["unlabelledImages"] == 20
            assert str(tmp_path) not in text and str(REPO) not in text, text
    assert "CPU, " in summary["machine"]["trainedOn"]
    card = (out / "README.md").read_text()
    assert "Smoke build" in card and "confusion-matrix.png" in card
    assert not (REPO / "models" / "quick-models").exists()

import json
import sys

from conftest import REPO
from semedge_train import DEFAULT_CLASSES
from semedge_train import pipeline
from semedge_train.modelcard import write_model_card
from semedge_train.pipeline import (Steps, _calibration_sample, checkpoint_val_accuracy, choose_distillation,
                                    parse_parity, summarise)


def test_parity_output_is_read_in_its_usual_spellings():
    assert parse_parity("cases 3, max abs diff 1.5e-06 (tolerance 1e-4): ok") == 1.5e-06
    assert parse_parity("Max absolute difference: 0.00012") == 0.00012
    assert parse_parity("no figure here") is None


def _classification(accuracy):
    return {"classes": ["clean", "bridge"], "accuracy": accuracy, "correct": 9, "total": 10, "macroPrecision": 0.9,
            "macroRecall": 0.9, "macroF1": 0.88, "perClass": [], "confusion": [[5, 0], [1, 4]],
            "latencyMs": {"count": 10, "p50": 1.5, "p99": 3.0, "mean": 1.6, "max": 3.1}, "confusionPng": "confusion.png"}


def _screen():
    return {"screenModel": "s.json", "metrics": {"threshold": 0.1, "defectsSentOn": 9, "defectsMissed": 0,
                                                 "cleanSentOn": 1, "cleanPassed": 4, "total": 14,
                                                 "defectRecall": 1.0, "defectPrecision": 0.9, "cleanPrecision": 1.0,
                                                 "cleanRecall": 0.8, "spared": 4, "sparedFraction": 0.2857}}


def test_summary_reads_the_evaluate_report_layout():
    reports = {
        "classifier-int8": {"images": 10, "classifier": _classification(0.9)},
        "screen-int8": {"images": 14, "screen": {**_screen(), "latencyMs": {"p50": 0.5, "p99": 0.9}}},
        "cascade-int8": {"images": 14, "cascade": {"screen": _screen(), "classifierSpared": 4,
                                                   "result": _classification(0.85)}},
    }
    s = summarise(reports)
    assert s["classifier-int8"]["accuracy"] == 0.9 and s["classifier-int8"]["macroF1"] == 0.88
    assert s["classifier-int8"]["latencyP50Ms"] == 1.5 and s["classifier-int8"]["latencyP99Ms"] == 3.0
    assert s["screen-int8"]["defectRecall"] == 1.0 and s["screen-int8"]["cleanPrecision"] == 1.0
    assert s["screen-int8"]["cleanRecall"] == 0.8 and s["screen-int8"]["latencyP50Ms"] == 0.5
    assert s["cascade-int8"]["accuracy"] == 0.85
    assert s["cascade-int8"]["classifierSpared"] == 4 / 14


def test_calibration_sample_is_class_balanced_and_flat(tiny_dataset, tmp_path):
    count = _calibration_sample(tiny_dataset / "train", tmp_path / "calib", 3)
    files = sorted(p.name for p in (tmp_path / "calib").iterdir())
    assert count == 30 == len(files)
    assert sum(name.startswith("crack-") for name in files) == 3


def _card_summary() -> dict:
    return {
        "version": "2026.11.23", "quick": False, "wallSeconds": 1500.0,
        "data": {"seed": 1, "testSeed": 2, "imageSize": 512, "perClass": {"train": 200, "val": 40, "test": 50},
                 "classes": list(DEFAULT_CLASSES), "calibrationImages": 200},
        "sizes": {"classifier.fp32.onnx": 2_400_000, "classifier.int8.onnx": 700_000,
                  "screen.fp32.onnx": 600_000, "screen.int8.onnx": 200_000},
        "parityMaxAbsDiff": {"classifier": 2e-6, "screen": None},
        "training": {"classifier": {"params": 591514, "epochs": 20, "bestEpoch": 18, "stop": "done",
                                    "torchTestAccuracy": 0.994, "precision": "bf16", "threadsRaisedAtEpoch": 7},
                     "screen": {"params": 150634, "epochs": 14, "bestEpoch": 12, "stop": "done", "defectThreshold": 0.123,
                                "precision": "bf16"},
                     "teacher": {"params": 2_780_000, "epochs": 6, "bestEpoch": 6, "stop": "done", "valAccuracy": 0.97,
                                 "precision": "bf16"}},
        "figures": {"teacher-fp32": {"accuracy": 0.981, "perClassRecall": {"crack": 0.87}},
                    "classifier-fp32": {"accuracy": 0.994}, "classifier-int8": {"accuracy": 0.992,
                                                                                 "perClassRecall": {"scratch": 0.64}},
                    "screen-int8": {"defectRecall": 0.9978, "cleanPrecision": 0.96, "cleanRecall": 0.8},
                    "cascade-int8": {"accuracy": 0.99}},
        "stepSeconds": {"train-classifier": 900.0, "train-screen": 500.0, "train-teacher": 480.0},
        "machine": {"cpus": 2, "trainedOn": "CPU, 2 cores, buildhost"},
        "teacher": {"stages": 3, "workSize": 96, "lr": 0.001},
    }


def test_model_card_shows_every_headline_figure(tmp_path):
    summary = _card_summary()
    text = write_model_card(tmp_path, summary).read_text()
    for expected in ("99.40 %", "99.20 %", "0.70 MB", "99.78 %", "96.00 %", "-0.20 points", "25.0 min",
                     "591,514", "0.123", "confusion-matrix.png", "scripts/train-models", "bfloat16 autocast",
                     "the classifier ran on every core from its epoch 7, when the screen finished",
                     "98.10 %", "| crack | 87.00 % | n/a | n/a |", "| scratch | n/a | n/a | 64.00 % |",
                     "2,780,000", "CPU, 2 cores, buildhost", "cut after\n  stage 3", "teacher 8.0 min",
                     "clean images passed"):
        assert expected in text, expected
    assert "Smoke build" not in text
    assert "All synthetic-data targets met." in text
    json.dumps(summary)


def test_model_card_calls_a_screen_that_passes_almost_no_clean_image_a_miss(tmp_path):
    figures = {"classifier-int8": {"accuracy": 0.995}, "classifier-fp32": {"accuracy": 0.996},
               "screen-int8": {"defectRecall": 0.9989, "cleanPrecision": 0.5, "cleanRecall": 0.01}}
    from semedge_train.modelcard import _target_check
    text = _target_check(figures["classifier-int8"], figures["classifier-fp32"], figures["screen-int8"],
                         {"classifier.int8.onnx": 300_000})
    assert "Targets missed" in text
    assert "MISSED: screen defect recall >= 99.5 % while passing at least half the clean images" in text
    assert "clean images passed 1.00 %" in text


def test_model_card_says_whether_to_put_the_screen_in_front():
    from semedge_train.modelcard import _screen_use_sentence
    assert "should stay so" in _screen_use_sentence({"defectRecall": 0.9989, "cleanRecall": 0.11})
    assert "should stay so" in _screen_use_sentence({"defectRecall": 0.99, "cleanRecall": 0.8})
    assert "turn it on with `Pipeline:UseShippedScreen=true`" in _screen_use_sentence({"defectRecall": 0.996, "cleanRecall": 0.5})
    assert "should stay so" in _screen_use_sentence({})


def test_when_the_first_parallel_job_ends_the_flag_tells_the_other_to_take_its_core(tmp_path):
    flag = tmp_path / "cores-freed"
    flag.touch()  # left over from an earlier build: must be gone before the jobs start
    waits_for_flag = ("import pathlib, sys, time\n"
                      f"flag = pathlib.Path({str(flag)!r})\n"
                      "if flag.exists(): print('stale flag'); sys.exit(3)\n"
                      "deadline = time.time() + 30\n"
                      "while not flag.exists() and time.time() < deadline: time.sleep(0.05)\n"
                      "print('flag seen' if flag.exists() else 'no flag'); sys.exit(0 if flag.exists() else 1)\n")
    results = Steps(tmp_path / "work").run_parallel(
        {"waits": [sys.executable, "-c", waits_for_flag],
         "quick": [sys.executable, "-c", "import time; time.sleep(2); print('done')"]}, finished_flag=flag)
    assert results["quick"].strip() == "done"
    assert results["waits"].strip() == "flag seen"


def test_the_full_build_starts_its_students_from_the_committed_pretrained_semnets():
    from semedge_train.loop import load_checkpoint
    from semedge_train.pipeline import FULL, PRETRAINED_STUDENTS, QUICK

    assert FULL.student_init == PRETRAINED_STUDENTS and QUICK.student_init is None
    for kind, path in PRETRAINED_STUDENTS.items():
        # Kept in the repository, so that a build starts from the same weights whatever models/ holds then.
        assert path.is_relative_to(REPO / "models" / "pretraining"), path
        checkpoint = load_checkpoint(path)
        assert checkpoint["kind"] == kind and checkpoint["arch"]["family"] == "semnet"
        assert len(checkpoint["classes"]) == (10 if kind == "classifier" else 2)


def test_distillation_is_chosen_on_validation_against_the_students_starting_point():
    # The 2026-12-01 build: a one-epoch teacher at 51.5 % against a starting student at 50.4 % cannot teach.
    weak = choose_distillation(0.515, 0.504, 0.05)
    assert weak["used"] is False and "labels alone" in weak["reason"] and "51.5%" in weak["reason"]
    strong = choose_distillation(0.80, 0.504, 0.05)
    assert strong["used"] is True and strong["teacherValAccuracy"] == 0.80 and strong["studentStartValAccuracy"] == 0.504
    assert choose_distillation(0.554, 0.504, 0.05)["used"] is True
    # The smoke build always distils, whatever its one-epoch teacher reached.
    assert choose_distillation(0.05, 0.10, None)["used"] is True


def test_the_students_starting_point_is_the_init_checkpoint_measured_on_validation(tiny_dataset, tmp_path):
    from semedge_train.train import TrainConfig, train

    out = tmp_path / "out"
    train(TrainConfig(data=tiny_dataset, out=out, epochs=2, batch_size=16, patience=2, threads=1, box_loss=0,
                      cache=tmp_path / "cache"), log=lambda m: None)
    metrics = json.loads((out / "classifier.metrics.json").read_text())
    measured = checkpoint_val_accuracy(out / "classifier.pt", tiny_dataset / "val", tmp_path / "cache")
    # The trainer's own validation figure of the same weights.
    assert abs(measured - metrics["val"]["accuracy"]) < 1e-6


def test_model_card_says_when_the_students_were_not_distilled_and_why(tmp_path):
    summary = json.loads(json.dumps(_card_summary()))
    summary["distillation"] = choose_distillation(0.515, 0.504, 0.05)
    text = write_model_card(tmp_path, summary).read_text()
    assert "did not earn distillation" in text
    assert "No distillation: each student learns from the hard-label cross-entropy" in text
    assert "Chosen on validation: the teacher's validation accuracy (51.5%) does not beat" in text
    assert "Knowledge distillation: the teacher scores" not in text
    summary["distillation"] = choose_distillation(0.80, 0.504, 0.05)
    text = write_model_card(tmp_path, summary).read_text()
    assert "distilled from an ImageNet-initialised teacher" in text and "Knowledge distillation:" in text


def test_the_command_line_sets_the_teacher_epochs_and_the_budget_of_a_longer_build():
    plan = pipeline.plan_from_args(pipeline.parse_args(["--budget-minutes", "105", "--teacher-epochs", "20"]))
    assert (plan.teacher_epochs, plan.budget_minutes) == (20, 105)
    default = pipeline.plan_from_args(pipeline.parse_args([]))
    assert (default.teacher_epochs, default.budget_minutes) == (pipeline.FULL.teacher_epochs, 30.0)
    assert pipeline.plan_from_args(pipeline.parse_args(["--budget-minutes", "0"])).budget_minutes is None


def test_the_model_card_names_the_command_of_its_build_without_this_machines_paths():
    argv = ["--budget-minutes", "105", "--work", "/tmp/w", "--out=/srv/m", "--signing-key", "/root/k.key", "--quick"]
    assert pipeline.build_command(argv) == (
        "scripts/train-models --budget-minutes 105 --work WORK --out=OUT --signing-key RELEASE_KEY --quick")

"""The fab flow: data as fabs have it (mapping, missing classes, every image mode, duplicates, unlabelled images),
temperature scaling, d4 averaging, and an end-to-end smoke run of `scripts/train-models --data`."""

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, write_class_folders
from semedge_train import DEFAULT_CLASSES
from semedge_train.fab_data import FabDataError, find_duplicates, parse_mapping, preprocess, scan
from semedge_train.fab_train import FitResult, Recipe, choose_candidate, choose_teacher, clearly_better, d4_views, fit, fit_temperature, predict
from semedge_train.preprocess import area_resize, load_unit_grey


def _png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def _fab_folders(root, names_and_counts, split="train", size=64, seed=0):
    rng = np.random.default_rng(seed)
    for name, count in names_and_counts.items():
        folder = root / split / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            _png(folder / f"{name}-{i}.png", rng.integers(0, 256, (size, size), dtype=np.uint8))


def test_missing_and_empty_classes_keep_the_ten_class_contract(tmp_path):
    _fab_folders(tmp_path, {"clean": 3, "bridge": 2, "scratch": 0})
    _fab_folders(tmp_path, {"clean": 1, "vias": 1}, split="val", seed=1)

    found = scan(tmp_path)

    assert found.classes == DEFAULT_CLASSES
    assert found.counts("train")[DEFAULT_CLASSES.index("clean")] == 3
    assert found.counts("train")[DEFAULT_CLASSES.index("bridge")] == 2
    assert set(found.without_training_images()) == set(DEFAULT_CLASSES) - {"clean", "bridge"}
    assert found.counts("test") == [0] * 10


def test_unknown_folder_names_the_known_classes_and_the_map_option(tmp_path):
    _fab_folders(tmp_path, {"clean": 1, "Particles": 1, "bridging": 1})
    _fab_folders(tmp_path, {"clean": 1}, split="val")

    with pytest.raises(FabDataError) as error:
        scan(tmp_path)

    message = str(error.value)
    assert "'Particles' (in train)" in message and "'bridging' (in train)" in message
    assert ", ".join(DEFAULT_CLASSES) in message and "--map" in message


def test_mapping_renames_and_merges_folders(tmp_path):
    _fab_folders(tmp_path, {"clean": 1, "Particles": 2, "pcl_small": 1, "bridging": 1})
    _fab_folders(tmp_path, {"clean": 1, "Particles": 1}, split="val")

    found = scan(tmp_path, parse_mapping("Particles=particle, pcl_small=particle,bridging=bridge"))

    assert found.counts("train")[DEFAULT_CLASSES.index("particle")] == 3
    assert found.counts("train")[DEFAULT_CLASSES.index("bridge")] == 1
    assert found.counts("val")[DEFAULT_CLASSES.index("particle")] == 1
    with pytest.raises(FabDataError, match="'particles' is not a class"):
        parse_mapping("Particles=particles")
    with pytest.raises(FabDataError, match="FOLDER=CLASS"):
        parse_mapping("Particles")


def _every_mode(folder):
    """Files of every mode a fab's folders hold, with the grey values in [0, 1] the contract says they mean."""
    rng = np.random.default_rng(3)
    files = {}
    grey = rng.integers(0, 256, (70, 90), dtype=np.uint8)
    alpha = rng.integers(0, 256, (70, 90), dtype=np.uint8)
    alpha[:5] = 0  # a fully transparent border, as a figure crop has
    rgb = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    f32 = np.float32
    luma = (f32(0.299) * rgb[..., 0].astype(f32) + f32(0.587) * rgb[..., 1] + f32(0.114) * rgb[..., 2]) / f32(255)
    files["l.png"] = (_png(folder / "l.png", grey, "L"), grey / 255.0)
    files["la.png"] = (_png(folder / "la.png", np.stack([grey, alpha], -1), "LA"),
                       (grey.astype(f32) / f32(255)) * (alpha.astype(f32) / f32(255)))
    files["rgb.png"] = (_png(folder / "rgb.png", rgb, "RGB"), luma)
    files["rgba.png"] = (_png(folder / "rgba.png", np.dstack([rgb, alpha]), "RGBA"), luma * (alpha / f32(255)))
    palette = Image.fromarray(rgb, "RGB").quantize(64)
    palette.save(folder / "p.png")
    p_rgb = np.asarray(palette.convert("RGB")).astype(f32)
    files["p.png"] = (folder / "p.png", (f32(0.299) * p_rgb[..., 0] + f32(0.587) * p_rgb[..., 1] + f32(0.114) * p_rgb[..., 2]) / f32(255))
    # A palette PNG whose entry 0 is transparent (tRNS).
    p_index = np.asarray(palette).copy()
    transparent = Image.fromarray(p_index, "P")
    transparent.putpalette(palette.getpalette())
    transparent.save(folder / "p-trns.png", transparency=0)
    t_alpha = np.where(p_index == 0, f32(0), f32(1))
    files["p-trns.png"] = (folder / "p-trns.png", files["p.png"][1] * t_alpha)
    grey16 = rng.integers(0, 65536, (70, 90), dtype=np.uint16)
    Image.fromarray(grey16).save(folder / "grey16.png")
    files["grey16.png"] = (folder / "grey16.png", grey16 / 65535.0)
    Image.fromarray(grey16).save(folder / "grey16.tif")
    files["grey16.tif"] = (folder / "grey16.tif", grey16 / 65535.0)
    Image.fromarray(grey, "L").save(folder / "grey8.tif")
    files["grey8.tif"] = (folder / "grey8.tif", grey / 255.0)
    Image.fromarray(rgb, "RGB").save(folder / "rgb.bmp")
    files["rgb.bmp"] = (folder / "rgb.bmp", luma)
    smooth = (np.add.outer(np.arange(50), np.arange(60)) * 2).astype(np.uint8)  # a JPEG of a gentle ramp
    Image.fromarray(smooth, "L").save(folder / "ramp.jpg", quality=95)
    files["ramp.jpg"] = (folder / "ramp.jpg", smooth / 255.0)
    return files


def test_every_mode_is_decoded_as_the_contract_says_by_the_daemon_and_by_the_trainer(tmp_path):
    files = _every_mode(tmp_path / "images")
    images = [type("I", (), {"path": path, "split": "train", "label": 0, "folder": "clean"})() for path, _ in files.values()]

    pre = preprocess(images, 32, tmp_path / "work", log=lambda m: None)

    assert not pre.rejected, pre.rejected
    for row, (name, (path, unit)) in enumerate(files.items()):
        expected = area_resize(np.asarray(unit, dtype=np.float32), 32, 32)
        daemon = pre.pixels[row]
        tolerance = 2e-2 if name.endswith(".jpg") else 1e-5  # JPEG: the decoders' IDCTs may differ by a level
        assert np.abs(daemon - expected).max() < tolerance, (name, np.abs(daemon - expected).max())
        trainer = area_resize(load_unit_grey(path), 32, 32)
        assert np.abs(trainer - daemon).max() < tolerance, (name, np.abs(trainer - daemon).max())
    # The transparent border of the grey+alpha PNG reads black (0), whatever grey it hides.
    la_row = list(files).index("la.png")
    assert pre.pixels[la_row][0].max() == 0.0


def test_unreadable_files_are_listed_and_left_out(tmp_path):
    good = _png(tmp_path / "good.png", np.zeros((8, 8), np.uint8), "L")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    images = [type("I", (), {"path": p, "split": "train", "label": 0, "folder": "clean"})() for p in (good, bad)]

    pre = preprocess(images, 16, tmp_path / "work", log=lambda m: None)

    assert [i.path for i in pre.images] == [good]
    assert len(pre.rejected) == 1 and pre.rejected[0]["file"] == str(bad.resolve())


def test_duplicates_across_splits_are_found_with_their_file_names(tmp_path):
    root = tmp_path / "data"
    write_class_folders(root, classes=DEFAULT_CLASSES[:3], per_split=(("train", 4), ("val", 2), ("test", 2)), size=96)
    rng = np.random.default_rng(5)
    for split in ("train", "val", "test"):  # distinct random textures, so only the planted copies are alike
        for f in (root / split).rglob("*.png"):
            texture = Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8), "L").resize((96, 96), Image.BICUBIC)
            texture.save(f)
    original = root / "train" / "bridge" / "bridge-000.png"
    shutil.copyfile(original, root / "val" / "bridge" / "copied.png")
    with Image.open(original) as image:  # a resized, re-encoded copy with a small level shift
        near = np.asarray(image.resize((150, 150), Image.BILINEAR), dtype=np.float64) * 0.97 + 4
    Image.fromarray(near.clip(0, 255).astype(np.uint8), "L").save(root / "test" / "bridge" / "near.jpg", quality=90)

    found = scan(root)
    pre = preprocess(found.images, 128, tmp_path / "work", log=lambda m: None)
    pairs = find_duplicates(pre)

    copied, near = str(root / "val" / "bridge" / "copied.png"), str(root / "test" / "bridge" / "near.jpg")
    found_pairs = {(p["kind"], frozenset(p["files"])) for p in pairs}
    # The copy in val is the training image itself, so the near copy in test is near both of them.
    assert found_pairs == {("exact", frozenset({str(original), copied})), ("near", frozenset({str(original), near})),
                           ("near", frozenset({copied, near}))}, pairs
    assert all(p["sameLabel"] for p in pairs)


def test_unlabelled_images_are_scanned_apart_from_the_labelled_ones(tmp_path):
    _fab_folders(tmp_path, {"clean": 2})
    _fab_folders(tmp_path, {"clean": 1}, split="val")
    archive = tmp_path / "archive" / "2026-11-30"
    _png(archive / "a.png", np.zeros((9, 9), np.uint8), "L")
    _png(archive / "b.png", np.zeros((9, 9), np.uint8), "L")
    (archive / "a.png.error.json").write_text("{}")

    found = scan(tmp_path, unlabelled=tmp_path / "archive")

    unlabelled = found.split("unlabelled")
    assert sorted(i.path.name for i in unlabelled) == ["a.png", "b.png"]
    assert all(i.label == -1 for i in unlabelled)
    assert found.counts("train")[0] == 2
    assert any(p.endswith("a.png.error.json") for p in found.ignored)


def test_temperature_scaling_recovers_the_temperature_that_made_overconfident_logits():
    rng = np.random.default_rng(0)
    true_logits = torch.from_numpy(rng.normal(0, 1.5, (4000, 10)))
    labels = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=torch.Generator().manual_seed(1))[:, 0].numpy()

    fitted = fit_temperature(true_logits * 3.0, labels)

    assert 2.7 < fitted < 3.3, fitted
    assert 0.9 < fit_temperature(true_logits, labels) < 1.1


def test_d4_views_are_the_eight_distinct_symmetries_and_tta_averages_their_logits():
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    views = d4_views(x)
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8

    class Corner(torch.nn.Module):  # logit k = the value in corner k: moves with the symmetry
        def forward(self, t):
            return torch.stack([t[:, 0, 0, 0], t[:, 0, 0, -1], t[:, 0, -1, 0], t[:, 0, -1, -1]], 1)

    unit = np.arange(16, dtype=np.float32).reshape(1, 4, 4) / 16
    averaged = predict(Corner(), unit, tta=True)[0]
    # Every corner visits every position twice over the 8 views, so all four logits are the corners' mean.
    corners = (np.array([0, 3, 12, 15]) / 16 - 0.5) / 0.25
    assert torch.allclose(averaged, torch.full((4,), float(corners.mean())), atol=1e-6)


class _StepClock:
    """A monotonic clock that moves on by a fixed step at every reading: fit() reads it three times an epoch."""

    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_deadline_shortens_the_schedule_so_the_learning_rate_anneals_before_it():
    rng = np.random.default_rng(0)
    x = rng.random((24, 32, 32), dtype=np.float32)
    y = np.arange(24, dtype=np.int64) % 3
    recipe = Recipe("probe", start="random", lr=1e-3, max_epochs=40, patience=40, batch_size=8, warmup_epochs=0.0)

    def tiny():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                   torch.nn.Linear(4, 3))

    # Each epoch costs 1 s on this clock and reads it 3 times: 10 s of budget is about 3 epochs of 40.
    clock = _StepClock(0.5)
    budgeted = fit(tiny(), recipe, x, y, x, y, 3, seed=1, deadline=10.0, clock=clock, log=lambda _: None)
    unbounded = fit(tiny(), recipe, x, y, x, y, 3, seed=1, clock=_StepClock(0.5), log=lambda _: None)

    assert 2 <= len(budgeted.history) < 10, budgeted.history
    assert budgeted.history[-1]["lrFactor"] < 0.05, budgeted.history[-1]
    assert budgeted.stop.startswith("time budget"), budgeted.stop
    # Without a deadline the same epoch is still near the top of the 40-epoch cosine.
    assert unbounded.history[len(budgeted.history) - 1]["lrFactor"] > 0.9
    assert len(unbounded.history) == 40


class _TableModel(torch.nn.Module):
    """Fixed logits per image; the image's index is written in its first pixel (unit value index / 100)."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.tensor(table, dtype=torch.float32)

    def forward(self, x):
        index = torch.round((x[:, 0, 0, 0] * 0.25 + 0.5) * 100).long()
        return self.table[index]


def _candidate(name, table, val_y):
    model = _TableModel(table)
    unit = np.zeros((len(val_y), 4, 4), dtype=np.float32)
    unit[:, 0, 0] = np.arange(len(val_y)) / 100
    acc = float((predict(model, unit).argmax(1).numpy() == val_y).mean())
    return FitResult(model, Recipe(name, start="synthetic", lr=1e-3), [], 1, "", acc, 1.0, 0.0), unit


def _votes(right_on, labels, classes=3):
    """Logits 2 on the true class where the model is right, 3 on the next class where it is wrong."""
    table = np.zeros((len(labels), classes))
    for i, y in enumerate(labels):
        table[i, y if i in right_on else (y + 1) % classes] = 2 if i in right_on else 3
    return table


def test_clearly_better_needs_more_wins_than_validation_noise_gives():
    labels = np.zeros(100, dtype=np.int64)

    def logits(right):
        out = torch.zeros(100, 2)
        out[:, 1] = 1.0
        out[list(right), 0] = 2.0
        return out

    # 10 wins against 6 losses: +4 is under sqrt(16) = 4, noise; 12 against 4: +8 over sqrt(16), better.
    base = set(range(50))
    assert clearly_better(logits(base - set(range(6)) | set(range(50, 60))), logits(base), labels)[0] is False
    assert clearly_better(logits(base - set(range(4)) | set(range(50, 62))), logits(base), labels) == (True, 12, 4)


def test_the_teacher_is_the_mean_of_close_candidates_unless_one_alone_is_clearly_better():
    val_y = np.array([0, 1, 2])
    a, unit = _candidate("a", _votes({0, 1}, val_y), val_y)
    b, _ = _candidate("b", _votes({1, 2}, val_y), val_y)
    c, _ = _candidate("c", _votes({0, 2}, val_y), val_y)
    far, _ = _candidate("far", _votes(set(), val_y), val_y)  # 0 of 3: left out of the mean

    teacher, name, note = choose_teacher([a, b, c, far], unit, val_y, log=lambda _: None)

    assert name == "ensemble(a+b+c)", name
    assert note["ensembleValAccuracy"] == 1.0 and note["members"] == ["a", "b", "c"]
    assert (predict(teacher, unit).argmax(1).numpy() == val_y).all()

    # One candidate right on all 40 images, a close one so sure of its two mistakes that the mean inherits them:
    # 2 wins, 0 losses is over sqrt(2), so the best one teaches alone.
    val_y = np.arange(40) % 3
    best_table = np.eye(3)[val_y] * 2
    close_table = best_table.copy()
    close_table[0] = close_table[1] = [0, 0, 100]  # images 0 and 1 are classes 0 and 1
    best, unit = _candidate("best", best_table, val_y)
    close, _ = _candidate("close", close_table, val_y)
    assert close.val_accuracy == 38 / 40

    teacher, name, note = choose_teacher([close, best], unit, val_y, log=lambda _: None)

    assert name == "best" and teacher is best.model
    assert (note["bestAloneWins"], note["bestAloneLosses"]) == (2, 0)


def test_the_distilled_student_ships_unless_a_candidate_is_clearly_better_on_validation():
    val_y = np.arange(40) % 3
    truth = np.eye(3)[val_y] * 2

    def wrong_on(rows):
        table = truth.copy()
        for r in rows:
            table[r] = np.roll(truth[r], 1)
        return table

    distilled, unit = _candidate("distilled", wrong_on(range(6)), val_y)
    distilled.recipe = Recipe("distilled", start="synthetic", lr=1e-3, distil_weight=0.7)
    slightly, _ = _candidate("slightly-better", wrong_on(range(2, 6)), val_y)  # 2 wins, 0 losses: over sqrt(2)
    noisy, _ = _candidate("noisy", wrong_on([0, 1, 2, 3, 6]), val_y)  # 2 wins (4, 5), 1 loss (6): within the noise

    chosen, note = choose_candidate([noisy, distilled], unit, val_y, log=lambda _: None)
    assert chosen is distilled and note["rule"].startswith("distilled student"), note

    chosen, note = choose_candidate([noisy, slightly, distilled], unit, val_y, log=lambda _: None)
    assert chosen is slightly and note["rule"].startswith("clearly better"), note

    plain = [noisy, slightly]  # no distilled candidate: the best on validation
    assert choose_candidate(plain, unit, val_y, log=lambda _: None)[0] is slightly


def test_train_models_data_smoke_run_writes_a_hot_swap_ready_folder(tmp_path):
    data = write_class_folders(tmp_path / "fab", classes=("clean", "bridge", "particle", "vias"),
                               per_split=(("train", 6), ("val", 3), ("test", 3)), size=80)
    (data / "train" / "particle").rename(data / "train" / "Particles")
    (data / "val" / "particle").rename(data / "val" / "Particles")
    (data / "test" / "particle").rename(data / "test" / "Particles")
    (data / "train" / "scratch").mkdir()  # an empty class folder
    archive = tmp_path / "archive"
    archive.mkdir()
    for f in list((data / "test" / "clean").iterdir())[:2]:
        shutil.copyfile(f, archive / f.name)
    out = tmp_path / "out"
    key = tmp_path / "fab.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(tmp_path / "fab.pub")], check=True)

    run = subprocess.run([str(REPO / "scripts" / "train-models"), "--data", str(data), "--out", str(out),
                          "--map", "Particles=particle", "--unlabelled", str(archive), "--epochs", "1",
                          "--minutes", "4", "--threads", "2", "--signing-key", str(key)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    for stage in ("scan", "preprocess", "candidates", "screen", "calibrate", "export", "quantize", "evaluate", "ship"):
        assert f"] {stage}" in run.stdout
    assert "chosen recipe" in run.stdout  # the summary table
    for name in ("classifier", "screen"):
        for fmt in ("int8", "fp32"):
            manifest = json.loads((out / f"{name}.{fmt}.json").read_text())
            assert manifest["kind"] == name and manifest["classes"][0] == "clean"
            assert hashlib.sha256((out / manifest["file"]).read_bytes()).hexdigest() == manifest["sha256"]
        assert (out / f"{name}.pt").exists()
        for fmt in ("int8", "fp32"):
            _assert_signed_by(out / f"{name}.{fmt}.json", tmp_path / "fab.pub", tmp_path)
    classifier = json.loads((out / "classifier.int8.json").read_text())
    assert classifier["classes"] == list(DEFAULT_CLASSES)
    assert classifier["temperature"] > 0 and classifier["tta"] in ("none", "d4")
    assert classifier["format"] == "int8-qdq"
    training = classifier["training"]
    assert "scratch" in training["classesWithoutTrainingImages"] and "crack" in training["classesWithoutTrainingImages"]
    assert training["unlabelledImages"] == 2 and training["distillation"]["unlabelledImages"] == 2
    summary = json.loads((out / "reports" / "summary.json").read_text())
    assert summary["counts"]["train"]["particle"] == 6
    assert summary["figures"]["test/classifier-int8"]["total"] == 12
    card = (out / "README.md").read_text()
    assert "scratch" in card and "95 % purity" in card and "hot swap" in card
    assert "Pipeline:UseShippedScreen" in card
    assert (out / "confusion-matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert list((out / "reports" / "training").glob("*.curve.png"))
    assert not (out / ".work").exists()


def test_the_card_turns_the_screen_on_only_when_it_passes_half_the_clean_images_at_its_recall():
    from semedge_train.fab import _screen_use
    off, on = "leave `Pipeline:UseShippedScreen` off", "set `Pipeline:UseShippedScreen=true`"
    assert off in _screen_use({"bypassed": False, "val": {"cleanRecall": 0.11, "defectRecall": 0.999}})
    assert off in _screen_use({"bypassed": False, "val": {"cleanRecall": 0.9, "defectRecall": 0.99}})
    assert on in _screen_use({"bypassed": False, "val": {"cleanRecall": 0.5, "defectRecall": 0.995}})
    assert "passes 50.0 % of the clean images" in _screen_use({"bypassed": False, "val": {"cleanRecall": 0.5, "defectRecall": 0.995}})
    assert "no threshold of its own" in _screen_use({"bypassed": True, "reason": "no clean images", "val": None})


def _assert_signed_by(manifest: Path, public_key: Path, tmp: Path) -> None:
    """Checks the detached signature beside a manifest with openssl alone (the format of
    docs/classes-and-model-trust.md), so the daemon's hot swap will accept OUT as it is."""
    lines = (manifest.parent / (manifest.name + ".sig")).read_text().splitlines()
    assert lines[0] == "semedge-signature-v1 model-manifest"
    statement = tmp / "statement"
    statement.write_bytes(f"semedge-signature-v1\nmodel-manifest\nsha256 {hashlib.sha256(manifest.read_bytes()).hexdigest()}\n".encode())
    signature = tmp / "signature"
    signature.write_bytes(base64.b64decode(lines[2].split()[1]))
    check = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public_key), "-rawin",
                            "-in", str(statement), "-sigfile", str(signature)], capture_output=True, text=True)
    assert check.returncode == 0, f"{manifest.name}: {check.stdout}{check.stderr}"

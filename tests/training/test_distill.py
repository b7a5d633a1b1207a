"""Knowledge distillation: the loss, the screen's view of a classifier teacher, and a student that learns a teacher."""

import numpy as np
import torch
import torch.nn.functional as F

from semedge_train.distill import DistillConfig, distillation_loss, teacher_targets, to_screen_distribution
from semedge_train.model import ArchSpec, build_model
from semedge_train.train import TrainConfig, train


def test_screen_distribution_is_p_clean_against_the_sum_of_the_defect_classes():
    logits = torch.tensor([[2.0, 0.0, 1.0, -1.0]])
    p = torch.softmax(logits / 2.0, 1)
    screen = to_screen_distribution(logits, clean_index=0, temperature=2.0)
    torch.testing.assert_close(screen, torch.stack([p[:, 0], p[:, 1:].sum(1)], 1))
    torch.testing.assert_close(teacher_targets(logits, ("clean", "defect"), ["clean", "a", "b", "c"], 2.0), screen)


def test_teacher_targets_follow_the_students_class_order():
    logits = torch.tensor([[3.0, 1.0, 0.0]])
    targets = teacher_targets(logits, ("b", "a", "clean"), ["clean", "a", "b"], 1.0)
    torch.testing.assert_close(targets, torch.softmax(logits[:, [2, 1, 0]], 1))


def test_unlabelled_images_count_only_through_the_teacher():
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 4), torch.softmax(torch.randn(6, 4), 1)
    labelled = torch.tensor([True, True, True, False, False, False])
    targets = torch.tensor([0, 1, 2, 3, 0, 1])
    base = distillation_loss(student, teacher, targets, labelled, 4.0, 0.5)
    other_unlabelled = targets.clone()
    other_unlabelled[3:] = torch.tensor([2, 2, 2])
    torch.testing.assert_close(distillation_loss(student, teacher, other_unlabelled, labelled, 4.0, 0.5), base)
    other_labelled = targets.clone()
    other_labelled[0] = 3
    assert not torch.isclose(distillation_loss(student, teacher, other_labelled, labelled, 4.0, 0.5), base)
    # weight 1: the teacher alone, and a student equal to the teacher has zero loss.
    same = torch.log(teacher) * 4.0
    assert float(distillation_loss(same, teacher, targets, labelled, 4.0, 1.0)) < 1e-5


def test_a_student_learns_to_answer_like_its_teacher_in_a_few_steps():
    # A teacher of another shape with decisive answers; the student sees its soft labels only (weight 1).
    torch.manual_seed(3)
    teacher = build_model(5, ArchSpec(family="semnet", width_mult=0.5, last_channel=0, dropout=0.0)).eval()
    with torch.no_grad():
        teacher.classifier.weight.mul_(20.0)
    student = build_model(5, ArchSpec(family="semnet", width_mult=0.5, last_channel=16, dropout=0.0))
    x = torch.randn(16, 1, 64, 64)
    with torch.no_grad():
        teacher_logits = teacher(x)
    probs = teacher_targets(teacher_logits, tuple("abcde"), list("abcde"), 2.0)
    no_labels = torch.zeros(16, dtype=torch.bool)
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)

    def kl() -> float:
        student.eval()
        with torch.no_grad():
            return float(distillation_loss(student(x), probs, torch.zeros(16, dtype=torch.long), no_labels, 2.0, 1.0))

    before = kl()
    student.train()
    for _ in range(80):
        loss = distillation_loss(student(x), probs, torch.zeros(16, dtype=torch.long), no_labels, 2.0, 1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = kl()
    student.eval()
    with torch.no_grad():
        agreement = float((student(x).argmax(1) == teacher_logits.argmax(1)).float().mean())
    assert after < 0.3 * before, (before, after)
    assert agreement >= 0.75, agreement


def test_training_with_a_teacher_and_unlabelled_images_records_the_distillation(tiny_dataset, tmp_path):
    teacher_run = train(TrainConfig(data=tiny_dataset, out=tmp_path / "teacher", name="teacher", epochs=2,
                                    batch_size=16, threads=1, precision="fp32", cache=tmp_path / "cache"),
                        log=lambda _: None)
    lines: list[str] = []
    student = train(TrainConfig(data=tiny_dataset, out=tmp_path / "student", epochs=1, batch_size=16, threads=1,
                                precision="fp32", cache=tmp_path / "cache", unlabelled=tiny_dataset / "test",
                                distill=DistillConfig(teacher_run.checkpoint, temperature=3.0, weight=0.6),
                                arch=ArchSpec(family="semnet", width_mult=0.5, last_channel=0, dropout=0.0)),
                    log=lines.append)
    import json
    training = json.loads(student.manifest.read_text())["training"]
    assert training["distillation"]["unlabelledImages"] == 40
    assert training["distillation"]["temperature"] == 3.0 and training["distillation"]["teacher"].endswith("teacher.pt")
    assert not training["data"].startswith("/")
    assert any("teacher agrees with" in line for line in lines)
    # The soft labels are cached: a second student (the screen) reads them instead of running the teacher.
    assert sorted(p.name.split("-")[1] for p in (tmp_path / "cache").glob("soft-*.npz")) == ["train", "unlabelled"]
    screen_lines: list[str] = []
    train(TrainConfig(data=tiny_dataset, out=tmp_path / "screen", kind="screen", epochs=1, batch_size=16, threads=1,
                      precision="fp32", cache=tmp_path / "cache", distill=DistillConfig(teacher_run.checkpoint)),
          log=screen_lines.append)
    assert not any(line.startswith("teacher soft labels") for line in screen_lines)


def test_the_teacher_is_trusted_where_it_is_right_or_sure():
    from semedge_train.distill import trusted_teacher
    logits = torch.tensor([[4.0, 0.0, 0.0],    # labelled, right
                           [4.0, 0.0, 0.0],    # labelled, wrong
                           [0.0, 3.0, 0.0],    # unlabelled, sure (p ~ 0.91)
                           [0.1, 0.0, 0.0]])   # unlabelled, unsure (p ~ 0.36)
    targets = torch.tensor([0, 2, 0, 0])
    labelled = torch.tensor([True, True, False, False])
    assert trusted_teacher(logits, targets, labelled).tolist() == [True, False, True, False]
    # An untrusted image adds nothing to the distillation term.
    student = torch.randn(4, 3)
    probs = torch.softmax(logits / 2.0, 1)
    trusted = trusted_teacher(logits, targets, labelled)
    only_kd = distillation_loss(student, probs, targets, labelled, 2.0, 1.0, trusted=trusted)
    changed = student.clone()
    changed[1] += torch.tensor([5.0, -5.0, 0.0])
    torch.testing.assert_close(distillation_loss(changed, probs, targets, labelled, 2.0, 1.0, trusted=trusted), only_kd)

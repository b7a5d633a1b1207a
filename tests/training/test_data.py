import shutil

import numpy as np
import pytest
import torch

from semedge_train import DEFAULT_CLASSES
from semedge_train.data import Augmentation, DatasetError, list_split, load_split, to_screen_labels


def test_missing_class_folder_is_named_in_the_error(tiny_dataset):
    shutil.rmtree(tiny_dataset / "train" / "crack")
    with pytest.raises(DatasetError, match="missing class folder.*crack"):
        list_split(tiny_dataset / "train", DEFAULT_CLASSES)


def test_extra_class_folder_is_refused_unless_listed(tiny_dataset):
    (tiny_dataset / "train" / "stain").mkdir()
    with pytest.raises(DatasetError, match="unexpected class folder.*stain"):
        list_split(tiny_dataset / "train", DEFAULT_CLASSES)


def test_missing_split_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="split folder not found"):
        list_split(tmp_path / "nope", DEFAULT_CLASSES)


def test_class_override_reads_a_subset_in_the_given_order(tiny_dataset):
    for name in DEFAULT_CLASSES[2:]:
        shutil.rmtree(tiny_dataset / "val" / name)
    items = list_split(tiny_dataset / "val", ("bridge", "clean"))
    assert {label for path, label in items if path.parent.name == "bridge"} == {0}
    assert {label for path, label in items if path.parent.name == "clean"} == {1}


def test_split_is_preprocessed_once_and_cached(tiny_dataset, tmp_path):
    first = load_split(tiny_dataset / "val", DEFAULT_CLASSES, 32, tmp_path / "cache", log=lambda m: None)
    assert first.images.shape == (40, 32, 32)
    assert first.counts(10) == [4] * 10
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    second = load_split(tiny_dataset / "val", DEFAULT_CLASSES, 32, tmp_path / "cache", log=lambda m: None)
    np.testing.assert_array_equal(first.images, second.images)


def test_screen_labels_are_clean_zero_and_everything_else_one():
    labels = np.arange(10)
    np.testing.assert_array_equal(to_screen_labels(labels, DEFAULT_CLASSES), [0] + [1] * 9)


def test_augmentation_is_deterministic_for_a_seed_and_stays_in_range():
    batch = torch.rand(6, 1, 32, 32)
    a = Augmentation()(batch, torch.Generator().manual_seed(3))
    b = Augmentation()(batch, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert a.shape == batch.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    assert not torch.equal(a, batch)

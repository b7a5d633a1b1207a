import shutil

import numpy as np
import pytest
import torch

from semedge_train import DEFAULT_CLASSES
from PIL import Image

from semedge_train.data import Augmentation, DatasetError, box_masks, list_split, load_boxes, load_split, \
    to_screen_labels


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


def test_parallel_decode_gives_the_serial_images_and_names_a_corrupt_file(tiny_dataset, monkeypatch):
    serial = load_split(tiny_dataset / "val", DEFAULT_CLASSES, 32, log=lambda m: None)
    monkeypatch.setattr("semedge_train.data.PARALLEL_DECODE_MIN", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    parallel = load_split(tiny_dataset / "val", DEFAULT_CLASSES, 32, log=lambda m: None)
    np.testing.assert_array_equal(serial.images, parallel.images)
    broken = tiny_dataset / "val" / "crack" / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="broken.png: cannot read image"):
        load_split(tiny_dataset / "val", DEFAULT_CLASSES, 32, log=lambda m: None)


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


def test_flips_and_quarter_turns_alone_are_exact_and_reach_all_eight_orientations():
    # Without the affine warp, each augmented image must be one of the eight flips/rotations of its input, pixel
    # for pixel (the single grid_sample must not blur it), and a large batch must show all eight.
    batch = torch.rand(1, 1, 16, 16).expand(64, 1, 16, 16).contiguous()
    out = Augmentation.geometric(affine_p=0)(batch, torch.Generator().manual_seed(5))
    image = batch[0, 0]
    orientations = [torch.rot90(v, k, (0, 1)) for v in (image, image.flip(1)) for k in range(4)]
    seen = set()
    for augmented in out[:, 0]:
        matches = [n for n, o in enumerate(orientations) if torch.allclose(augmented, o, atol=1e-5)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == set(range(8))


def test_box_masks_cover_exactly_the_box_and_nan_gives_none():
    boxes = torch.tensor([[0.25, 0.5, 0.5, 1.0], [float("nan")] * 4])
    masks = box_masks(boxes, 8)
    assert masks.shape == (2, 1, 8, 8)
    expected = torch.zeros(8, 8)
    expected[4:8, 2:4] = 1
    assert torch.equal(masks[0, 0], expected)
    assert masks[1].sum() == 0


def test_augmentation_moves_the_mask_with_the_image():
    # An image that is its own mask must stay equal to the mask through flips, rotations and the affine warp;
    # the photometric changes touch only the image.
    torch.manual_seed(0)
    mask = box_masks(torch.tensor([[0.1, 0.2, 0.4, 0.5], [0.6, 0.1, 0.9, 0.3]] * 8), 32)
    geometric_only = Augmentation.geometric(affine_p=1.0)
    image, moved = geometric_only(mask.clone(), torch.Generator().manual_seed(3), mask.clone())
    assert torch.allclose(image, moved, atol=1e-6)
    assert not torch.equal(moved, mask)
    noisy, kept = Augmentation(affine_p=0, flips=False, rot90=False, max_noise=0.2)(
        mask.clone(), torch.Generator().manual_seed(4), mask.clone())
    assert torch.equal(kept, mask) and not torch.equal(noisy, mask)


def test_boxes_come_from_labels_csv_as_fractions_of_each_image(tmp_path):
    for name, size in (("bridge/b.png", (200, 100)), ("clean/c.png", (64, 64))):
        (tmp_path / "train" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", size).save(tmp_path / "train" / name)
    (tmp_path / "labels.csv").write_text("file,split,class,seed,x,y,w,h\n"
                                          "train/bridge/b.png,train,bridge,1,50,25,100,50\n"
                                          "train/clean/c.png,train,clean,2,,,,\n")
    files = [str(tmp_path / "train" / "bridge" / "b.png"), str(tmp_path / "train" / "clean" / "c.png")]
    boxes = load_boxes(tmp_path / "train", files)
    assert np.allclose(boxes[0], [0.25, 0.25, 0.75, 0.75])
    assert np.isnan(boxes[1]).all()
    # A fab's own dataset without labels.csv, or one that does not list every image, trains without boxes.
    assert load_boxes(tmp_path / "train", files + [str(tmp_path / "train" / "x.png")]) is None
    (tmp_path / "labels.csv").unlink()
    assert load_boxes(tmp_path / "train", files) is None

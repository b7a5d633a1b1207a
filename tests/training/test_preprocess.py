import numpy as np
import pytest
from PIL import Image

from semedge_train.preprocess import area_resize, area_weights, load_unit_grey, normalise, preprocess_file


def slow_area_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Direct 2-D definition: each output pixel is the mean over its footprint, weighting every source
    pixel by the area it shares with the footprint."""
    h, w = image.shape
    sy, sx = h / height, w / width
    out = np.zeros((height, width))
    for oy in range(height):
        for ox in range(width):
            y0, y1, x0, x1 = oy * sy, (oy + 1) * sy, ox * sx, (ox + 1) * sx
            total = 0.0
            for iy in range(int(np.floor(y0)), min(int(np.ceil(y1)), h)):
                wy = min(y1, iy + 1) - max(y0, iy)
                for ix in range(int(np.floor(x0)), min(int(np.ceil(x1)), w)):
                    wx = min(x1, ix + 1) - max(x0, ix)
                    total += wy * wx * image[iy, ix]
            out[oy, ox] = total / (sy * sx)
    return out


def test_integer_ratio_is_the_mean_of_each_4x4_block():
    image = np.random.default_rng(1).random((512, 512)).astype(np.float32)
    expected = image.reshape(128, 4, 128, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(area_resize(image, 128, 128), expected, atol=1e-6)


@pytest.mark.parametrize("shape,size", [((37, 53), (11, 7)), ((100, 90), (128, 128)), ((150, 213), (64, 60))])
def test_non_integer_ratio_matches_the_slow_reference(shape, size):
    image = np.random.default_rng(2).random(shape).astype(np.float32)
    width, height = size
    np.testing.assert_allclose(area_resize(image, width, height), slow_area_resize(image, width, height), atol=1e-5)


def test_weights_rows_sum_to_one_and_keep_a_constant_image_constant():
    for src, dst in ((512, 128), (333, 128), (97, 128)):
        np.testing.assert_allclose(area_weights(src, dst).sum(axis=1), 1.0, atol=1e-12)
    flat = np.full((333, 517), 0.25, dtype=np.float32)
    np.testing.assert_allclose(area_resize(flat, 128, 128), 0.25, atol=1e-6)


def test_aspect_ratio_is_not_kept():
    assert area_resize(np.zeros((300, 100), np.float32), 128, 128).shape == (128, 128)


def test_8_bit_grey_is_divided_by_255(tmp_path):
    pixels = np.array([[0, 51, 255]], dtype=np.uint8)
    Image.fromarray(pixels, "L").save(tmp_path / "g.png")
    np.testing.assert_allclose(load_unit_grey(tmp_path / "g.png"), [[0.0, 0.2, 1.0]], atol=1e-7)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grey_is_divided_by_65535(tmp_path, suffix):
    pixels = np.array([[0, 1000, 65535], [32768, 7, 40000]], dtype=np.uint16)
    path = tmp_path / f"g16{suffix}"
    Image.fromarray(pixels).save(path)
    np.testing.assert_allclose(load_unit_grey(path), pixels / 65535.0, atol=1e-7)


def test_rgb_uses_bt601_luma_and_composites_alpha_over_black(tmp_path):
    rgba = np.array([[[255, 0, 0, 10], [0, 255, 0, 255], [0, 0, 255, 0], [10, 200, 30, 128]]], dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "c.png")
    rgb = rgba[..., :3].astype(np.float64)
    expected = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255 * (rgba[..., 3] / 255)
    np.testing.assert_allclose(load_unit_grey(tmp_path / "c.png"), expected, atol=1e-6)
    Image.fromarray(rgba[..., :3], "RGB").save(tmp_path / "opaque.png")
    opaque = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255
    np.testing.assert_allclose(load_unit_grey(tmp_path / "opaque.png"), opaque, atol=1e-6)


def test_full_contract_normalises_with_mean_and_std(tmp_path):
    Image.fromarray(np.full((512, 512), 255, np.uint8), "L").save(tmp_path / "w.png")
    x = preprocess_file(tmp_path / "w.png", 128, mean=0.5, std=0.25)
    assert x.shape == (128, 128) and x.dtype == np.float32
    np.testing.assert_allclose(x, 2.0, atol=1e-6)
    np.testing.assert_allclose(normalise(np.array([0.5, 0.0], np.float32)), [0.0, -2.0])

import numpy as np
import pytest

from keras_prelu import data
from tests.data.image_files import write_image


@pytest.fixture
def folder(tmp_path, rng):
    """Random 10x10 PNGs: at scale 10 and crop 10 the centre view is the image itself."""
    images = rng.integers(0, 256, (7, 10, 10, 3), dtype=np.uint8)
    (tmp_path / "class").mkdir()
    for index, image in enumerate(images):
        write_image(tmp_path / "class" / f"{index}.png", image, "RGB", "PNG")
    return data.get_source(str(tmp_path), validation_fraction=0.0), images


@pytest.mark.parametrize("per_pixel", [False, True])
def test_compute_mean_matches_numpy_in_batches_of_any_size(folder, per_pixel):
    source, images = folder
    mean = data.compute_mean(source, per_pixel=per_pixel, scale=10, crop_size=10, batch_size=3)
    expected = images.mean(axis=0) if per_pixel else images.mean(axis=(0, 1, 2))
    np.testing.assert_allclose(mean, expected, rtol=1e-5)


def test_mean_round_trips_beside_a_run_and_feeds_augmentation(folder, tmp_path):
    source, _ = folder
    mean = data.compute_mean(source, per_pixel=True, scale=10, crop_size=8)
    path = data.save_mean(mean, tmp_path / "run")
    assert path == str(tmp_path / "run" / data.MEAN_FILENAME)
    for location in (path, tmp_path / "run"):
        np.testing.assert_array_equal(data.load_mean(location), mean)
    assert data.Augmentation(
        scale_range=(10, 12), crop_size=8, mean=data.load_mean(path)
    ).per_pixel_mean

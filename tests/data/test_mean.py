import numpy as np
import pytest

from keras_prelu import data
from tests.helpers.images import write_image

# Runs in the TensorFlow session only: the data pipeline is TensorFlow's.
pytestmark = pytest.mark.backend("tensorflow")


@pytest.fixture
def folder(tmp_path, rng):
    """Random 10x10 PNGs: at scale 10 and crop 10 the centre view is the image itself."""
    images = rng.integers(0, 256, (7, 10, 10, 3), dtype=np.uint8)
    for index, image in enumerate(images):
        folder = tmp_path / "ab"[index % 2]
        folder.mkdir(exist_ok=True)
        write_image(folder / f"{index}.png", image, "RGB", "PNG")
    return data.get_source(str(tmp_path), validation_fraction=0.0), images


@pytest.mark.parametrize("per_pixel", [False, True])
def test_compute_mean_matches_numpy_in_batches_of_any_size(folder, per_pixel):
    source, images = folder
    mean = data.compute_mean(source, per_pixel=per_pixel, scale=10, crop_size=10, batch_size=3)
    expected = images.mean(axis=0) if per_pixel else images.mean(axis=(0, 1, 2))
    np.testing.assert_allclose(mean, expected, rtol=1e-5)

import dataclasses

import numpy as np
import pytest

from keras_prelu.data import Augmentation

# Runs in the TensorFlow session only: the data pipeline is TensorFlow's.
pytestmark = pytest.mark.backend("tensorflow")


def test_defaults_are_the_papers():
    augmentation = Augmentation()
    assert augmentation.scale_range == (256, 512) and augmentation.crop_size == 224
    assert augmentation.flip and augmentation.pca_std == 0.1
    assert augmentation.mean.shape == (3,) and not augmentation.per_pixel_mean


def test_the_pca_eigenvectors_are_orthonormal():
    vectors = Augmentation().pca_eigenvectors
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=2e-3)


def test_accepts_a_per_pixel_mean_and_keeps_it_read_only():
    augmentation = Augmentation(scale_range=(8, 10), crop_size=8, mean=np.ones((8, 8, 3)))
    assert augmentation.per_pixel_mean
    with pytest.raises(ValueError):
        augmentation.mean[0, 0, 0] = 2.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        augmentation.crop_size = 4


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"scale_range": (512, 256)}, "scale_range"),
        ({"scale_range": (0, 256)}, "scale_range"),
        ({"scale_range": (256,)}, "scale_range"),
        ({"crop_size": 300}, "crop_size"),
        ({"crop_size": 0}, "crop_size"),
        ({"crop_size": 22.5}, "crop_size"),
        ({"flip": "yes"}, "flip"),
        ({"pca_std": -0.1}, "pca_std"),
        ({"pca_std": float("inf")}, "pca_std"),
        ({"pca_std": float("nan")}, "pca_std"),
        ({"mean": (float("nan"),) * 3}, "mean"),
        ({"mean": (0.0, float("inf"), 0.0)}, "mean"),
        ({"mean": "grey"}, "mean"),
        ({"mean": (1.0, 2.0)}, "mean"),
        ({"mean": np.zeros((100, 100, 3))}, "mean"),
        ({"pca_eigenvalues": (1.0, 2.0)}, "pca_eigenvalues"),
        ({"pca_eigenvalues": (1.0, 2.0, float("nan"))}, "pca_eigenvalues"),
        ({"pca_eigenvectors": np.eye(2)}, "pca_eigenvectors"),
    ],
)
def test_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"`{field}`"):
        Augmentation(**kwargs)

"""The centre-view converter on every backend: the window it crops, eagerly and inside a
compiled `predict` (JAX's jit slices only by sizes known when traced)."""

import keras
import numpy as np
import pytest

from keras_prelu.zoo import PReLUNetImageConverter

MEAN = np.array([10.0, 20.0, 30.0], np.float32)


def images_of(height, width, count=2):
    return np.random.default_rng(height * width).uniform(0, 255, (count, height, width, 3))


@pytest.mark.parametrize(("height", "width"), [(40, 32), (32, 45), (32, 32)])
def test_at_the_crop_scale_the_view_is_the_central_window_minus_the_mean(height, width):
    """Scale = crop = the shorter side: nothing is resized; the view is a NumPy slice."""
    converter = PReLUNetImageConverter(evaluation_scale=32, crop_size=32, mean=MEAN)
    images = images_of(height, width).astype("float32")
    top, left = (height - 32) // 2, (width - 32) // 2
    expected = images[:, top : top + 32, left : left + 32] - MEAN
    np.testing.assert_allclose(keras.ops.convert_to_numpy(converter(images)), expected, atol=1e-4)


@pytest.mark.parametrize(("height", "width"), [(50, 41), (37, 90), (36, 36)])
def test_predict_takes_the_same_view_as_a_call(height, width):
    converter = PReLUNetImageConverter(evaluation_scale=36, crop_size=32, mean=MEAN)
    images = keras.Input((None, None, 3))
    model = keras.Model(images, converter(images))
    given = images_of(height, width).astype("float32")
    viewed = model.predict(given, verbose=0)
    assert viewed.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(viewed, keras.ops.convert_to_numpy(converter(given)), atol=1e-4)

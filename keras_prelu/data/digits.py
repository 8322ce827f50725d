"""The bundled default source: scikit-learn's handwritten digits, offline."""

import numpy as np

from keras_prelu.data.names import DIGITS
from keras_prelu.data.source import ListedSource

__all__ = ["DigitsSource"]

# Every fifth image (359 of 1797, about 36 per class) is held out for validation.
_VALIDATION_EVERY = 5


class DigitsSource(ListedSource):
    """The UCI handwritten digits that ship inside scikit-learn (`load_digits`).

    1797 real 8x8 grayscale scans of the digits 0-9 (pixel values 0-16), scaled to
    `uint8` RGB. Every fifth image is in "validation" (359), the others in "train"
    (1438). Nothing is downloaded: the data is part of the scikit-learn wheel.

    `default_augmentation()` keeps the paper's recipe (scale jitter, random crops,
    colour altering, mean subtraction) at sizes fitted to these images
    (`fitted_augmentation`: shorter side s ~ U[32, 40], 32x32 crops, evaluated at
    32, a size that a CPU trains in minutes), without flips: a mirrored digit is
    not the same digit.
    """

    flip = False

    def __init__(self):
        from sklearn.datasets import load_digits

        digits = load_digits()
        pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
        images = np.repeat(pixels[..., np.newaxis], 3, axis=-1)
        is_validation = np.arange(len(images)) % _VALIDATION_EVERY == _VALIDATION_EVERY - 1
        splits = {
            "train": (images[~is_validation], digits.target[~is_validation]),
            "validation": (images[is_validation], digits.target[is_validation]),
        }
        super().__init__(DIGITS, [str(name) for name in digits.target_names], splits)

    def dataset(self, split, *, shuffle=False, seed=None, reshuffle_each_iteration=True):
        examples = self.listed_examples(
            split, shuffle=shuffle, seed=seed, reshuffle_each_iteration=reshuffle_each_iteration
        )
        return examples.map(lambda image, label: {"image": image, "label": label})

    def training_image_statistics(self):
        train_images = self._splits["train"][0]
        sides = np.full(len(train_images), min(train_images.shape[1:3]))
        return sides, train_images.mean(axis=(0, 1, 2))

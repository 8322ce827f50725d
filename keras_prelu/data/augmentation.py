"""The paper's training augmentation, as data (Sec. 3)."""

import dataclasses
import math

import numpy as np

from keras_prelu import paper
from keras_prelu.errors import InvalidValueError

__all__ = [
    "IMAGENET_PCA_EIGENVALUES",
    "IMAGENET_PCA_EIGENVECTORS",
    "IMAGENET_RGB_MEAN",
    "Augmentation",
    "check_mean",
    "fitted_augmentation",
    "is_imagenet_sized",
]

# Per-channel RGB mean of ImageNet 2012 training pixels in [0, 255] (VGG, TF-slim).
IMAGENET_RGB_MEAN = (123.68, 116.78, 103.94)

# AlexNet's PCA of ImageNet RGB pixels in [0, 1], as published with fb.resnet.torch:
# eigenvalues lambda_i and eigenvectors p_i (the columns of the matrix below).
IMAGENET_PCA_EIGENVALUES = (0.2175, 0.0188, 0.0045)
IMAGENET_PCA_EIGENVECTORS = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


@dataclasses.dataclass(frozen=True, eq=False)
class Augmentation:
    """The training augmentation of He et al. 2015, Sec. 3.

    For every image, in this order:

    1. resize so that the shorter side is `s`, `s ~ U[scale_range]`;
    2. take a random `crop_size` x `crop_size` crop (its location drawn per image);
    3. flip it horizontally with probability 0.5 (if `flip`);
    4. add AlexNet's PCA colour noise to every pixel:
       `sum_i alpha_i * lambda_i * p_i`, `alpha_i ~ N(0, pca_std)`, with the
       eigenvalues `lambda_i` (for pixels in [0, 1], so scaled by 255 here) and
       eigenvectors `p_i` of the RGB covariance (if `pca_std > 0`);
    5. subtract `mean`: per channel, shape `(3,)`, or per pixel,
       shape `(crop_size, crop_size, 3)`, in [0, 255] units.

    Steps 1-2 are computed as one crop of the original image, of side
    `crop_size * shorter_side / s`, resized to `crop_size`: the same pixels as
    resizing the whole image first, without resizing pixels that are thrown away,
    and with the crop fused into JPEG decoding.

    Args:
        scale_range: `(min, max)` of the shorter side `s`, in pixels.
        crop_size: side of the square training crop, at most `min(scale_range)`.
        flip: whether to flip half of the images horizontally.
        pca_std: standard deviation of `alpha_i`; 0 disables colour altering.
        mean: the mean subtracted last (see `keras_prelu.data.compute_mean`).
        pca_eigenvalues: `lambda_i`, for RGB pixels in [0, 1].
        pca_eigenvectors: 3x3 matrix whose columns are `p_i`.

    Reference:
        K. He et al., "Delving Deep into Rectifiers", ICCV 2015, Sec. 3;
        A. Krizhevsky et al., "ImageNet Classification with Deep CNNs", 2012, Sec. 4.1.
    """

    scale_range: tuple = paper.SCALE_RANGE
    crop_size: int = paper.CROP_SIZE
    flip: bool = True
    pca_std: float = paper.PCA_STD
    mean: tuple = IMAGENET_RGB_MEAN
    pca_eigenvalues: tuple = IMAGENET_PCA_EIGENVALUES
    pca_eigenvectors: tuple = IMAGENET_PCA_EIGENVECTORS

    def __post_init__(self):
        scale_range = tuple(self.scale_range)
        if (
            len(scale_range) != 2
            or not all(_is_positive_int(s) for s in scale_range)
            or scale_range[0] > scale_range[1]
        ):
            raise InvalidValueError(
                "`scale_range` must be two positive integers (min, max) with "
                f"min <= max. Received: scale_range={self.scale_range}"
            )
        if not _is_positive_int(self.crop_size) or self.crop_size > scale_range[0]:
            raise InvalidValueError(
                "`crop_size` must be a positive integer no larger than the "
                f"smallest scale {scale_range[0]}. Received: crop_size={self.crop_size}"
            )
        if not isinstance(self.flip, bool):
            raise InvalidValueError(f"`flip` must be True or False. Received: flip={self.flip!r}")
        if not (
            isinstance(self.pca_std, (int, float, np.floating, np.integer))
            and not isinstance(self.pca_std, bool)
            and math.isfinite(self.pca_std)
            and self.pca_std >= 0
        ):
            raise InvalidValueError(
                f"`pca_std` must be a finite number >= 0. Received: pca_std={self.pca_std!r}"
            )
        object.__setattr__(self, "scale_range", scale_range)
        object.__setattr__(self, "mean", check_mean(self.mean, self.crop_size))
        object.__setattr__(
            self, "pca_eigenvalues", _as_constant(self.pca_eigenvalues, (3,), "pca_eigenvalues")
        )
        object.__setattr__(
            self,
            "pca_eigenvectors",
            _as_constant(self.pca_eigenvectors, (3, 3), "pca_eigenvectors"),
        )

    @property
    def per_pixel_mean(self):
        """Whether `mean` is a per-pixel mean image rather than a per-channel mean."""
        return self.mean.ndim == 3


def check_mean(mean, crop_size):
    """Returns `mean` as a read-only float32 array of shape (3,) or (crop, crop, 3)."""
    try:
        mean = np.array(mean, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"`mean` must be an array of numbers. Received: mean={mean!r}"
        ) from None
    if mean.shape not in ((3,), (crop_size, crop_size, 3)):
        raise InvalidValueError(
            "`mean` must be a per-channel RGB mean of shape (3,) or a per-pixel mean "
            f"of shape ({crop_size}, {crop_size}, 3) matching the crop. "
            f"Received: mean of shape {mean.shape}"
        )
    non_finite = int(np.size(mean) - np.isfinite(mean).sum())
    if non_finite:
        raise InvalidValueError(
            f"`mean` must hold finite numbers. Received: mean with {non_finite} NaN or "
            f"infinite values (first values {mean.ravel()[:3].tolist()})"
        )
    mean.flags.writeable = False
    return mean


def _as_constant(value, shape, name):
    array = np.array(value, dtype=np.float32)
    if array.shape != shape or not np.isfinite(array).all():
        raise InvalidValueError(
            f"`{name}` must be finite numbers of shape {shape}. Received: {name}={value!r}"
        )
    array.flags.writeable = False
    return array


def _is_positive_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


# Images smaller than the paper's are cropped at their own size, but at least this large
# (the bundled 8x8 digits train at 32x32), with scales from the crop to 1.25 times it.
SMALLEST_FITTED_CROP = 32
SMALL_IMAGE_SCALE_JITTER = 1.25


def is_imagenet_sized(shorter_sides):
    """Whether the median of `shorter_sides` is at least the paper's smallest scale, 256."""
    return float(np.median(shorter_sides)) >= paper.SCALE_RANGE[0]


def fitted_augmentation(shorter_sides, *, mean, flip=True):
    """The paper's augmentation at sizes fitted to images with these shorter sides.

    With `m` the median of `shorter_sides`:

    - `m >= 256` (ImageNet-sized, `is_imagenet_sized`): the paper's scales
      `s ~ U[256, 512]` and 224 crop;
    - otherwise: crop `c = clip(m, 32, 224)` and `s ~ U[c, 1.25 c]`, so that the
      smallest scale's crop covers the shorter side, as the bundled 8x8 digits do
      (`c = 32`, `s ~ U[32, 40]`).

    Args:
        shorter_sides: the shorter side of each training image (or of a sample).
        mean: the per-channel RGB mean subtracted last, in [0, 255] units.
        flip: whether to flip half of the images horizontally.
    """
    if is_imagenet_sized(shorter_sides):
        return Augmentation(flip=flip, mean=mean)
    shorter_side = float(np.median(shorter_sides))
    crop_size = int(min(max(shorter_side, SMALLEST_FITTED_CROP), paper.CROP_SIZE))
    scale_range = (crop_size, round(crop_size * SMALL_IMAGE_SCALE_JITTER))
    return Augmentation(scale_range=scale_range, crop_size=crop_size, flip=flip, mean=mean)

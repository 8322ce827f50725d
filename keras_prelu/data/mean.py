"""The mean image of a training split, computed in one streaming pass."""

import numpy as np

from keras_prelu.data.pipeline import evaluation_dataset
from keras_prelu.errors import InvalidValueError

__all__ = ["compute_mean"]


def compute_mean(
    source, *, split="train", per_pixel=False, scale=None, crop_size=None, batch_size=64
):
    """The mean of the centre crops of `split`, per channel or per pixel.

    `mean = (1 / N) * sum_n x_n` over the N images `x_n` resized to shorter side
    `scale` and centre-cropped to `crop_size` (the evaluation "center" view), summed
    batch by batch in float64: memory does not grow with N. The paper subtracts the
    per-pixel mean (He et al. 2015, Sec. 3).

    Args:
        source: a `Source`.
        split: the split to average.
        per_pixel: whether to return the mean image, `(crop_size, crop_size, 3)`,
            rather than the per-channel RGB mean, `(3,)`.
        scale: the shorter side of the view averaged; defaults to the source's
            augmentation's.
        crop_size: the crop of the view averaged; defaults to the source's
            augmentation's.
        batch_size: images decoded per step.

    Returns:
        A float32 array in [0, 255] units, to pass as `Augmentation(mean=...)`.
    """
    images = evaluation_dataset(
        source,
        batch_size,
        split=split,
        views="center",
        scale=scale,
        crop_size=crop_size,
        mean=(0.0, 0.0, 0.0),
    )
    total, count = 0.0, 0
    for batch, _ in images.as_numpy_iterator():
        total = total + batch.sum(axis=0, dtype=np.float64)
        count += len(batch)
    if not count:
        raise InvalidValueError(f"`split` has no images to average. Received: split={split!r}")
    mean = total / count
    return (mean if per_pixel else mean.mean(axis=(0, 1))).astype(np.float32)

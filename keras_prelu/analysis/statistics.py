"""Paired comparisons over seeds: Student's t interval of the mean difference.

Two models trained with the same seeds share their initial weights (up to
the rule's slope factor) and their data order, so their errors are compared
seed by seed: with `d_i = x_i - y_i` over `n` seeds, mean `d`, standard
deviation `s` (`ddof=1`), the 95% confidence interval of the mean difference is
`d +- t_{0.975, n-1} s / sqrt(n)` (Student's t with `n - 1` degrees of
freedom). The difference is significant at that level when the interval
excludes 0, i.e. when the paired t-test's two-sided p-value is below 0.05.
"""

import dataclasses
import math

import numpy as np
import scipy.stats

from keras_prelu.errors import InvalidValueError

__all__ = ["PairedDifference", "paired_difference"]


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """The mean of paired differences `x_i - y_i` with its confidence interval.

    Attributes:
        mean: the mean difference.
        std: the standard deviation of the differences (`ddof=1`).
        low, high: the confidence interval of the mean difference.
        confidence: its level, e.g. 0.95.
        count: the number of pairs.
        p_value: the two-sided p-value of the paired t-test (mean 0).
        significant: whether the interval excludes 0.
    """

    mean: float
    std: float
    low: float
    high: float
    confidence: float
    count: int
    p_value: float
    significant: bool


def paired_difference(values, reference, confidence=0.95):
    """The mean of `values - reference`, pair by pair, and its t interval.

    Args:
        values: a sequence of length >= 2.
        reference: a sequence of the same length, paired with `values` by
            position (e.g. by seed).
        confidence: the level of the interval, in (0, 1).

    Returns:
        A `PairedDifference`.
    """
    values = np.asarray(values, np.float64)
    reference = np.asarray(reference, np.float64)
    if values.ndim != 1 or values.shape != reference.shape or values.size < 2:
        raise InvalidValueError(
            "Arguments `values` and `reference` must be two sequences of the same length >= 2. "
            f"Received: {values.shape} and {reference.shape}"
        )
    if not 0 < confidence < 1:
        raise InvalidValueError(
            f"Argument `confidence` must be in (0, 1). Received: confidence={confidence!r}"
        )
    differences = values - reference
    count = differences.size
    mean = float(differences.mean())
    std = float(differences.std(ddof=1))
    margin = scipy.stats.t.ppf((1 + confidence) / 2, count - 1) * std / math.sqrt(count)
    if std > 0:
        p_value = float(2 * scipy.stats.t.sf(abs(mean) / (std / math.sqrt(count)), count - 1))
    else:
        p_value = 1.0 if mean == 0 else 0.0
    low, high = mean - margin, mean + margin
    return PairedDifference(
        mean=mean,
        std=std,
        low=low,
        high=high,
        confidence=confidence,
        count=count,
        p_value=p_value,
        significant=bool(low > 0 or high < 0),
    )

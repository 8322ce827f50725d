"""Paired differences against a hand computation with a tabled t quantile."""

import math

import numpy as np
import pytest

from keras_prelu.analysis.statistics import paired_difference

# Runs in the TensorFlow session only: NumPy only: no backend to vary.
pytestmark = pytest.mark.backend("tensorflow")

# Student's t, 97.5% quantile, 4 degrees of freedom (any table of the t distribution).
T_975_DF4 = 2.7764


def test_interval_is_the_mean_difference_plus_minus_t_times_the_standard_error():
    values = [10.2, 11.0, 9.8, 10.5, 10.9]
    reference = [10.0, 10.1, 10.0, 9.9, 10.0]
    result = paired_difference(values, reference)
    differences = np.subtract(values, reference)
    half_width = T_975_DF4 * differences.std(ddof=1) / math.sqrt(5)
    assert result.count == 5 and result.confidence == 0.95
    assert result.mean == pytest.approx(differences.mean())
    assert result.std == pytest.approx(differences.std(ddof=1))
    assert (result.low, result.high) == pytest.approx(
        (differences.mean() - half_width, differences.mean() + half_width), abs=1e-4
    )
    # The p-value is below 0.05 exactly when the 95% interval excludes 0.
    assert result.significant == (result.p_value < 0.05)


def test_a_difference_within_the_noise_is_not_significant():
    result = paired_difference([1.0, -1.0, 2.0, -2.0, 0.5], [0.0] * 5)
    assert result.low < 0 < result.high
    assert not result.significant and result.p_value > 0.5


def test_at_the_interval_edge_the_p_value_is_one_minus_the_confidence():
    # Differences whose mean sits exactly at the 95% half-width from 0.
    deviations = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    mean = T_975_DF4 * deviations.std(ddof=1) / math.sqrt(5)
    result = paired_difference(mean + deviations, np.zeros(5))
    assert result.low == pytest.approx(0.0, abs=1e-3)
    assert result.p_value == pytest.approx(0.05, abs=1e-4)


def test_rejects_unpaired_or_single_values():
    with pytest.raises(ValueError, match="same length >= 2"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="same length >= 2"):
        paired_difference([1.0], [1.0])
    with pytest.raises(ValueError, match="`confidence` must be in"):
        paired_difference([1.0, 2.0], [0.0, 0.0], confidence=95)

"""One rule for each recipe value: `Recipe`, `CaffeSGD` and `SwitchLROnPlateau` agree."""

import pytest

from keras_prelu.training import CaffeSGD
from keras_prelu.training import Recipe
from keras_prelu.training import SwitchLROnPlateau

# (Recipe field, the class that takes it, its argument there, a value both must refuse).
SHARED = [
    ("learning_rate_factor", SwitchLROnPlateau, "factor", 1.5),
    ("patience", SwitchLROnPlateau, "patience", 0),
    ("patience", SwitchLROnPlateau, "patience", True),
    ("min_delta", SwitchLROnPlateau, "min_delta", float("nan")),
    ("min_delta_mode", SwitchLROnPlateau, "min_delta_mode", "percent"),
    ("monitor_mode", SwitchLROnPlateau, "mode", "auto"),
    ("min_learning_rate", SwitchLROnPlateau, "min_learning_rate", 0.0),
    ("weight_decay", CaffeSGD, "weight_decay", -0.0005),
    ("decay_pattern", CaffeSGD, "decay_pattern", "(kernel"),
]


def refusal(build, **kwargs):
    with pytest.raises(ValueError) as error:
        build(**kwargs)
    return str(error.value)


@pytest.mark.parametrize("field, cls, argument, value", SHARED)
def test_a_value_is_refused_in_the_same_words_everywhere(field, cls, argument, value):
    in_recipe = refusal(Recipe, **{field: value})
    as_argument = refusal(cls, **{argument: value})
    accepted = in_recipe.removeprefix(f"Recipe field `{field}` must be ").split(". Received")[0]
    assert (
        as_argument == f"Argument `{argument}` must be {accepted}. Received: {argument}={value!r}"
    )
    assert in_recipe.endswith(f"Received: {field}={value!r}")

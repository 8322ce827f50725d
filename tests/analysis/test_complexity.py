"""`architecture_complexity` and `keras-prelu info`: shapes alone against built models."""

import time

import pytest

from keras_prelu.analysis import architecture_complexity
from keras_prelu.analysis import layer_complexity
from keras_prelu.zoo import get_model
from keras_prelu.zoo import list_models
from tests.helpers.readme import readme_zoo_table

# Small builds of every architecture: (name, image size, activation, width multiplier).
SMALL_BUILDS = [
    ("model_14", 32, "prelu", 1.0),
    ("model_14", 40, "prelu_shared", 0.5),
    ("model_30", 24, "relu", 0.25),
    ("vgg19", 32, "prelu", 0.125),
    ("model_a", 40, "leaky_relu", 0.125),
    ("model_b", 17, "prelu", 0.125),
    ("model_c", 33, "prelu_shared", 0.0625),
]


def rows(layers):
    return [(r.name, r.output_shape, r.params, r.multiply_adds) for r in layers]


@pytest.mark.parametrize("name, size, activation, width", SMALL_BUILDS)
def test_shapes_alone_give_the_built_models_rows(name, size, activation, width):
    kwargs = dict(activation=activation, fc_units=(8, 6), width_multiplier=width)
    model = get_model(name, input_shape=(size, size, 3), num_classes=5, **kwargs)
    counted = architecture_complexity(name, size, num_classes=5, **kwargs)
    assert rows(counted) == rows(layer_complexity(model))
    assert sum(row.params for row in counted) == model.count_params()


def test_the_paper_models_match_the_readme_table_in_well_under_a_second():
    table = readme_zoo_table(list_models())
    assert sorted(table) == sorted(list_models())
    for name, cells in table.items():
        start = time.perf_counter()
        counted = architecture_complexity(name)
        assert time.perf_counter() - start < 0.5
        params, madds = (int(cell.replace(",", "")) for cell in cells[3:5])
        assert sum(row.params for row in counted) == params
        assert sum(row.multiply_adds for row in counted) == madds


def test_arguments_are_checked_where_they_enter():
    with pytest.raises(ValueError, match=r"must be at least 17 for model_14\. Received: image_s"):
        architecture_complexity("model_14", 16)
    with pytest.raises(ValueError, match="Argument `name` must be one of"):
        architecture_complexity("model_z")
    with pytest.raises(ValueError, match="Argument `activation` must be one of"):
        architecture_complexity("model_14", activation="tanh")

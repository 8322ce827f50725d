import dataclasses

import pytest

from keras_prelu.training import CaffeSGD
from keras_prelu.training import Recipe
from keras_prelu.training import SwitchLROnPlateau


def test_defaults_are_the_papers():
    # He et al. 2015, Sec. 3.
    recipe = Recipe()
    assert recipe.momentum == 0.9
    assert recipe.weight_decay == 0.0005
    assert recipe.batch_size == 128
    assert recipe.learning_rate == 1e-2
    assert recipe.learning_rate * recipe.learning_rate_factor**2 == (
        pytest.approx(recipe.min_learning_rate)
    )
    assert recipe.min_learning_rate == 1e-4
    assert recipe.dropout == 0.5
    assert recipe.epochs == 80


def test_dict_and_json_round_trip(tmp_path):
    recipe = Recipe(learning_rate=0.05, patience=3, seed=7, jit_compile=False)
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    recipe.save(tmp_path / "recipe.json")
    assert Recipe.load(tmp_path / "recipe.json") == recipe


def test_a_damaged_recipe_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "recipe.json"
    Recipe().save(path)
    path.write_text(path.read_text().replace('"epochs": 80', '"epochs": -80'))
    with pytest.raises(ValueError, match=f"{path} does not hold a valid recipe: .*`epochs`"):
        Recipe.load(path)
    path.write_text(path.read_text()[:30])
    with pytest.raises(ValueError, match=f"{path} is not valid JSON"):
        Recipe.load(path)


def test_from_dict_fills_defaults_and_rejects_unknown_fields():
    assert Recipe.from_dict({"epochs": 3}) == Recipe(epochs=3)
    with pytest.raises(ValueError, match="Unknown recipe fields.*'epoch'"):
        Recipe.from_dict({"epoch": 3})


@pytest.mark.parametrize(
    "field, value",
    [
        ("learning_rate", 0.0),
        ("learning_rate", "0.01"),
        ("learning_rate", float("inf")),
        ("learning_rate", float("nan")),
        ("learning_rate_factor", 1.0),
        ("min_learning_rate", -1e-4),
        ("min_learning_rate", 0.1),  # above learning_rate
        ("patience", 0),
        ("patience", 2.5),
        ("min_delta", -0.1),
        ("min_delta_mode", "percent"),
        ("monitor", ""),
        ("monitor_mode", "auto"),
        ("momentum", 1.5),
        ("weight_decay", -0.0005),
        ("weight_decay", float("inf")),
        ("min_delta", float("nan")),
        ("momentum", float("nan")),
        ("decay_pattern", None),
        ("decay_pattern", "(kernel"),
        ("batch_size", 0),
        ("batch_size", True),
        ("epochs", 80.0),
        ("dropout", 1.0),
        ("strategy", "tpu"),
        ("mixed_precision", "yes"),
        ("jit_compile", "xla"),
        ("seed", 1.5),
        ("seed", -1),
        ("seed", 2**31),
    ],
)
def test_invalid_field_raises_naming_it(field, value):
    with pytest.raises(ValueError, match=f"`{field}`"):
        Recipe(**{field: value})
    with pytest.raises(ValueError, match=f"`{field}`"):
        dataclasses.replace(Recipe(), **{field: value})


def test_optimizer_and_switch_carry_the_recipe():
    recipe = Recipe(
        learning_rate=0.1,
        momentum=0.8,
        weight_decay=0.001,
        patience=2,
        min_delta=0.01,
        min_delta_mode="relative",
        monitor="val_loss",
        learning_rate_factor=0.5,
        min_learning_rate=0.01,
    )
    optimizer = recipe.optimizer()
    assert isinstance(optimizer, CaffeSGD)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    assert (optimizer.momentum, optimizer.weight_decay) == (0.8, 0.001)
    switch = recipe.learning_rate_switch()
    assert isinstance(switch, SwitchLROnPlateau)
    assert (switch.monitor, switch.patience, switch.factor) == (
        "val_loss",
        2,
        0.5,
    )
    assert (switch.min_delta, switch.min_delta_mode) == (0.01, "relative")
    assert switch.min_learning_rate == 0.01

"""One error hierarchy: keras-prelu's errors, one short line each, and bugs' tracebacks."""

import ast
import dataclasses
import logging
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_prelu
from keras_prelu import cli
from keras_prelu import data
from keras_prelu import errors
from keras_prelu import zoo
from keras_prelu.cli import info as info_verb
from keras_prelu.saving import atomic
from keras_prelu.saving import run_folder
from keras_prelu.training import BUNDLED_RECIPE
from keras_prelu.training import fit

# The longest message a user reads for a mistake.
MAX_MESSAGE = 500
PACKAGE = Path(keras_prelu.__file__).parent
pytestmark = pytest.mark.backend("tensorflow")


def test_the_package_raises_no_bare_value_or_type_error():
    """A bare `raise ValueError(...)` would print a traceback on the command line."""
    bare = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", None)
                if name in ("ValueError", "TypeError"):
                    bare.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not bare


@pytest.mark.parametrize(
    "error_class, builtin",
    [
        (errors.InvalidValueError, ValueError),
        (errors.InvalidTypeError, TypeError),
        (errors.DataError, ValueError),
        (errors.MissingDependencyError, ImportError),
        (run_folder.RunFolderError, ValueError),
        (atomic.SavedFileError, ValueError),
        (keras_prelu.training.NonFiniteError, FloatingPointError),
    ],
)
def test_each_error_derives_from_the_base_and_keeps_its_builtin(error_class, builtin):
    assert issubclass(error_class, errors.KerasPReLUError) and issubclass(error_class, builtin)


@pytest.mark.parametrize(
    "value",
    [
        np.zeros((1000, 32, 32, 3), np.uint8),
        (np.zeros((5000,)), np.arange(5000)),
        [np.ones((3, 3))] * 1000,
        {"kernel": np.ones((512, 512)), "bias": np.ones(512)},
        "x" * 10_000,
    ],
)
def test_a_summary_names_shapes_and_counts_never_values(value):
    text = errors.summarize(value)
    assert (
        len(text) <= 160
        and "1." not in text
        and "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" not in text[:20]
    )


def test_a_summary_of_an_array_gives_its_type_shape_and_dtype():
    assert errors.summarize(np.zeros((2, 3), np.uint8)) == "ndarray of shape (2, 3) and dtype uint8"
    assert errors.summarize([1, 2, 3, 4, 5]) == "list of 5 items [1, 2, 3, 4, ...]"


def small_model():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=4)(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


IMAGES = np.random.default_rng(0).integers(0, 256, (80, 12, 12, 3), dtype=np.uint8)
LABELS = np.arange(80) % 3
RECIPE = dataclasses.replace(BUNDLED_RECIPE, epochs=1, batch_size=16)


@pytest.mark.parametrize(
    "data_argument, validation_data, match",
    [
        ((IMAGES, LABELS), None, "`validation_data` is required"),
        ((IMAGES, LABELS, LABELS), (IMAGES, LABELS), "must be a pair \\(x, y\\)"),
        (([IMAGES[0], IMAGES[1, :5]], LABELS[:2]), (IMAGES, LABELS), "images of one size"),
        ((IMAGES, LABELS), (IMAGES,), "`validation_data` must be a pair"),
        ((IMAGES, LABELS[:10]), (IMAGES, LABELS), "as many labels as images"),
        (IMAGES, None, "Received: name=ndarray of shape \\(80, 12, 12, 3\\)"),
    ],
)
def test_arrays_given_wrong_to_fit_get_one_short_line(
    tmp_path, data_argument, validation_data, match
):
    with pytest.raises(errors.InvalidValueError, match=match) as caught:
        fit(
            small_model(),
            data_argument,
            validation_data=validation_data,
            recipe=RECIPE,
            run_dir=tmp_path / "run",
        )
    message = str(caught.value)
    assert len(message) < MAX_MESSAGE and "\n" not in message and "[[" not in message
    assert not (tmp_path / "run").exists()


def test_a_ragged_list_of_images_in_an_array_source_gets_one_short_line():
    with pytest.raises(errors.DataError, match="`train` must hold images of one size") as caught:
        data.ArraySource(([IMAGES[0], IMAGES[1, :5]] * 500, LABELS[:2]), (IMAGES, LABELS))
    assert len(str(caught.value)) < MAX_MESSAGE


def test_another_models_weights_get_one_short_line(tmp_path):
    keras.utils.set_random_seed(0)
    model_a = zoo.get_model("model_a", num_classes=4, input_shape=(32, 32, 3))
    model_a.save_weights(tmp_path / "a.weights.h5")
    with pytest.raises(errors.InvalidValueError, match="a.weights.h5 does not fit") as caught:
        zoo.get_model(
            "model_b", num_classes=4, input_shape=(32, 32, 3), weights=tmp_path / "a.weights.h5"
        )
    assert len(str(caught.value)) < MAX_MESSAGE and "value=" not in str(caught.value)


def raising(error):
    def describe(*args, **kwargs):
        raise error

    return describe


def test_the_command_line_prints_one_line_for_keras_prelus_errors(monkeypatch, caplog):
    monkeypatch.setattr(
        info_verb,
        "architecture_complexity",
        raising(errors.InvalidValueError("Argument `x`: bad.")),
    )
    with pytest.raises(SystemExit, match="^keras-prelu info: error: Argument `x`: bad.$"):
        cli.main(["info"])
    assert "Traceback" not in caplog.text


def test_the_command_line_prints_one_line_for_the_environments_errors(monkeypatch):
    monkeypatch.setattr(
        info_verb, "architecture_complexity", raising(OSError(28, "No space left on device"))
    )
    with pytest.raises(SystemExit, match="error: .*No space left on device"):
        cli.main(["info"])


@pytest.mark.parametrize("bug", [ValueError("a bug below"), KeyError("x"), RuntimeError("x")])
def test_a_bug_keeps_its_traceback_on_the_command_line(monkeypatch, bug):
    monkeypatch.setattr(info_verb, "architecture_complexity", raising(bug))
    with pytest.raises(type(bug)) as caught:
        cli.main(["info"])
    assert caught.value is bug


def test_verbose_logs_the_traceback_of_a_one_line_error(monkeypatch, caplog):
    monkeypatch.setattr(
        info_verb,
        "architecture_complexity",
        raising(errors.InvalidValueError("Argument `x`: bad.")),
    )
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit):
        cli.main(["info", "--verbose"])
    assert "Traceback" in caplog.text and "in describe" in caplog.text

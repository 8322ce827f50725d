import json
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_prelu
from keras_prelu.evaluation import evaluate
from keras_prelu.saving import run_folder
from keras_prelu.zoo import Model14
from keras_prelu.zoo import ModelA
from tests.helpers.processes import python_env
from tests.helpers.processes import run_python

# Runs in the TensorFlow session only: no backend to vary.
pytestmark = pytest.mark.backend("tensorflow")

SMALL = dict(fc_units=(16, 16), num_classes=4, seed=0)
MEAN = np.array([10.0, 20.0, 30.0], np.float32)


def images(shape=(3, 32, 32, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=shape).astype("float32")


def test_a_model_saved_as_a_preset_predicts_the_same(tmp_path):
    model = Model14(input_shape=(32, 32, 3), **SMALL)
    folder = keras_prelu.save_preset(model, tmp_path / "preset", mean=MEAN, class_names="abcd")
    assert sorted(path.name for path in folder.iterdir()) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    loaded = keras_prelu.from_preset(folder)
    assert type(loaded) is Model14
    np.testing.assert_array_equal(
        loaded.predict(images(), verbose=0), model.predict(images(), verbose=0)
    )
    metadata = keras_prelu.load_preset_metadata(folder)
    assert metadata.class_names == ("a", "b", "c", "d")
    np.testing.assert_array_equal(metadata.mean, MEAN)
    assert metadata.parameter_count == model.count_params()
    assert metadata.keras_version == keras.__version__
    # keras-hub's config.json: the serialized model, readable by Keras alone.
    config = json.loads((folder / "config.json").read_text())
    assert config["registered_name"] == "keras_prelu>Model14"


def test_builder_arguments_override_and_the_class_is_checked(tmp_path):
    model = Model14(input_shape=(32, 32, 3), **SMALL)
    folder = keras_prelu.save_preset(model, tmp_path / "preset", mean=MEAN)
    any_size = Model14.from_preset(folder, input_shape=(None, None, 3))
    assert tuple(any_size.input.shape[1:]) == (None, None, 3)
    np.testing.assert_allclose(
        any_size.predict(images(), verbose=0), model.predict(images(), verbose=0), rtol=1e-6
    )
    headless = Model14.from_preset(folder, include_top=False)
    np.testing.assert_array_equal(
        headless.get_layer("act3_6").get_weights()[0], model.get_layer("act3_6").get_weights()[0]
    )
    fresh = Model14.from_preset(folder, load_weights=False, seed=5)
    assert not np.array_equal(fresh.get_layer("conv1").get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="holds a Model14, not a ModelA"):
        ModelA.from_preset(folder)


def test_any_keras_model_is_a_preset(tmp_path):
    base = Model14(include_top=False, input_shape=(None, None, 3), seed=0)
    inputs = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(pooled))
    folder = keras_prelu.save_preset(model, tmp_path / "preset", mean=0)
    np.testing.assert_array_equal(
        keras_prelu.from_preset(folder).predict(images(), verbose=0),
        model.predict(images(), verbose=0),
    )
    with pytest.raises(ValueError, match="apply to the zoo's models"):
        keras_prelu.from_preset(folder, include_top=False)


def test_errors_name_the_folder_and_what_is_wrong(tmp_path):
    model = Model14(input_shape=(32, 32, 3), **SMALL)
    with pytest.raises(ValueError, match="lacks config.json, model.weights.h5, metadata.json"):
        keras_prelu.from_preset(tmp_path)
    folder = keras_prelu.save_preset(model, tmp_path / "preset", mean=MEAN)
    with pytest.raises(ValueError, match="exists"):
        keras_prelu.save_preset(model, folder, mean=MEAN)
    keras_prelu.save_preset(model, folder, mean=MEAN, overwrite=True)
    with pytest.raises(ValueError, match="4 classes"):
        keras_prelu.save_preset(model, tmp_path / "other", mean=MEAN, class_names=["a"])
    with pytest.raises(ValueError, match="finite"):
        keras_prelu.save_preset(model, tmp_path / "other", mean=[0, np.nan, 0])
    (folder / "metadata.json").write_text("{not json")
    with pytest.raises(ValueError, match="metadata.json cannot be read"):
        keras_prelu.load_preset_metadata(folder)


@pytest.mark.slow
def test_a_run_becomes_a_preset_with_its_preprocessing_and_results(trained_run, tmp_path):
    """The command line writes a preset of a run; in a fresh process under another working
    directory, it loads with `import keras_prelu` alone and predicts what the run's model
    does, and evaluation from the preset equals evaluation from the run."""
    preset = tmp_path / "shared" / "model_14-digits"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_prelu.cli",
            "export",
            str(trained_run),
            str(preset),
            "--format",
            "preset",
        ],
        env=python_env(),
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    run = run_folder.RunFolder(trained_run)
    metadata = keras_prelu.load_preset_metadata(preset)
    assert metadata.recipe == run.read_recipe()
    assert metadata.results == run.read_evaluation()
    assert metadata.class_names == tuple(str(digit) for digit in range(10))
    assert (metadata.evaluation_scale, metadata.crop_size, metadata.flip) == (32, 32, False)
    assert metadata.data == "digits"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    printed = run_python(
        """
        import sys
        import keras, numpy as np
        import keras_prelu
        preset, run = sys.argv[1:]
        x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
        a = keras_prelu.from_preset(preset).predict(x, verbose=0)
        b = keras.saving.load_model(run + "/model.keras").predict(x, verbose=0)
        print(float(np.abs(a - b).max()))
        """,
        preset,
        trained_run,
        cwd=elsewhere,
    )
    assert float(printed.strip().splitlines()[-1]) == 0.0
    from_preset, from_run = evaluate(preset), evaluate(trained_run)
    np.testing.assert_array_equal(from_preset.scores, from_run.scores)

"""A user's journeys between the parts, each in a fresh process that imports only
`keras_prelu` and its public API, from a working directory other than the run's."""

import json

import pytest

from keras_prelu.saving import run_folder
from tests.helpers.processes import Child
from tests.helpers.processes import keras_prelu_command
from tests.helpers.processes import python_env
from tests.helpers.processes import run_python

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")


@pytest.mark.parametrize("backend", ["jax"])
def test_import_registers_everything_on_other_backends(backend):
    """keras-hub, which the zoo's family builds on, imports TensorFlow where it is installed."""
    printed = run_python(
        """
        import keras
        import keras_prelu
        names = ["PReLU", "SpatialPyramidPooling", "Dropout", "PReLUHeNormal",
                 "PReLUNetBackbone", "PReLUNetImageClassifier",
                 "PReLUNetImageClassifierPreprocessor", "PReLUNetImageConverter", "CaffeSGD",
                 "SparseTopKError"]
        missing = [n for n in names if keras.saving.get_registered_object("keras_prelu>" + n)
                   is None]
        print(missing, keras.backend.backend())
        """,
        backend=backend,
    )
    assert printed.split() == ["[]", backend]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_every_file_a_run_leaves_loads_in_safe_mode(trained_run, tmp_path, backend):
    """The run's model (with its CaffeSGD optimizer and metrics), a `.keras` export and a
    preset load with `import keras_prelu` alone, safe mode on, on each backend."""
    for fmt, output in (("keras", tmp_path / "serving.keras"), ("preset", tmp_path / "preset")):
        child = Child(
            [*keras_prelu_command(), "export", str(trained_run), str(output), "--format", fmt],
            cwd=tmp_path,
        )
        assert child.finish(timeout=300) == 0, child.stderr[-4000:]
    printed = run_python(
        """
        import sys
        import keras, numpy as np
        import keras_prelu
        run, serving, preset = sys.argv[1:]
        model = keras.saving.load_model(run + "/model.keras", safe_mode=True)
        assert type(model).__name__ == "PReLUNetImageClassifier", type(model)
        assert type(model.optimizer).__name__ == "CaffeSGD", type(model.optimizer)
        served = keras.saving.load_model(serving, safe_mode=True)
        shared = keras_prelu.from_preset(preset)
        x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
        mean = keras_prelu.load_preset_metadata(preset).mean.reshape(-1, 3).mean(0)
        a = model.predict(x - mean, verbose=0)
        # 32 x 32 images at the digits' scale and crop of 32: the centre view is the image.
        print(float(np.abs(served.predict(x, verbose=0) - a).max()),
              float(np.abs(shared.predict(x, verbose=0) - a).max()))
        """,
        trained_run,
        tmp_path / "serving.keras",
        tmp_path / "preset",
        backend=backend,
        cwd=tmp_path,
    )
    served_difference, preset_difference = map(float, printed.split()[-2:])
    assert served_difference < 1e-5 and preset_difference < 1e-5


@pytest.mark.slow
def test_train_then_load_evaluate_export_and_share_from_elsewhere(trained_run, tmp_path):
    """Train with the command line (the fixture), close Python; then, elsewhere: load,
    evaluate, export and share with `import keras_prelu` alone, and the command line."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    printed = run_python(
        """
        import json, sys
        import keras, numpy as np, tensorflow as tf
        import keras_prelu
        from keras_prelu import export
        from keras_prelu.evaluation import evaluate
        run = sys.argv[1]
        result = evaluate(run)
        export.export_saved_model(run, "saved")
        keras_prelu.save_preset(run, "preset")
        model = keras.saving.load_model(run + "/model.keras")
        x = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
        mean = keras_prelu.load_preset_metadata("preset").mean.reshape(-1, 3).mean(0)
        loaded = tf.saved_model.load("saved")  # kept: its functions use its variables
        served = loaded.serve(x)["probabilities"].numpy()
        shared = keras_prelu.from_preset("preset").predict(x, verbose=0)  # the view is x
        truth = model.predict(x - mean, verbose=0)
        print(json.dumps({"top1_error": result.top1_error,
                          "served": float(np.abs(served - truth).max()),
                          "shared": float(np.abs(shared - truth).max())}))
        """,
        trained_run,
        cwd=elsewhere,
        timeout=300,
    )
    measured = json.loads(printed.strip().splitlines()[-1])
    recorded = run_folder.RunFolder(trained_run).read_evaluation()
    # The centre-crop evaluation of `evaluate` is the one `fit` ran at the end.
    assert measured["top1_error"] == pytest.approx(recorded["top1_error"], abs=1e-6)
    assert measured["served"] < 1e-5 and measured["shared"] < 1e-5

    for argv in (
        ["evaluate", str(trained_run), "--views", "center", "--json", "results.json"],
        ["export", str(trained_run), "exported.onnx", "--format", "onnx"],
    ):
        child = Child([*keras_prelu_command(), *argv], env=python_env(), cwd=elsewhere)
        assert child.finish(timeout=300) == 0, child.stderr[-4000:]
    (table,) = json.loads((elsewhere / "results.json").read_text())
    assert table["top1_error"] == pytest.approx(recorded["top1_error"], abs=1e-6)
    assert (elsewhere / "exported.onnx").stat().st_size > 0

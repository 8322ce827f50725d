import io
import json

import keras
import numpy as np
import pytest

from keras_prelu import cli
from keras_prelu.saving import run_folder
from keras_prelu.zoo import Model14
from tests.helpers.run_folders import write_run_folder

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")


@pytest.fixture
def run_dir(tmp_path):
    model = Model14(input_shape=(32, 32, 3), fc_units=(32, 32), num_classes=10, seed=0)
    return write_run_folder(tmp_path / "run", model, mean=[10.0, 20.0, 30.0], flip=True)


def run(argv):
    out = io.StringIO()
    cli.main(argv, out=out)
    return out.getvalue()


def test_evaluate_prints_the_table_and_writes_json(run_dir, tmp_path):
    printed = run(
        [
            "evaluate",
            str(run_dir),
            "--views",
            "center",
            "ten",
            "--json",
            str(tmp_path / "results.json"),
        ]
    )
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [row["views"] for row in saved] == ["center", "ten"]
    lines = printed.splitlines()
    assert lines[0].split()[:3] == ["model", "views", "scales"]
    assert lines[2].split()[:4] == [
        run_dir.name,
        "centre",
        "32",
        f"{100 * saved[0]['top1_error']:.2f}",
    ]
    assert lines[3].split()[1] == "10-view"
    assert all(row["num_images"] == 359 for row in saved)


def test_export_keras_subtracts_the_runs_mean(run_dir, tmp_path):
    output = tmp_path / "serving.keras"
    run(["export", str(run_dir), str(output), "--format", "keras"])
    served = keras.saving.load_model(output)
    model = run_folder.RunFolder(run_dir).load_model()
    images = np.random.default_rng(0).uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        served(images), model(images - [10.0, 20.0, 30.0]), rtol=1e-5, atol=1e-7
    )


def test_export_errors_without_a_model(tmp_path):
    with pytest.raises(SystemExit, match="keras-prelu export: error"):
        run(["export", str(tmp_path), str(tmp_path / "out")])

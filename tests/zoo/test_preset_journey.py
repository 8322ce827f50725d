"""A user's journey: train with the command line, export a preset, and load it in a fresh
process with keras-hub's generic `ImageClassifier.from_preset`, on every backend."""

import json

import numpy as np
import pytest

from keras_prelu import data
from keras_prelu.evaluation import evaluate
from tests.helpers.processes import Child
from tests.helpers.processes import keras_prelu_command
from tests.helpers.processes import run_python

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")

# Raw images of another size than the run's 32 x 32 digits: the preset's converter takes
# the centre view itself. Ten labels, one per class of the digits model.
IMAGES = np.random.default_rng(0).integers(0, 256, (10, 45, 38, 3), dtype=np.uint8)
LABELS = np.arange(10)

PREDICT = """
import json, sys
import numpy as np
import keras_hub
import keras_prelu
preset, images = sys.argv[1:]
classifier = keras_hub.models.ImageClassifier.from_preset(preset)
assert isinstance(classifier, keras_hub.models.ImageClassifier), type(classifier)
assert isinstance(classifier.backbone, keras_hub.models.Backbone), type(classifier.backbone)
scores = classifier.predict(np.load(images), verbose=0)
print(json.dumps(np.asarray(scores, "float64").tolist()))
"""


@pytest.mark.slow
def test_a_trained_run_exported_as_a_preset_predicts_its_evaluation_on_every_backend(
    trained_run, tmp_path
):
    preset = tmp_path / "shared" / "model_14-digits"
    child = Child(
        [*keras_prelu_command(), "export", str(trained_run), str(preset), "--format", "preset"],
        cwd=tmp_path,
    )
    assert child.finish(timeout=300) == 0, child.stderr[-4000:]
    source = data.ArraySource((IMAGES, LABELS), (IMAGES, LABELS))
    expected = evaluate(str(trained_run), source, views="center").scores
    np.save(tmp_path / "images.npy", IMAGES)
    for backend in ("tensorflow", "jax", "torch"):
        printed = run_python(
            PREDICT, preset, tmp_path / "images.npy", backend=backend, timeout=300, cwd=tmp_path
        )
        scores = np.array(json.loads(printed.strip().splitlines()[-1]))
        np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5, err_msg=backend)

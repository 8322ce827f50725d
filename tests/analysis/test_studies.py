"""The studies of `keras-prelu reproduce`, at smoke sizes, against independent truths."""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from keras_prelu import cli
from keras_prelu import data
from keras_prelu.analysis import studies
from keras_prelu.analysis.studies import activations as activations_study
from keras_prelu.evaluation import evaluate
from keras_prelu.saving.run_folder import RunFolder
from keras_prelu.zoo import get_model

# Runs in the TensorFlow session only: the studies train through the TensorFlow
# data pipeline, and once is enough for CI.
pytestmark = pytest.mark.backend("tensorflow")

SMOKE_DATA = "digits[:64]"
SMOKE_ACTIVATIONS = ("relu", "prelu")
SMOKE_SEEDS = (0, 1)
MODEL_14_LAYERS = (
    ["conv1"] + [f"conv2_{i}" for i in range(1, 5)] + [f"conv3_{i}" for i in range(1, 7)]
) + ["fc1", "fc2"]
INIT_SMOKE = studies.InitConfig(
    data=SMOKE_DATA,
    scale_range=(32, 36),
    crop_size=32,
    models={"model_b": 0.05, "model_30": 0.05},
    epochs=1,
    fc_units=(8, 8),
    probe_batch=8,
    probe_every=1,
)
ACTIVATIONS_SMOKE = studies.ActivationsConfig(
    data=SMOKE_DATA, activations=SMOKE_ACTIVATIONS, seeds=SMOKE_SEEDS, fc_units=(8, 8), epochs=1
)


def written(out_dir, name):
    return json.loads((Path(out_dir) / f"{name}.json").read_text())


@pytest.mark.slow
def test_init_study_smoke(tmp_path):
    result = studies.init_study(INIT_SMOKE, out_dir=tmp_path / "out", runs_dir=tmp_path / "runs")
    for name in ("init.png", "init_gradients.png", "init_signal.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000
    # What `init.json` says of each run is what its run folder logged.
    runs = written(tmp_path / "out", "init")["runs"]
    assert {(run["model"], run["initializer"]) for run in runs} == {
        (model, init) for model in ("model_b", "model_30") for init in ("he", "xavier")
    }
    for run in runs:
        folder = studies.initialization.run_dir(
            tmp_path / "runs", run["model"], run["initializer"], 0
        )
        log = RunFolder(folder).history()
        assert run["val_top1_error"] == pytest.approx(
            [100 * e for e in log["val_top1_error"]], abs=0.01
        )
        # 64 images, batch 32: steps 1 and 2, and the initial weights (step 0).
        assert [record["step"] for record in run["gradients"]] == [0, 1, 2]
    assert [run["depth"] for run in runs if run["initializer"] == "he"] == [22, 30]

    # The first gradient norm is that of the model `fit` started from.
    he_30 = result.run("model_30", "he", 0)
    source = data.get_source(SMOKE_DATA)
    augmentation = dataclasses.replace(
        source.default_augmentation(), scale_range=(32, 36), crop_size=32
    )
    keras.utils.set_random_seed(0)
    images, labels = next(iter(data.training_dataset(source, 8, augmentation=augmentation, seed=0)))
    model = get_model(
        "model_30",
        input_shape=(32, 32, 3),
        num_classes=10,
        activation="relu",
        initializer="he",
        fc_initializer="paper",
        fc_units=(8, 8),
        width_multiplier=0.05,
        seed=0,
    )
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(labels, model(images, training=False))
        loss = tf.reduce_mean(loss)
    gradient = tape.gradient(loss, model.get_layer("conv1").kernel.value)
    assert he_30.gradients[0].loss == pytest.approx(float(loss), rel=1e-5)
    assert he_30.gradients[0].norms["conv1"] == pytest.approx(float(tf.norm(gradient)), rel=1e-4)
    # Eqn. 10: Xavier's rule halves the forward variance at every rectified layer,
    # He's keeps it; over the 30-layer model's depth that is orders of magnitude.
    xavier_30 = result.run("model_30", "xavier", 0)
    he_top, xavier_top = he_30.signal[-1].forward_variance, xavier_30.signal[-1].forward_variance
    assert xavier_top < 1e-6 * he_top


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The activations study on two rectifiers and two seeds, one epoch each."""
    out = tmp_path_factory.mktemp("studies")
    runs = tmp_path_factory.mktemp("runs")
    return out, runs, studies.activation_study(ACTIVATIONS_SMOKE, out_dir=out, runs_dir=runs)


@pytest.mark.slow
def test_activation_study_smoke(trained):
    out, runs, result = trained
    assert (out / "activations.png").stat().st_size > 1000
    # What `activations.json` says of each run is its model tested again, centre crop.
    record = written(out, "activations")
    assert [(run["activation"], run["seed"]) for run in record["runs"]] == [
        (activation, seed) for activation in SMOKE_ACTIVATIONS for seed in SMOKE_SEEDS
    ]
    for run in record["runs"]:
        tested = evaluate(activations_study.run_dir(runs, run["activation"], run["seed"]))
        assert run["top1_error"] == pytest.approx(100 * tested.top1_error, abs=0.01)
        assert run["learning_rate"] == pytest.approx([0.01])
        assert not run["stopped_by_switch"]
    top1 = {
        activation: np.array(
            [run["top1_error"] for run in record["runs"] if run["activation"] == activation]
        )
        for activation in SMOKE_ACTIVATIONS
    }
    relu, prelu = record["summaries"]
    assert [relu["activation"], prelu["activation"]] == list(SMOKE_ACTIVATIONS)
    assert relu["top1_vs_reference"] is None
    assert prelu["top1_mean"] == pytest.approx(top1["prelu"].mean())
    assert prelu["top1_std"] == pytest.approx(top1["prelu"].std(ddof=1))
    # The paired difference and its interval, from scipy's paired t-test.
    differences = top1["prelu"] - top1["relu"]
    test = scipy.stats.ttest_rel(top1["prelu"], top1["relu"])
    interval = test.confidence_interval(0.95)
    paired = prelu["top1_vs_reference"]
    assert paired["mean"] == pytest.approx(differences.mean())
    assert (paired["low"], paired["high"]) == pytest.approx((interval.low, interval.high))
    # The typed result is the one written.
    assert result.summaries[1].top1_vs_reference.mean == pytest.approx(paired["mean"])
    assert tuple(prelu["paper"]) == (32.64, 12.75)


@pytest.mark.slow
def test_slope_study_smoke_through_the_cli(trained, capsys):
    out, runs, _ = trained
    arguments = ["reproduce", "slopes", "--out-dir", str(out), "--runs-dir", str(runs)]
    arguments += ["--data", SMOKE_DATA, "--activations", *SMOKE_ACTIVATIONS]
    arguments += ["--seeds", *map(str, SMOKE_SEEDS), "--epochs", "1", "--fc-units", "8", "8"]
    assert cli.main(arguments) == 0
    assert "conv1 largest in" in capsys.readouterr().out
    result = written(out, "slopes")
    for name in ("slopes.png", "mean_responses.png"):
        assert (out / name).stat().st_size > 1000
    # The slopes are those of the saved models, named as in Table 1.
    model = RunFolder(activations_study.run_dir(runs, "prelu", 1)).load_model()
    rows = {r["layer"]: r for r in result["slopes"] if (r["activation"], r["seed"]) == ("prelu", 1)}
    assert list(rows) == MODEL_14_LAYERS
    alpha = keras.ops.convert_to_numpy(model.get_layer("act2_3").alpha)
    assert rows["conv2_3"]["mean"] == pytest.approx(float(alpha.mean()))
    assert rows["conv2_3"]["count"] == 128
    assert {r["activation"] for r in result["slopes"]} == {"prelu"}
    # ReLU outputs are never negative: their mean response is >= 0 everywhere.
    relu = [r for r in result["responses"] if r["activation"] == "relu"]
    assert len(relu) == len(SMOKE_SEEDS) * len(MODEL_14_LAYERS)
    assert all(r["mean"] >= 0 and r["negative_fraction"] == 0 for r in relu)


def test_reproduce_rejects_unknown_studies_and_options(tmp_path):
    with pytest.raises(ValueError, match="`study` must be one of"):
        studies.reproduce("figure9", out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"Options \['patience_of_saints'\] are not fields"):
        studies.reproduce("init", out_dir=tmp_path, patience_of_saints=3)


def test_the_activations_study_needs_relu_and_says_so_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit, match="must include 'relu'"):
        cli.main(["reproduce", "activations", "--activations", "prelu", "--out-dir", str(tmp_path)])
    assert not list(tmp_path.iterdir())


def test_reproduce_from_the_checkout_root_keeps_the_shipped_results(monkeypatch):
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    args = cli.build_parser().parse_args(["reproduce", "all"])
    shipped = (root / "zoo" / "studies").resolve()
    for folder in (args.out_dir, args.runs_dir):
        resolved = Path(folder).resolve()
        assert resolved != shipped and shipped not in resolved.parents


def test_reproduce_help_says_how_long_each_study_takes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for name, spec in studies.STUDIES.items():
        assert f"{name} {spec.about}; {spec.duration}." in help_text

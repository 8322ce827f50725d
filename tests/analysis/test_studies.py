"""The studies of `keras-prelu reproduce` in reduced smoke configurations."""

import json

import keras
import numpy as np
import pytest

from keras_prelu import cli
from keras_prelu.analysis import studies
from keras_prelu.runs import RunFolder

SMOKE_ACTIVATIONS = ("relu", "prelu")
SMOKE_SEEDS = (0, 1)
MODEL_14_ACTIVATIONS = (
    ["conv1"]
    + [f"conv2_{i}" for i in range(1, 5)]
    + [f"conv3_{i}" for i in range(1, 7)]
    + ["fc1", "fc2"]
)


@pytest.mark.slow
def test_init_study_smoke(tmp_path):
    result = studies.init_study(
        tmp_path,
        epochs=1,
        steps_per_epoch=2,
        probe_every=1,
        fc_units=(8, 8),
        model_b_width=0.05,
    )
    assert json.loads((tmp_path / "init.json").read_text()) == json.loads(json.dumps(result))
    for name in ("init_curves.png", "init_gradients.png", "init_signal.png"):
        assert (tmp_path / name).stat().st_size > 1000
    runs = result["runs"]
    assert set(runs) == {"model_30", "model_b"}
    for by_init in runs.values():
        assert set(by_init) == {"he", "xavier"}
        for run in by_init.values():
            steps = run["0"]["steps"]
            assert [s["step"] for s in steps] == [0, 1, 2]
            assert all(np.isfinite(s["probe_loss"]) for s in steps)
    # 30 weight layers; Xavier's responses at the top are orders of magnitude
    # below He's (1/2 per rectified layer, Eqn 10).
    signal = result["signal_at_init"]["model_30"]
    assert len(signal["he"]) == len(signal["xavier"]) == 30
    assert signal["xavier"][-1]["forward_variance"] < 1e-6 * signal["he"][-1]["forward_variance"]
    # Model B's pattern: 19 convolutions and 3 fc layers.
    assert len(result["signal_at_init"]["model_b"]["he"]) == 22


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The activations study on two rectifiers and two seeds, 1 epoch of 5 steps."""
    out = tmp_path_factory.mktemp("studies")
    runs = tmp_path_factory.mktemp("runs")
    result = studies.activation_study(
        out,
        runs_dir=runs,
        activations=SMOKE_ACTIVATIONS,
        seeds=SMOKE_SEEDS,
        epochs=1,
        fc_units=(8, 8),
        batch_size=256,
    )
    return out, runs, result


@pytest.mark.slow
def test_activation_study_smoke(trained):
    out, runs, result = trained
    assert json.loads((out / "activations.json").read_text()) == json.loads(json.dumps(result))
    assert (out / "activations.png").stat().st_size > 1000
    for activation in SMOKE_ACTIVATIONS:
        by_seed = result["runs"][activation]
        assert sorted(by_seed) == ["0", "1"]
        # The numbers are the evaluation each run wrote beside its model.
        for seed, run in by_seed.items():
            evaluation = RunFolder(runs / f"model_14-{activation}-seed{seed}").read_evaluation()
            assert run["top1_error"] == evaluation["top1_error"]
        top1 = [100 * r["top1_error"] for r in by_seed.values()]
        summary = result["summary"][activation]
        assert summary["top1_error_mean"] == pytest.approx(np.mean(top1))
        assert summary["top1_error_std"] == pytest.approx(np.std(top1, ddof=1))
        assert 0 <= summary["top5_error_mean"] <= summary["top1_error_mean"] <= 100
    assert tuple(result["summary"]["prelu"]["paper_top1_top5"]) == (32.64, 12.75)


@pytest.mark.slow
def test_slope_study_smoke_through_the_cli(trained, capsys):
    out, runs, _ = trained
    assert (
        cli.main(
            [
                "reproduce",
                "slopes",
                "--out-dir",
                str(out),
                "--runs-dir",
                str(runs),
                "--activations",
                *SMOKE_ACTIVATIONS,
                "--seeds",
                *map(str, SMOKE_SEEDS),
            ]
        )
        == 0
    )
    assert "conv1 largest" in capsys.readouterr().out
    result = json.loads((out / "slopes.json").read_text())
    for name in ("slopes.png", "mean_responses.png"):
        assert (out / name).stat().st_size > 1000
    # The slopes are those of the saved models, named as in Table 1.
    model = RunFolder(runs / "model_14-prelu-seed1").load_model()
    rows = result["slopes"]["prelu"]["1"]
    assert list(rows) == MODEL_14_ACTIVATIONS
    alpha = keras.ops.convert_to_numpy(model.get_layer("act2_3").alpha)
    assert rows["conv2_3"]["mean"] == pytest.approx(float(alpha.mean()))
    assert rows["conv2_3"]["count"] == 128
    assert "relu" not in result["slopes"]
    # ReLU outputs are never negative; their mean response is >= 0 everywhere.
    for seed in ("0", "1"):
        relu = result["mean_responses"]["relu"][seed]
        assert list(relu) == MODEL_14_ACTIVATIONS
        assert all(row["mean"] >= 0 and row["negative_fraction"] == 0 for row in relu.values())


def test_slope_study_without_trained_models_names_the_study_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="reproduce activations"):
        studies.slope_study(tmp_path, runs_dir=tmp_path, train_missing=False)


def test_reproduce_rejects_an_unknown_study(tmp_path):
    with pytest.raises(ValueError, match="`study` must be one of"):
        studies.reproduce("figure9", tmp_path)

"""`keras-prelu info` and `keras-prelu reproduce` at the command line."""

import io
from pathlib import Path

import pytest

from keras_prelu import cli
from keras_prelu.analysis import studies
from keras_prelu.zoo import get_model


def test_info_describes_the_main_jobs_model():
    out = io.StringIO()
    argv = ["info", "model_14", "--image-size", "32", "--fc-units", "128", "128"]
    assert cli.main([*argv, "--num-classes", "10"], out=out) == 0
    *layers, total, summary = out.getvalue().splitlines()
    model = get_model("model_14", input_shape=(32, 32, 3), fc_units=(128, 128), num_classes=10)
    assert total.split()[:2] == ["total", f"{model.count_params():,}"]
    assert summary.startswith(f"model_14: {model.count_params() / 1e6:.2f}M parameters")
    assert [line.split()[0] for line in layers[1:]] == [layer.name for layer in model.layers[1:]]


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

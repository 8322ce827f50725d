import csv
import dataclasses
import io
import json
import os
import signal
import subprocess
import time

import pytest

import keras_prelu.training
from keras_prelu import cli
from keras_prelu.training import BUNDLED_RECIPE
from keras_prelu.training import Recipe
from tests.helpers.processes import keras_prelu_command
from tests.helpers.processes import python_env


class FitCalls:
    """Stands in for `keras_prelu.training.fit`; records its arguments."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self

    def summary(self):
        return "summary of the run"


@pytest.fixture
def fit_calls(monkeypatch):
    calls = FitCalls()
    monkeypatch.setattr(keras_prelu.training, "fit", calls)
    return calls


def train(*argv):
    out = io.StringIO()
    args = cli.build_parser().parse_args(["train", *argv])
    args.run(args, out)
    return out.getvalue()


def test_no_arguments_is_the_bundled_main_job(fit_calls):
    assert train() == "summary of the run\n"
    ((args, kwargs),) = fit_calls.calls
    assert args == ("model_14", "digits")
    assert kwargs["recipe"] == BUNDLED_RECIPE
    assert kwargs["run_dir"] is None
    assert kwargs["augmentation"] is None
    assert kwargs["model_kwargs"] is None
    assert kwargs["mean"] is None


# A value other than both defaults for every Recipe field, as typed.
OVERRIDES = {
    "learning_rate": ("0.05", 0.05),
    "learning_rate_factor": ("0.5", 0.5),
    "min_learning_rate": ("1e-5", 1e-5),
    "patience": ("7", 7),
    "min_delta": ("0.01", 0.01),
    "min_delta_mode": ("relative", "relative"),
    "monitor": ("val_loss", "val_loss"),
    "monitor_mode": ("max", "max"),
    "momentum": ("0.5", 0.5),
    "weight_decay": ("0", 0.0),
    "decay_pattern": ("bias$", "bias$"),
    "batch_size": ("16", 16),
    "epochs": ("3", 3),
    "dropout": ("0.25", 0.25),
    "strategy": ("none", "none"),
    "mixed_precision": ("true", True),
    "jit_compile": ("false", False),
    "seed": ("none", None),
}


def test_every_recipe_field_has_an_option():
    assert set(OVERRIDES) == {f.name for f in dataclasses.fields(Recipe)}


@pytest.mark.parametrize("field", sorted(OVERRIDES))
def test_each_recipe_option_reaches_the_recipe(fit_calls, field):
    text, value = OVERRIDES[field]
    train(f"--{field.replace('_', '-')}", text)
    ((_, kwargs),) = fit_calls.calls
    assert kwargs["recipe"] == dataclasses.replace(BUNDLED_RECIPE, **{field: value})


def test_all_options_together(fit_calls):
    argv = [
        "--model",
        "model_a",
        "--data",
        "imagenet2012",
        "--data-dir",
        "/data",
        "--download",
        "--run-dir",
        "runs/a",
        "--scale-range",
        "256",
        "384",
        "--image-size",
        "192",
        "--mean",
        "compute",
        "--activation",
        "relu",
        "--fc-units",
        "64",
        "32",
        "--jit-compile",
        "auto",
        "--seed",
        "3",
    ]
    for field, (text, _) in OVERRIDES.items():
        if field not in ("jit_compile", "seed"):
            argv += [f"--{field.replace('_', '-')}", text]
    train(*argv)
    ((args, kwargs),) = fit_calls.calls
    assert args == ("model_a", "imagenet2012")
    # Not the bundled data: the fields not given are the paper's.
    expected = Recipe(
        **{f: v for f, (_, v) in OVERRIDES.items()} | {"jit_compile": "auto", "seed": 3}
    )
    assert kwargs["recipe"] == expected
    assert kwargs["augmentation"] == {"scale_range": (256, 384), "crop_size": 192}
    assert kwargs["model_kwargs"] == {"activation": "relu", "fc_units": (64, 32)}
    assert kwargs["mean"] == "compute"
    assert kwargs["data_dir"] == "/data"
    assert kwargs["download"] is True
    assert kwargs["run_dir"] == "runs/a"


def test_paper_recipe_for_other_data(fit_calls):
    train("--data", "imagenet2012")
    ((_, kwargs),) = fit_calls.calls
    assert kwargs["recipe"] == Recipe()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "many"], "--epochs"),
        (["--seed", "1.5"], "--seed"),
        (["--model", "model_15"], "--model"),
    ],
)
def test_bad_values_are_usage_errors(fit_calls, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["train", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not fit_calls.calls


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--momentum", "2"], "`momentum` must be a number in"),
        (["--jit-compile", "maybe"], "`jit_compile` must be True, False or 'auto'"),
    ],
)
def test_a_rejected_recipe_value_exits_with_the_recipe_message(fit_calls, argv, message):
    with pytest.raises(SystemExit, match=message):
        train(*argv)
    assert not fit_calls.calls


def test_a_rejected_fit_argument_exits_with_its_message(tmp_path):
    with pytest.raises(SystemExit, match="`augmentation`.*crop_size"):
        train("--image-size", "48", "--run-dir", str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


# The real command, small: 3 epochs of 22 steps, a narrow top.
COMMAND_OPTIONS = ["--epochs", "3", "--batch-size", "64", "--fc-units", "16", "16"]


def start_train(run_dir):
    return subprocess.Popen(
        [*keras_prelu_command(), "train", "--run-dir", str(run_dir), *COMMAND_OPTIONS],
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def epochs_completed(run_dir):
    path = run_dir / "checkpoint" / "checkpoint.json"
    try:
        return json.loads(path.read_text())["epochs_completed"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def log_rows(run_dir):
    with (run_dir / "log.csv").open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.slow
def test_sigkill_mid_epoch_then_the_same_command_finishes_the_same_run(tmp_path):
    killed_dir, whole_dir = tmp_path / "killed", tmp_path / "whole"
    killed = start_train(killed_dir)
    deadline = time.monotonic() + 240
    while epochs_completed(killed_dir) < 1:
        assert killed.poll() is None, killed.communicate()[1][-4000:]
        assert time.monotonic() < deadline, "the first epoch never ended"
        time.sleep(0.1)
    time.sleep(1.0)  # into epoch 2 (it takes several seconds)
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL
    assert epochs_completed(killed_dir) == 1, "killed after epoch 2 ended"
    assert not (killed_dir / "model.keras").exists()

    # The same command again, and an uninterrupted run beside it.
    whole = start_train(whole_dir)
    resumed = start_train(killed_dir)
    resumed_out, resumed_err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, resumed_err[-4000:]
    whole_out, whole_err = whole.communicate(timeout=300)
    assert whole.returncode == 0, whole_err[-4000:]

    assert "Resuming run in" in resumed_err and "after epoch 1" in resumed_err
    assert "Trained 3 epochs" in resumed_out
    assert epochs_completed(killed_dir) == 3
    for run_dir in (killed_dir, whole_dir):
        for name in ("model.keras", "evaluation.json", "recipe.json", "mean.json"):
            assert (run_dir / name).exists(), (run_dir, name)
        assert str(run_dir / "model.keras") in (resumed_out if run_dir == killed_dir else whole_out)
    resumed_rows, whole_rows = log_rows(killed_dir), log_rows(whole_dir)
    assert [row["epoch"] for row in resumed_rows] == ["0", "1", "2"]
    # Epoch 2 of the resumed run saw the data, the weights, the optimizer
    # and the seed states of the uninterrupted run.
    assert resumed_rows == whole_rows
    assert json.loads((killed_dir / "evaluation.json").read_text()) == json.loads(
        (whole_dir / "evaluation.json").read_text()
    )

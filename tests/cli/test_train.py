import dataclasses
import io
import signal

import pytest

import keras_prelu.training
from keras_prelu import cli
from keras_prelu.saving import run_folder
from keras_prelu.training import BUNDLED_RECIPE
from keras_prelu.training import Recipe
from tests.helpers.processes import Child
from tests.helpers.processes import keras_prelu_command
from tests.helpers.run_folders import epochs_completed
from tests.helpers.run_folders import log_epochs

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")


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
    cli.main(["train", *argv], out=out)
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
    "mixed_precision": ("bfloat16", "bfloat16"),
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
        (["--epochs", "many"], "argument --epochs: 'many' is not int"),
        (["--seed", "1.5"], "argument --seed: '1.5' is not int or NoneType"),
        (["--model", "model_15"], "argument --model: invalid choice"),
        (
            ["--seed", "-1"],
            "argument --seed: Recipe field `seed` must be an int in [0, 2147483647]",
        ),
        (["--momentum", "2"], "argument --momentum: Recipe field `momentum` must be a number in"),
        (["--learning-rate", "inf"], "argument --learning-rate: Recipe field `learning_rate` must"),
        (["--weight-decay", "nan"], "argument --weight-decay: Recipe field `weight_decay` must"),
        (["--jit-compile", "maybe"], "`jit_compile` must be True, False or 'auto'"),
        (["--decay-pattern", "("], "argument --decay-pattern: Recipe field `decay_pattern`"),
        (["--crop-size", "0"], "argument --crop-size/--image-size: must be an integer >= 1"),
        (["--scale-range", "32", "-40"], "argument --scale-range: must be an integer >= 1"),
        (["--process-id", "-1"], "argument --process-id: must be an integer >= 0"),
    ],
)
def test_bad_values_are_usage_errors(fit_calls, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["train", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not fit_calls.calls


def test_values_valid_alone_but_not_together_exit_with_the_recipe_message(fit_calls):
    with pytest.raises(SystemExit, match="`min_learning_rate` must be <= learning_rate"):
        train("--learning-rate", "1e-5")
    assert not fit_calls.calls


def test_a_rejected_fit_argument_exits_with_its_message(tmp_path):
    with pytest.raises(SystemExit, match="`augmentation`.*crop_size"):
        train("--image-size", "48", "--run-dir", str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


# The real command, small: 3 epochs of 22 steps, a narrow top.
# Half the bundled recipe's learning rate: with these narrow fc layers, 0.01 diverges in the
# third epoch.
COMMAND_OPTIONS = [
    *("--epochs", "3", "--batch-size", "64", "--fc-units", "16", "16"),
    *("--learning-rate", "0.005"),
]
# Deadlines of the real command (on a loaded 2-core machine).
RUN_TIMEOUT = 300


def train_command(run_dir, *options):
    return [*keras_prelu_command(), "train", "--run-dir", str(run_dir), *COMMAND_OPTIONS, *options]


def locked_by(run_dir, child):
    """Whether `child` holds the lock of `run_dir` (its pid is in the lock file)."""
    try:
        return (run_dir / run_folder.LOCK_FILENAME).read_text() == f"{child.pid}\n"
    except FileNotFoundError:
        return False


def last_line(text):
    return text.strip().splitlines()[-1]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_the_same_command_finishes_the_same_run(tmp_path):
    killed_dir, whole_dir = tmp_path / "killed", tmp_path / "whole"
    killed = Child(train_command(killed_dir))
    # Killed the moment its first epoch is checkpointed: during the next epoch
    # (an epoch takes seconds, the kill a few milliseconds), whichever it is.
    killed.wait_for(lambda: epochs_completed(killed_dir) >= 1, RUN_TIMEOUT, "the first checkpoint")
    killed.kill()
    assert killed.finish(30) == -signal.SIGKILL
    completed = epochs_completed(killed_dir)
    assert 1 <= completed < 3, "the run ended before it could be killed"
    assert not run_folder.RunFolder(killed_dir).is_finished()

    # The same command again (the killed process's lock went with it), and an
    # uninterrupted run beside it.
    whole, resumed = Child(train_command(whole_dir)), Child(train_command(killed_dir))
    assert resumed.finish(RUN_TIMEOUT) == 0, resumed.stderr[-4000:]
    assert whole.finish(RUN_TIMEOUT) == 0, whole.stderr[-4000:]

    assert (
        f"Resuming run in {killed_dir / run_folder.CHECKPOINT_DIRNAME} after epoch {completed}"
        in (resumed.stderr)
    )
    assert "Trained 3 epochs" in resumed.stdout
    assert epochs_completed(killed_dir) == 3
    for run_dir, child in ((killed_dir, resumed), (whole_dir, whole)):
        assert run_folder.RunFolder(run_dir).is_finished()
        assert str(run_folder.RunFolder(run_dir).model_path) in child.stdout
    assert log_epochs(killed_dir) == [1, 2, 3]
    # The epochs after the kill saw the data, the weights, the optimizer and
    # the seed states of the uninterrupted run.
    killed_folder, whole_folder = run_folder.RunFolder(killed_dir), run_folder.RunFolder(whole_dir)
    assert killed_folder.read_log() == whole_folder.read_log()
    assert killed_folder.read_evaluation() == whole_folder.read_evaluation()


@pytest.mark.slow
def test_a_second_command_on_a_run_in_progress_is_refused_and_ctrl_c_frees_it(tmp_path):
    run_dir = tmp_path / "run"
    first = Child(train_command(run_dir, "--epochs", "50"))
    first.wait_for(lambda: locked_by(run_dir, first), RUN_TIMEOUT, "the lock")
    second = Child(train_command(run_dir))
    assert second.finish(RUN_TIMEOUT) == 1
    assert last_line(second.stderr) == (
        f"keras-prelu train: error: Argument `run_dir` ({run_dir}) is in use: process "
        f"{first.pid} is training in it. Wait until it ends, or choose another run_dir."
    )
    assert "Traceback" not in second.stderr

    first.wait_for(lambda: epochs_completed(run_dir) >= 1, RUN_TIMEOUT, "the first checkpoint")
    first.send(signal.SIGINT)
    assert first.finish(60) == 130
    assert last_line(first.stderr) == (
        "keras-prelu train: interrupted. Run the same command to resume after the last "
        "completed epoch."
    )
    assert "Traceback" not in first.stderr
    completed = epochs_completed(run_dir)
    assert log_epochs(run_dir)[:completed] == list(range(1, completed + 1))
    # The lock is free: the same run, shortened to the epochs done, finishes.
    resumed = Child(train_command(run_dir, "--epochs", str(completed)))
    assert resumed.finish(RUN_TIMEOUT) == 0, resumed.stderr[-4000:]
    assert log_epochs(run_dir) == list(range(1, completed + 1))


@pytest.mark.slow
def test_a_run_that_diverges_stops_at_the_first_nan_epoch(tmp_path):
    run_dir = tmp_path / "run"
    diverging = Child(train_command(run_dir, "--learning-rate", "1000", "--patience", "5"))
    assert diverging.finish(RUN_TIMEOUT) == 1
    assert last_line(diverging.stderr).startswith(
        "keras-prelu train: error: Epoch 1 ended with non-finite values (loss=nan;"
    )
    assert "so the run keeps no epoch" in diverging.stderr
    assert "Traceback" not in diverging.stderr
    folder = run_folder.RunFolder(run_dir)
    assert epochs_completed(run_dir) == 0 and not folder.model_path.exists()
    assert folder.read_log() == []


@pytest.mark.slow
def test_a_full_disk_leaves_the_previous_files_whole(tmp_path):
    run_dir = tmp_path / "run"
    # Files may not grow past 1 MB (RLIMIT_FSIZE): the first checkpoint (15 MB) fails.
    full = Child(train_command(run_dir, "--epochs", "1"), file_size_limit=2**20)
    assert full.finish(RUN_TIMEOUT) == 1
    checkpoint = run_dir / run_folder.CHECKPOINT_DIRNAME
    assert last_line(full.stderr) == (
        f"keras-prelu train: error: Cannot write {checkpoint / 'epoch-0001.weights.h5'}: File "
        "too large"
    )
    assert "Traceback" not in full.stderr
    assert sorted(path.name for path in checkpoint.iterdir()) == []  # no partial file

    finished = Child(train_command(run_dir, "--epochs", "1"))
    assert finished.finish(RUN_TIMEOUT) == 0, finished.stderr[-4000:]
    folder = run_folder.RunFolder(run_dir)
    saved = {path: path.read_bytes() for path in (folder.model_path, folder.evaluation_path)}
    # The same command again has nothing to train, and saves the model again:
    # the full disk stops it there, and the model and its evaluation stay whole.
    again = Child(train_command(run_dir, "--epochs", "1"), file_size_limit=2**20)
    assert again.finish(RUN_TIMEOUT) == 1
    assert last_line(again.stderr) == (
        f"keras-prelu train: error: Cannot write {folder.model_path}: File too large"
    )
    assert {path: path.read_bytes() for path in saved} == saved
    assert not [path.name for path in run_dir.iterdir() if path.name.startswith(".tmp-")]

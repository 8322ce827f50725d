"""Kills, full disks, concurrent readers and refused resumes: nothing lost, nothing mixed.

The tiny run of `tests.helpers.tiny_runs` (a finished 2-epoch run, copied for each
test) stands for every run: the writes are those of any `fit`.
"""

import dataclasses
import errno
import hashlib
import io
import json
import os
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_prelu import cli
from keras_prelu import from_preset
from keras_prelu import training
from keras_prelu.data import ArraySource
from keras_prelu.evaluation.trained import load_trained
from keras_prelu.saving import atomic
from keras_prelu.saving import run_folder
from keras_prelu.zoo import Model14
from tests.helpers.faults import STRIDE_VARIABLE
from tests.helpers.faults import tried_steps
from tests.helpers.processes import Child
from tests.helpers.run_folders import write_run_folder
from tests.helpers.tiny_runs import write_tiny_fit

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")

RUN_TIMEOUT = 600


@pytest.fixture(scope="module")
def tiny_fit(tmp_path_factory):
    return write_tiny_fit(tmp_path_factory.mktemp("script"))


@pytest.fixture(scope="module")
def finished_tiny_run(tiny_fit, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    child = Child([sys.executable, str(tiny_fit), str(run_dir), "2"])
    assert child.finish(RUN_TIMEOUT) == 0, child.stderr[-4000:]
    return run_dir


@pytest.fixture
def tiny_run(finished_tiny_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_tiny_run, copy)
    return copy


def digests(folder):
    """The SHA-256 of every file under `folder` but the lock (which holds a process id)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != run_folder.LOCK_FILENAME
    }


def weights(model_file):
    return [np.asarray(w) for w in keras.saving.load_model(model_file, compile=False).weights]


def assert_same_run(run_dir, reference):
    """`run_dir` holds the log and the model weights of the uninterrupted `reference`."""
    assert (run_dir / "log.csv").read_text() == (reference / "log.csv").read_text()
    assert run_folder.RunFolder(run_dir).is_finished()
    for got, expected in zip(weights(run_dir / "model.keras"), weights(reference / "model.keras")):
        np.testing.assert_array_equal(got, expected)
    assert not [p for p in run_dir.rglob(".tmp-*")], "a temporary file was left"


def tiny_model():
    """The model of `TINY_FIT`, built the same way."""
    images = keras.Input((None, None, 3), name="images")
    features = keras.layers.Conv2D(4, 3, strides=4, name="conv")(images)
    features = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    scores = keras.layers.Dense(10, activation="softmax", name="scores")(features)
    return keras.Model(images, scores, name="tiny")


def resume(run_dir, **changes):
    """`fit` of the tiny run (see `TINY_FIT`) with the recipe fields `changes`."""
    fields = {"epochs": 2, "batch_size": 64, "seed": 1, **changes}
    recipe = dataclasses.replace(training.BUNDLED_RECIPE, **fields)
    return training.fit(tiny_model(), "digits", recipe=recipe, run_dir=run_dir, verbose=0)


# --- Resume checks everything before training --------------------------------


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 1}, r"epochs=1, but the run .* has completed 2 epochs \(epochs: saved 2, "),
        ({"learning_rate": 0.02}, "learning_rate: saved 0.01, given 0.02 .in recipe.json"),
    ],
)
def test_a_resume_with_another_recipe_is_refused_before_anything_is_written(
    tiny_run, changes, message
):
    before = digests(tiny_run)
    with pytest.raises(ValueError, match=message):
        resume(tiny_run, **changes)
    assert digests(tiny_run) == before


def test_a_resume_on_other_data_names_the_data_not_the_recipe(tiny_run):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (128, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(128) % 10
    other = ArraySource((images, labels), (images[:64], labels[:64]), name="my-arrays")
    before = digests(tiny_run)
    with pytest.raises(ValueError, match="data: saved 'digits', given 'my-arrays'") as refused:
        training.fit(tiny_model(), other, run_dir=tiny_run, verbose=0)  # the paper's recipe
    assert "patience" not in str(refused.value)
    assert len(str(refused.value)) < 500
    assert digests(tiny_run) == before


@pytest.mark.parametrize(
    "log, message",
    [
        ("", r"log.csv holds 0 epochs, but the checkpoint \(.*checkpoint.json\) holds 2"),
        (None, r"log.csv is missing, but the checkpoint"),
        ("epoch,loss\n1,0.5\n2,x\n", "log.csv has an unreadable row at line 3"),
        ("epoch,loss\n1,0.5\n", "log.csv holds 1 epochs, but the checkpoint"),
    ],
)
def test_a_damaged_log_is_refused_before_an_epoch_trains(tiny_run, log, message):
    log_path = tiny_run / "log.csv"
    if log is None:
        log_path.unlink()
    else:
        log_path.write_text(log)
    before = digests(tiny_run)
    with pytest.raises(run_folder.RunFolderError, match=message):
        resume(tiny_run, epochs=3)
    assert digests(tiny_run) == before


# --- Kills and full disks ---------------------------------------------------------


def under_faults(mode, folder, report, *command):
    """The command line of `command` run under `tests.helpers.faults`."""
    return [sys.executable, "-m", "tests.helpers.faults", mode, str(folder), str(report)] + [
        "--",
        *map(str, command),
    ]


def test_a_kill_between_the_first_weights_and_their_record_resumes(
    tiny_fit, finished_tiny_run, tmp_path
):
    run_dir = tmp_path / "run"
    after_first_weights = "kill-after:replace:checkpoint/.tmp-epoch-0001.weights.h5"
    report = tmp_path / "report"
    killed = Child(under_faults(after_first_weights, run_dir, report, "python", tiny_fit, run_dir))
    assert killed.finish(RUN_TIMEOUT) == -9, killed.stderr[-4000:]
    checkpoint = run_dir / run_folder.CHECKPOINT_DIRNAME
    assert sorted(p.name for p in checkpoint.iterdir()) == ["epoch-0001.weights.h5"]

    again = Child([sys.executable, str(tiny_fit), str(run_dir)])
    assert again.finish(RUN_TIMEOUT) == 0, again.stderr[-4000:]
    assert_same_run(run_dir, finished_tiny_run)


def test_a_full_disk_while_training_ends_in_one_line_and_the_run_resumes(
    tiny_fit, finished_tiny_run, tmp_path
):
    run_dir = tmp_path / "run"
    # No file may grow past 16 kB (RLIMIT_FSIZE, a full disk without root): the JSON
    # files and the log fit, the first weights (20 kB, written by h5py) do not; HDF5's
    # metadata, which it flushes again when the file is closed, lies below 13 kB.
    full = Child([sys.executable, str(tiny_fit), str(run_dir)], file_size_limit=16384)
    assert full.finish(RUN_TIMEOUT) == 1
    weights_file = run_dir / run_folder.CHECKPOINT_DIRNAME / "epoch-0001.weights.h5"
    last_line = full.stderr.strip().splitlines()[-1]
    assert last_line == f"error: Cannot write {weights_file}: File too large"
    for crash in ("Traceback", "Exception ignored", "h5py", "Segmentation"):
        assert crash not in full.stderr
    again = Child([sys.executable, str(tiny_fit), str(run_dir)])
    assert again.finish(RUN_TIMEOUT) == 0, again.stderr[-4000:]
    assert_same_run(run_dir, finished_tiny_run)


def test_a_folder_whose_commit_fails_on_a_full_disk_is_left_as_it_was(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    atomic.write_folder(folder, lambda building: (building / "old").write_text("old"))
    rename = os.rename

    def full_disk_at_the_commit(source, destination):
        if Path(source).name.startswith(atomic.TEMPORARY_PREFIX):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        rename(source, destination)

    monkeypatch.setattr(os, "rename", full_disk_at_the_commit)
    with pytest.raises(OSError, match=f"^Cannot write {folder}: No space left on device$"):
        atomic.write_folder(
            folder, lambda building: (building / "new").write_text("new"), overwrite=True
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]
    assert sorted(path.name for path in folder.iterdir()) == ["old"]


# --- Readers see a snapshot ---------------------------------------------------------


def export_keras(run_dir, output):
    out = io.StringIO()
    return cli.main(["export", str(run_dir), str(output), "--format", "keras"], out=out)


def test_a_run_being_trained_is_not_read_until_it_finishes(tiny_fit, tiny_run, tmp_path):
    pause, go = tmp_path / "paused", tmp_path / "go"
    # The finished 2-epoch run, resumed for a third epoch, pauses as the epoch begins.
    trainer = Child([sys.executable, str(tiny_fit), str(tiny_run), "3", str(pause), str(go)])
    trainer.wait_for(pause.exists, RUN_TIMEOUT, "the third epoch")
    output = tmp_path / "model.keras"
    with pytest.raises(SystemExit, match=f"process {trainer.pid} is training in it"):
        export_keras(tiny_run, output)
    assert not output.exists()
    with pytest.raises(run_folder.RunFolderLockedError, match="is training in it"):
        load_trained(tiny_run)
    # Its recipe now says 3 epochs: the 2-epoch model is no longer a finished state.
    assert json.loads((tiny_run / "recipe.json").read_text())["epochs"] == 3
    assert not (tiny_run / "evaluation.json").exists()

    go.write_text("go")  # a FIFO: the trainer goes on once it is written
    assert trainer.finish(RUN_TIMEOUT) == 0, trainer.stderr[-4000:]
    export_keras(tiny_run, output)
    trained = load_trained(tiny_run)
    assert trained.recipe["epochs"] == 3 and len(run_folder.RunFolder(tiny_run).read_log()) == 3
    assert trained.results == run_folder.RunFolder(tiny_run).read_evaluation()


def test_a_reader_holds_off_a_trainer_only_while_it_reads(tmp_path):
    folder = run_folder.RunFolder(tmp_path / "run")
    with folder.lock():
        pass
    with folder.reading():
        with folder.reading():  # readers share the lock
            pass
    with folder.lock():  # released
        pass


def test_a_study_out_dir_that_is_a_file_is_refused_before_training(tmp_path):
    from keras_prelu.analysis import studies

    (tmp_path / "results").write_text("not a folder")
    with pytest.raises(ValueError, match="Argument `out_dir` must be a folder.*is a file"):
        studies.reproduce("init", out_dir=tmp_path / "results", runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


# --- The harness: every step killed, every step failing ---------------------------


# The suite tries every third step of a sweep (the first and the last always), to stay in
# CI's time; `KERAS_PRELU_FAULT_STRIDE=1` in the environment tries every step.
SUITE_STRIDE = "3"


def sweep(mode, folder, report, *command, stride=SUITE_STRIDE):
    """Runs `tests.helpers.faults` in `mode` over `command`, trying every `stride`-th step
    (`KERAS_PRELU_FAULT_STRIDE` overrides it); returns its steps and the runs of the steps
    tried, by step (0: the uninterrupted run)."""
    stride = os.environ.get(STRIDE_VARIABLE, stride)
    child = Child(
        under_faults(mode, folder, report, *command), env={**os.environ, STRIDE_VARIABLE: stride}
    )
    assert child.finish(3 * RUN_TIMEOUT) == 0, child.stderr[-4000:]
    steps = json.loads((report / "steps.json").read_text())
    tried = tried_steps(len(steps), int(stride))
    runs = {k: json.loads((report / f"runs-{k}.json").read_text()) for k in [0, *tried]}
    return steps, runs


def assert_one_line_or_none(lines):
    assert len(lines) <= 1, lines
    for crash in ("Traceback", "Exception ignored", "h5py"):
        assert not any(crash in line for line in lines), lines


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["kill", "fail"])
def test_a_training_killed_or_failing_at_any_step_finishes_as_if_uninterrupted(
    tiny_fit, finished_tiny_run, tmp_path, mode
):
    run_dir, report = tmp_path / "run", tmp_path / "report"
    steps, runs = sweep(mode, run_dir, report, "python", tiny_fit, run_dir)
    assert len(steps) >= (23 if mode == "kill" else 33)  # 2 epochs: every file, twice
    assert_same_run(report / "whole", finished_tiny_run)
    for k in sorted(set(runs) - {0}):
        step = steps[k - 1]
        *failed, again = runs[k]
        if failed:  # the full disk at step k: one line, exit 1
            code, lines = failed[0]
            assert code == 1 and "No space left on device" in lines[-1], (step, lines)
            assert_one_line_or_none(lines)
        assert again == [0, []], (step, again)
        assert_same_run(report / f"after-{k}", finished_tiny_run)


@pytest.fixture(scope="module")
def zoo_run(tmp_path_factory):
    """A finished run of a zoo classifier (a preset is one): Model14 at a sixteenth of its
    width, 32 x 32 crops of 10 classes, written without training."""
    model = Model14(
        input_shape=(32, 32, 3), fc_units=(8, 8), width_multiplier=1 / 16, num_classes=10, seed=0
    )
    return write_run_folder(tmp_path_factory.mktemp("zoo") / "run", model, mean=(1.0, 2.0, 3.0))


# The images each reader gives the exported model: RGB in [0, 255], not of the crop's size.
IMAGES = np.random.default_rng(0).uniform(0, 255, (2, 40, 36, 3)).astype("float32")


def read_keras(path):
    return np.asarray(keras.saving.load_model(path)(IMAGES))


def read_saved_model(path):
    import tensorflow as tf

    served = tf.saved_model.load(str(path))  # kept: its functions use its variables
    return served.serve(IMAGES)["probabilities"].numpy()


def read_onnx(path):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": IMAGES})[0]


def read_preset(path):
    classifier = from_preset(path)  # every file checked, then keras-hub's from_preset
    return np.concatenate([np.ravel(weights) for weights in classifier.get_weights()])


# `keras-prelu export` cases: the run exported (a fixture: the tiny run, or a zoo model's
# for a preset, which only a zoo classifier makes), the arguments after it (`{out}`: the
# folder the sweep watches) and a reader of the output (its probabilities for `IMAGES`; a
# preset's weights). One line adds a format to the harness.
TINY = "finished_tiny_run"
EXPORTS = {
    "keras": (TINY, ["{out}/model.keras", "--format", "keras"], read_keras),
    "saved_model": (TINY, ["{out}/model", "--format", "saved_model"], read_saved_model),
    "onnx": (TINY, ["{out}/model.onnx", "--format", "onnx"], read_onnx),
    "preset": ("zoo_run", ["{out}/preset", "--format", "preset", "--overwrite"], read_preset),
}


# The exports swept at another stride than the suite's: every step of a SavedModel's (4
# kill points) and every second of a preset's (10) reach the kill between a folder's two
# renames, which leaves the old folder aside.
EXPORT_STRIDES = {"saved_model": "1", "preset": "2"}
# The exports whose kill sweep is in the quick set: a file (`.keras`) and a folder (a
# SavedModel, the default format; about 17 s); the others' kill sweeps (ONNX about 14 s, a
# preset 21 s), and every full-disk sweep, are `slow`. A sweep's time is mostly the
# command's start and its uninterrupted run, whatever the stride.
QUICK_EXPORTS = ("keras", "saved_model")


@pytest.mark.parametrize(
    "export, mode",
    [
        pytest.param(
            export,
            mode,
            marks=() if mode == "kill" and export in QUICK_EXPORTS else pytest.mark.slow,
            id=f"{export}-{mode}",
        )
        for export in EXPORTS
        for mode in ("kill", "fail")
    ],
)
def test_an_export_killed_or_failing_at_any_step_leaves_the_old_or_the_new_output(
    request, tmp_path, mode, export
):
    out, report = tmp_path / "out", tmp_path / "report"
    run, arguments, read = EXPORTS[export]
    run = request.getfixturevalue(run)
    arguments = [argument.format(out=out) for argument in arguments]
    output = Path(arguments[0])
    out.mkdir()
    # An existing output is replaced: what a second export of the same run does.
    assert cli.main(["export", str(run), *arguments], out=io.StringIO()) == 0
    previous = digests(out)
    stride = EXPORT_STRIDES.get(export, SUITE_STRIDE)
    steps, runs = sweep(mode, out, report, "keras-prelu", "export", run, *arguments, stride=stride)
    assert len(steps) >= 2
    relative = output.relative_to(out)
    uninterrupted = read(report / "whole" / relative)
    for k in sorted(set(runs) - {0}):
        step = steps[k - 1]
        *failed, again = runs[k]
        if failed:  # the full disk at step k: one line, exit 1
            code, lines = failed[0]
            assert code == 1 and "No space left on device" in lines[-1], (step, lines)
            assert_one_line_or_none(lines)
        left = report / (f"failed-{k}" if failed else f"snapshots/{k}")
        if not failed:  # a kill between a folder's two renames left the old one aside: the
            atomic.recover_folder(left / relative)  # next reader or writer puts it back
        # What the fault left: the previous output whole, or the new one whole.
        kept = {name: digest for name, digest in digests(left).items() if ".tmp-" not in name}
        if kept != previous:
            np.testing.assert_array_equal(read(left / relative), uninterrupted)
        # The same command again: silent, and the output of the uninterrupted run.
        assert again == [0, []], (step, again)
        np.testing.assert_array_equal(read(report / f"after-{k}" / relative), uninterrupted)

import json
import os

import numpy as np
import pytest

from keras_prelu.errors import InvalidValueError
from keras_prelu.saving import run_folder
from keras_prelu.saving.atomic import SavedFileError
from tests.helpers.processes import run_python

# Runs in the TensorFlow session only: no backend to vary.
pytestmark = pytest.mark.backend("tensorflow")


@pytest.mark.parametrize(
    "contents, message",
    [
        ("", "is not valid JSON"),
        ('{"shape": [3], "mean": [1, 2', "is not valid JSON"),
        ("[1, 2, 3]", "must hold a JSON object"),
        ('{"mean": [1, 2, 3]}', "has no field `shape`"),
        ('{"shape": [3], "mean": [1, 2]}', "`mean`: it must be an array of 3 finite numbers"),
        ('{"shape": [2, 2, 3], "mean": [0]}', "`mean`: it must be an array of 12 finite"),
        ('{"shape": [4], "mean": [1, 2, 3, 4]}', "a mean has shape"),
    ],
)
def test_a_damaged_mean_is_refused_naming_its_file(tmp_path, contents, message):
    folder = run_folder.RunFolder(tmp_path)
    folder.mean_path.write_text(contents)
    with pytest.raises(SavedFileError, match=f"{folder.mean_path}.*{message}"):
        folder.read_mean()


@pytest.mark.parametrize("mean", [np.array([1.5, 2.25, 3.0]), np.arange(75.0).reshape(5, 5, 3)])
def test_mean_round_trips(tmp_path, mean):
    folder = run_folder.RunFolder(tmp_path)
    folder.write_mean(mean)
    np.testing.assert_array_equal(folder.read_mean(), mean.astype(np.float32))


def test_log_rows_count_epochs_from_one_and_keep_their_values(tmp_path):
    folder = run_folder.RunFolder(tmp_path)
    rows = [{"epoch": 1, "loss": 2.5, "learning_rate": 0.01}, {"epoch": 2, "loss": 1.25}]
    folder.write_log(rows)
    assert folder.log_path.read_text().splitlines() == [
        "epoch,learning_rate,loss",
        "1,0.01,2.5",
        "2,,1.25",
    ]
    assert folder.read_log() == rows
    folder.keep_log_rows(1)
    assert folder.read_log() == rows[:1]
    history = folder.history()
    assert history == {"learning_rate": [0.01], "loss": [2.5]}


@pytest.mark.parametrize(
    "text, message",
    [
        ("epoch,loss\n1,2.0\nepoch,loss\n2,1.0\n", "unreadable row at line 3"),
        ("epoch,loss\n0,2.0\n", "epoch 0 at line 2; expected epoch 1"),
        ("epoch,loss\n1,2.0\n1,1.0\n", "epoch 1 at line 3; expected epoch 2"),
        ("epoch,loss\n1,abc\n", "unreadable row at line 2"),
    ],
)
def test_a_damaged_log_is_refused(tmp_path, text, message):
    folder = run_folder.RunFolder(tmp_path)
    folder.log_path.write_text(text)
    with pytest.raises(run_folder.RunFolderError, match=message):
        folder.read_log()


def record(**changes):
    values = dict(
        model="model_14",
        model_kwargs={"fc_units": (16, 16)},
        data="/data/images",
        data_dir=None,
        class_names=("cat", "dog"),
        scale_range=(32, 40),
        crop_size=32,
        flip=True,
        pca_std=0.1,
        mean_rgb=np.array([1.0, 2.0, 3.0], np.float32),
        mean_kind="computed",
        evaluation_scale=32,
        version="0.1.0",
    )
    return run_folder.RunRecord(**(values | changes))


def test_run_record_round_trips_and_compares_what_defines_a_run(tmp_path):
    folder = run_folder.RunFolder(tmp_path)
    folder.write_run(record())
    assert folder.read_run() == record()
    assert record().differences(record(mean_rgb=(4.0, 5.0, 6.0), version="9")) == []
    assert record().differences(record(crop_size=24, class_names=("a", "b"))) == [
        "class_names",
        "crop_size",
    ]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda values: values.pop("format"), "written by an earlier version"),
        (lambda values: values.update(model=3), "invalid field `model`"),
        (lambda values: values["augmentation"].update(crop_size=0), "`crop_size`.*integer >= 1"),
        (lambda values: values["augmentation"].pop("mean_rgb"), "no field `mean_rgb`"),
        (lambda values: values.update(class_names="ab"), "`class_names`.*array of strings"),
    ],
)
def test_a_damaged_or_old_run_json_is_refused(tmp_path, edit, message):
    folder = run_folder.RunFolder(tmp_path)
    folder.write_run(record())
    values = json.loads(folder.run_path.read_text())
    edit(values)
    folder.run_path.write_text(json.dumps(values))
    with pytest.raises(run_folder.RunFolderError, match=message):
        folder.read_run()


def write_checkpoint(directory, epochs_completed=2, contents=b"weights"):
    folder = run_folder.CheckpointFolder(directory)
    folder.write(
        epochs_completed,
        lambda path: path.write_bytes(contents),
        stopped=False,
        callbacks={"SwitchLROnPlateau": {"best": 0.5, "wait": 1, "switch_epochs": []}},
        unsaved_variables=[[1, 2]],
        generators={},
    )
    return folder


def test_a_checkpoint_replaces_the_previous_one_and_is_verified(tmp_path):
    write_checkpoint(tmp_path, 1, b"first")
    folder = write_checkpoint(tmp_path, 2, b"second")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.json",
        "epoch-0002.weights.h5",
    ]
    state = folder.read_state()
    assert state["epochs_completed"] == 2
    assert folder.weights_path(state).read_bytes() == b"second"


def test_damaged_weights_are_refused_by_their_checksum(tmp_path):
    folder = write_checkpoint(tmp_path)
    weights = tmp_path / "epoch-0002.weights.h5"
    weights.write_bytes(b"sekond")  # as many bytes, some flipped
    with pytest.raises(run_folder.RunFolderError, match="does not match the SHA-256"):
        folder.read_state()
    assert folder.read_state(verify_weights=False)["epochs_completed"] == 2
    weights.unlink()
    with pytest.raises(
        run_folder.RunFolderError, match="names epoch-0002.weights.h5, which is missing"
    ):
        folder.read_state()


def test_weights_without_a_state_are_refused_not_restarted_over(tmp_path):
    folder = write_checkpoint(tmp_path)
    folder.state_path.unlink()
    with pytest.raises(
        run_folder.RunFolderError, match=r"holds weights \(epoch-0002.weights.h5\) but no"
    ):
        folder.read_state()
    (tmp_path / "epoch-0002.weights.h5").unlink()
    (tmp_path / ".tmp-epoch-0001.weights.h5").write_bytes(b"a write that was killed")
    assert folder.read_state() is None  # nothing but a killed first write: a fresh start


def test_first_weights_without_a_state_are_a_leftover_of_a_killed_commit(tmp_path):
    # Killed after epoch 1's weights were renamed into place, before checkpoint.json.
    folder = write_checkpoint(tmp_path, epochs_completed=1, contents=b"first")
    folder.state_path.unlink()
    assert folder.read_state() is None
    write_checkpoint(tmp_path, epochs_completed=1, contents=b"again")
    assert folder.read_state()["epochs_completed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.json",
        "epoch-0001.weights.h5",
    ]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("epochs_completed", -1, "`epochs_completed`: it must be an integer >= 1"),
        ("epochs_completed", True, "`epochs_completed`: it must be an integer >= 1"),
        ("stopped", "no", "`stopped`: it must be true or false"),
        ("weights", "../model.keras", r"`weights`: it must be one of \['epoch-0002"),
        ("weights_sha256", "abc", "`weights_sha256`: it must be a SHA-256"),
        ("callbacks", [], "`callbacks`: it must be an object"),
    ],
)
def test_checkpoint_fields_are_checked(tmp_path, field, value, message):
    folder = write_checkpoint(tmp_path)
    state = json.loads(folder.state_path.read_text())
    state[field] = value
    folder.state_path.write_text(json.dumps(state))
    with pytest.raises(
        run_folder.RunFolderError, match=f"checkpoint.json has an invalid field {message}"
    ):
        folder.read_state()


def test_a_truncated_checkpoint_state_is_refused_naming_it(tmp_path):
    folder = write_checkpoint(tmp_path)
    folder.state_path.write_text(folder.state_path.read_text()[:40])
    with pytest.raises(SavedFileError, match=f"{folder.state_path} is not valid JSON"):
        folder.read_state()


def test_the_lock_is_exclusive_and_released_with_its_holder(tmp_path):
    folder = run_folder.RunFolder(tmp_path / "run")
    with folder.lock():
        assert (folder.path / run_folder.LOCK_FILENAME).read_text() == f"{os.getpid()}\n"
        with pytest.raises(
            run_folder.RunFolderLockedError, match=f"process {os.getpid()} is training"
        ):
            with run_folder.RunFolder(tmp_path / "run").lock():
                pass
    with folder.lock():  # released
        pass
    # A process that dies holding it (here: exits without unlocking) frees it.
    run_python(
        """
        import os, sys
        from keras_prelu.saving import run_folder
        run_folder.RunFolder(sys.argv[1]).lock().__enter__()
        os._exit(0)
        """,
        folder.path,
    )
    with folder.lock():
        pass


def test_the_folder_must_be_a_writable_folder(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidValueError, match="`run_dir` must be a folder.*is a file"):
        run_folder.RunFolder(tmp_path / "file").check_writable()
    with pytest.raises(InvalidValueError, match="lies under .*file, which is a file"):
        run_folder.RunFolder(tmp_path / "file" / "run").check_writable()
    run_folder.RunFolder(tmp_path / "new" / "run").check_writable()  # created when locked


def test_a_damaged_model_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(
        run_folder.RunFolderError, match=f"{path} cannot be loaded as a Keras model"
    ):
        run_folder.load_model(path)
    with pytest.raises(
        run_folder.RunFolderError, match="has no model.keras: it is not a finished run"
    ):
        run_folder.RunFolder(tmp_path / "empty").load_model()

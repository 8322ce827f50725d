"""A user's mistakes and the environment's at the command line: one line, never a traceback.

Each case runs the command's verb as `keras-prelu` does and expects it to exit
with one line that names the argument or the file and the reason; any other
exception fails the test.
"""

import io
import json

import numpy as np
import pytest

from keras_prelu import cli
from keras_prelu.saving import run_folder
from keras_prelu.zoo import Model14
from tests.helpers.folders import read_only_folder
from tests.helpers.images import write_class_folders
from tests.helpers.run_folders import write_run_folder

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")

# The main job, as small as it gets: it is stopped before its first step.
TINY = ["--epochs", "1", "--batch-size", "64", "--fc-units", "8", "8"]


def run(*argv):
    out = io.StringIO()
    cli.main(list(argv), out=out)
    return out.getvalue()


def error_line(*argv):
    """The one line the command exits with."""
    with pytest.raises(SystemExit) as exit_info:
        run(*argv)
    message = str(exit_info.value.code)
    assert "\n" not in message and message.startswith(f"keras-prelu {argv[0]}: error: "), message
    return message


def usage_error(capsys, *argv):
    """The error argparse prints (exit 2) before any work."""
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(list(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture
def finished_run(tmp_path):
    model = Model14(input_shape=(32, 32, 3), fc_units=(8, 8), num_classes=10, seed=0)
    return write_run_folder(tmp_path / "run", model, mean=[10.0, 20.0, 30.0])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["info", "--image-size", "0"], "argument --image-size: must be an integer >= 1"),
        (["evaluate", "run", "--batch-size", "0"], "argument --batch-size: must be an integer"),
        (["evaluate", "run", "--scales", "-32"], "argument --scales: must be an integer >= 1"),
        (["export", "run", "out", "--mean", "1", "2"], "argument --mean: expected 3 arguments"),
    ],
)
def test_bad_numbers_are_usage_errors(capsys, argv, message):
    assert message in usage_error(capsys, *argv)


def test_a_run_dir_that_is_a_file(tmp_path):
    (tmp_path / "run").write_text("notes")
    message = error_line("train", "--run-dir", str(tmp_path / "run"), *TINY)
    assert f"`run_dir` must be a folder. Received: run_dir='{tmp_path / 'run'}'" in message
    assert (tmp_path / "run").read_text() == "notes"


def test_a_read_only_run_dir(tmp_path):
    with read_only_folder(tmp_path / "locked") as folder:
        message = error_line("train", "--run-dir", str(folder / "run"), *TINY)
    assert "`run_dir` must be a folder this process can write" in message
    assert f"(its nearest existing folder, {folder}), which is read-only" in message


def test_multi_worker_is_not_offered(capsys):
    message = usage_error(capsys, "train", "--strategy", "multi_worker")
    assert "argument --strategy: Recipe field `strategy` must be one of" in message


def test_a_crop_too_small_for_the_model_writes_nothing(tmp_path):
    message = error_line(
        "train",
        "--run-dir",
        str(tmp_path / "run"),
        "--crop-size",
        "16",
        "--scale-range",
        "16",
        "20",
    )
    assert "model_14 cannot be built for 16x16 inputs: " in message and "\x1b" not in message
    assert not (tmp_path / "run").exists()


def test_data_whose_training_images_all_fail_to_decode(tmp_path, rng):
    write_class_folders(tmp_path / "images" / "val", ["a", "b"], rng)
    for path in write_class_folders(tmp_path / "images" / "train", ["a", "b"], rng):
        with open(path, "r+b") as file:
            file.truncate(100)  # a download cut short
    message = error_line(
        "train", "--data", str(tmp_path / "images"), "--run-dir", str(tmp_path / "run"),
        "--batch-size", "2", "--crop-size", "16", "--scale-range", "16", "20",
    )  # fmt: skip
    assert "`data`: the training split of" in message and "gives not even a batch of 2" in message
    assert "of its files are skipped (such as " in message
    assert not (tmp_path / "run").exists()


def test_evaluate_json_into_a_missing_folder_fails_before_evaluating(finished_run, tmp_path):
    message = error_line("evaluate", str(finished_run), "--json", str(tmp_path / "no" / "r.json"))
    assert message == (
        f"keras-prelu evaluate: error: argument --json: the folder {tmp_path / 'no'} does not "
        "exist."
    )


def test_evaluate_on_data_of_other_classes(finished_run, tmp_path, rng):
    write_class_folders(tmp_path / "two", ["cat", "dog"], rng)
    message = error_line("evaluate", str(finished_run), "--data", str(tmp_path / "two"))
    assert "has 2 classes, but model 'run' scores 10" in message


@pytest.mark.parametrize(
    "damage, file, reason",
    [
        (
            lambda path: path.write_text('{"format": 2, "model'),
            run_folder.RUN_FILENAME,
            "not valid JSON",
        ),
        (lambda path: path.write_text("{}"), run_folder.RUN_FILENAME, "earlier version"),
        (
            lambda path: path.write_text('{"shape": [3]}'),
            run_folder.MEAN_FILENAME,
            "no field `mean`",
        ),
        (lambda path: path.write_bytes(b"\0" * 64), run_folder.MODEL_FILENAME, "cannot be loaded"),
        (lambda path: path.unlink(), run_folder.MODEL_FILENAME, "not a finished run folder"),
    ],
)
def test_a_damaged_run_folder_is_named(finished_run, damage, file, reason):
    damage(finished_run / file)
    for argv in (["evaluate", str(finished_run)], ["export", str(finished_run), "out.keras"]):
        message = error_line(*argv)
        assert str(finished_run) in message and reason in message, message


def test_export_onto_an_existing_file_fails_before_exporting(finished_run, tmp_path):
    (tmp_path / "exported").write_text("")
    message = error_line("export", str(finished_run), str(tmp_path / "exported"))
    assert message == (
        f"keras-prelu export: error: argument OUTPUT: {tmp_path / 'exported'} is an existing "
        "file, not a folder; remove it or choose another path."
    )
    message = error_line("export", str(finished_run), str(tmp_path), "--format", "onnx")
    assert f"argument OUTPUT: {tmp_path} is a folder; give a file path" in message
    message = error_line("export", str(finished_run), str(tmp_path / "exported" / "model"))
    assert message == (
        f"keras-prelu export: error: argument OUTPUT: {tmp_path / 'exported' / 'model'} lies "
        f"under {tmp_path / 'exported'}, which is a file."
    )
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep")
    message = error_line("export", str(finished_run), str(tmp_path / "notes"))
    assert message == (
        f"keras-prelu export: error: {tmp_path / 'notes'} is a folder that holds other files "
        "than a SavedModel: choose a new or empty folder, or a SavedModel to replace."
    )


def test_export_with_a_non_finite_mean(finished_run, tmp_path):
    out = str(tmp_path / "served.keras")
    message = error_line(
        "export", str(finished_run), out, "--format", "keras", "--mean", "nan", "0", "0"
    )
    assert "`mean` must be finite numbers. Received: mean with 1 NaN or infinite of 3" in message


def start_and_stop_before_training(run_dir, monkeypatch, *argv):
    """`keras-prelu train` up to its first step (recipe, run and mean written)."""
    from keras_prelu.training import fit_steps as fit_module

    class Stopped(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stopped

    with monkeypatch.context() as patched:
        patched.setattr(fit_module.keras.Model, "fit", stop)
        with pytest.raises(Stopped):
            run("train", "--run-dir", str(run_dir), *TINY, *argv)


def write_checkpoint(run_dir, epochs=1):
    run_folder.RunFolder(run_dir).checkpoint.write(
        epochs,
        lambda path: path.write_bytes(b"weights of the epochs trained"),
        stopped=False,
        callbacks={},
        unsaved_variables=[],
        generators={},
    )


@pytest.mark.parametrize(
    "damage, reason",
    [
        (  # deleted, not a kill: a kill leaves at most the first epoch's weights unnamed
            lambda c: (
                c.state_path.unlink(),
                (c.directory / "epoch-0002.weights.h5").write_bytes(b"epoch 2"),
            ),
            "holds weights (epoch-0001.weights.h5, epoch-0002.weights.h5) but no checkpoint",
        ),
        (lambda c: c.state_path.write_text(c.state_path.read_text()[:50]), "is not valid JSON"),
        (
            lambda c: c.state_path.write_text(
                c.state_path.read_text().replace('"epochs_completed": 1', '"epochs_completed": -1')
            ),
            "invalid field `epochs_completed`: it must be an integer >= 1. Received: "
            "epochs_completed=-1",
        ),
        (
            lambda c: (c.directory / "epoch-0001.weights.h5").write_bytes(
                b"weights of the epochs trainee"
            ),
            "does not match the SHA-256 that checkpoint.json records for it",
        ),
    ],
)
def test_a_damaged_checkpoint_is_refused_never_trained_over(tmp_path, monkeypatch, damage, reason):
    run_dir = tmp_path / "run"
    start_and_stop_before_training(run_dir, monkeypatch)
    write_checkpoint(run_dir)
    folder = run_folder.RunFolder(run_dir)
    folder.write_log([{"epoch": 1, "loss": 2.0}])
    damage(folder.checkpoint)
    before = {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}
    message = error_line("train", "--run-dir", str(run_dir), *TINY)
    assert reason in message
    assert {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()} == before


def test_a_trained_model_without_its_checkpoint_is_not_overwritten(finished_run):
    before = (finished_run / run_folder.MODEL_FILENAME).read_bytes()
    message = error_line("train", "--run-dir", str(finished_run), *TINY)
    assert "holds a trained model (model.keras) but no checkpoint" in message
    assert (finished_run / run_folder.MODEL_FILENAME).read_bytes() == before


def test_a_resume_without_mean_compute_keeps_the_computed_mean(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    start_and_stop_before_training(run_dir, monkeypatch, "--mean", "compute")
    folder = run_folder.RunFolder(run_dir)
    computed = folder.read_mean()
    assert computed.shape == (32, 32, 3) and folder.read_run().mean_kind == "computed"
    write_checkpoint(run_dir)
    folder.write_log([{"epoch": 1, "loss": 2.0}])  # the log of the epoch checkpointed
    start_and_stop_before_training(run_dir, monkeypatch)  # without --mean compute
    np.testing.assert_array_equal(folder.read_mean(), computed)
    record = json.loads(folder.run_path.read_text())
    assert record["augmentation"]["mean_kind"] == "computed"
    np.testing.assert_allclose(
        record["augmentation"]["mean_rgb"], computed.mean(axis=(0, 1)), rtol=1e-6
    )


def test_data_not_prepared_names_the_command_line_options(tmp_path):
    argv = ["train", "--data", "imagenet2012", "--data-dir", str(tmp_path), *TINY]
    message = error_line(*argv, "--run-dir", str(tmp_path / "run"))
    assert "ILSVRC2012_img_train.tar" in message and "once with --download" in message
    assert "download=True" not in message and "manual_dir=" not in message
    assert not (tmp_path / "run").exists()

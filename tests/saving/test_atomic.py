import os

import pytest

from keras_prelu.errors import InvalidValueError
from keras_prelu.saving import atomic
from tests.helpers.folders import read_only_folder

# Runs in the TensorFlow session only: no backend to vary.
pytestmark = pytest.mark.backend("tensorflow")


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "recipe.json"
    atomic.write_json(path, {"epochs": 1})

    def write_half_then_fail(temporary):
        temporary.write_text('{"epo')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match=f"Cannot write {path}: No space left on device"):
        atomic.write_file(path, write_half_then_fail)
    assert atomic.read_json(path) == {"epochs": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.json"]


def test_the_temporary_file_keeps_the_suffix_writers_check(tmp_path):
    def write(temporary):
        assert temporary.name.endswith(".keras")  # `keras.Model.save` checks it
        temporary.write_bytes(b"PK")

    atomic.write_file(tmp_path / "model.keras", write)
    assert (tmp_path / "model.keras").read_bytes() == b"PK"


def test_non_finite_numbers_are_never_written_nor_read(tmp_path):
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        atomic.write_json(tmp_path / "evaluation.json", {"loss": float("nan")})
    assert not (tmp_path / "evaluation.json").exists()
    (tmp_path / "evaluation.json").write_text('{"loss": NaN}')
    with pytest.raises(atomic.SavedFileError, match="evaluation.json is not valid JSON: NaN"):
        atomic.read_json(tmp_path / "evaluation.json")


@pytest.mark.parametrize(
    "contents, message",
    [(None, "is missing"), ("", "is not valid JSON"), ("[1]", "must hold a JSON object")],
)
def test_read_json_names_the_file_it_refuses(tmp_path, contents, message):
    path = tmp_path / "values.json"
    if contents is not None:
        path.write_text(contents)
    with pytest.raises(atomic.SavedFileError, match=f"{path} {message}"):
        atomic.read_json(path)


def fill(files):
    def write(folder):
        for name, text in files.items():
            (folder / name).write_text(text)

    return write


def test_a_folder_is_written_whole_and_replaced_only_when_asked(tmp_path):
    path = tmp_path / "exported"
    atomic.write_folder(path, fill({"a.txt": "1", "b.txt": "2"}))
    assert {p.name: p.read_text() for p in path.iterdir()} == {"a.txt": "1", "b.txt": "2"}
    with pytest.raises(FileExistsError, match=f"Cannot write {path}: it exists"):
        atomic.write_folder(path, fill({"c.txt": "3"}))
    atomic.write_folder(path, fill({"c.txt": "3"}), overwrite=True)
    assert {p.name: p.read_text() for p in path.iterdir()} == {"c.txt": "3"}
    assert sorted(os.listdir(tmp_path)) == ["exported"]


def test_a_failed_folder_write_keeps_the_previous_folder(tmp_path):
    path = tmp_path / "exported"
    atomic.write_folder(path, fill({"a.txt": "1"}))

    def write_then_fail(folder):
        (folder / "a.txt").write_text("partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match=f"Cannot write {path}: No space left on device"):
        atomic.write_folder(path, write_then_fail, overwrite=True)
    assert {p.name: p.read_text() for p in path.iterdir()} == {"a.txt": "1"}
    assert sorted(os.listdir(tmp_path)) == ["exported"]


def test_a_folder_left_renamed_away_is_put_back(tmp_path):
    # What a process killed between the two renames of an overwrite leaves.
    path = tmp_path / "exported"
    atomic.write_folder(path, fill({"a.txt": "old"}))
    os.rename(path, tmp_path / (atomic.REPLACED_PREFIX + "exported"))
    atomic.recover_folder(path)
    assert (path / "a.txt").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["exported"]


def test_a_folder_cannot_replace_a_file(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(FileExistsError, match="only a folder can be replaced by a folder"):
        atomic.write_folder(tmp_path / "out", fill({}), overwrite=True)
    assert (tmp_path / "out").read_text() == "a file"


def test_an_output_folder_is_checked_before_it_is_written(tmp_path):
    (tmp_path / "file").write_text("")
    atomic.check_writable_folder(tmp_path / "new" / "out", "out_dir")  # made with its parents
    with pytest.raises(InvalidValueError, match="must be a folder.*, which is a file") as info:
        atomic.check_writable_folder(tmp_path / "file", "out_dir")
    assert info.value.reason == (
        f"{tmp_path / 'file'} is an existing file, not a folder; remove it or choose another path"
    )
    with pytest.raises(InvalidValueError, match="lies under .*file, which is a file") as info:
        atomic.check_writable_folder(tmp_path / "file" / "out", "out_dir")
    assert (
        info.value.reason
        == f"{tmp_path / 'file' / 'out'} lies under {tmp_path / 'file'}, which is a file"
    )
    with read_only_folder(tmp_path / "locked") as folder:
        with pytest.raises(InvalidValueError, match="folder this process can write") as info:
            atomic.check_writable_folder(folder / "out", "out_dir")
    assert info.value.reason == f"the folder {folder} is read-only"


def test_an_output_file_is_checked_before_it_is_written(tmp_path):
    (tmp_path / "file").write_text("")
    atomic.check_writable_file(tmp_path / "file", "path")  # replaced when written
    atomic.check_writable_file(tmp_path / "new.json", "path")
    with pytest.raises(InvalidValueError, match="must be a file.*, which is a folder") as info:
        atomic.check_writable_file(tmp_path, "path")
    assert info.value.reason == f"{tmp_path} is a folder; give a file path"
    with pytest.raises(InvalidValueError, match="whose folder .* does not exist") as info:
        atomic.check_writable_file(tmp_path / "no" / "r.json", "path")
    assert info.value.reason == f"the folder {tmp_path / 'no'} does not exist"
    atomic.check_writable_file(tmp_path / "no" / "r.json", "path", create_folder=True)
    with pytest.raises(InvalidValueError, match="lies under .*file, which is a file") as info:
        atomic.check_writable_file(tmp_path / "file" / "r.json", "path")
    with pytest.raises(InvalidValueError, match="must be a file. .*lies under .*file, which"):
        atomic.check_writable_file(tmp_path / "file" / "a" / "r.json", "path", create_folder=True)
    assert info.value.reason == (
        f"{tmp_path / 'file' / 'r.json'} lies under {tmp_path / 'file'}, which is a file"
    )
    with read_only_folder(tmp_path / "locked") as folder:
        with pytest.raises(InvalidValueError, match="folder this process can write") as info:
            atomic.check_writable_file(folder / "r.json", "path")
    assert info.value.reason == f"the folder {folder} is read-only"

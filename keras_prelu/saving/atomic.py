"""Atomic writes: every file or folder keras-prelu writes, with one commit point each.

A file is written under a temporary name beside its path, flushed to disk (`fsync`),
then renamed over the path (`os.replace`), and the folder flushed: the rename is the
commit point. A process killed at any moment, or a full disk, leaves either the
previous whole file or the new whole file, never a part of one; what is left over is
a temporary file (`.tmp-<name>`), which the next write of the same path replaces.

A folder is built the same way under a temporary name and renamed into place; an
existing folder it replaces is renamed away first (`.old-<name>`) and removed after,
so that a kill leaves the old folder or the new one (the next write of the same path,
or `recover_folder`, puts a folder left renamed away back).

Every `OSError` is raised again as "Cannot <action> <path>: <reason>", naming the path
the caller asked for (not a temporary one), with its `errno` kept.
"""

import contextlib
import gc
import hashlib
import json
import os
import shutil
import sys
import traceback
from pathlib import Path

from keras_prelu.errors import InvalidValueError

__all__ = [
    "REPLACED_PREFIX",
    "TEMPORARY_PREFIX",
    "SavedFileError",
    "check_writable_file",
    "check_writable_folder",
    "file_sha256",
    "os_errors_naming",
    "read_json",
    "recover_folder",
    "remove_file",
    "write_file",
    "write_folder",
    "write_json",
    "write_text",
]

TEMPORARY_PREFIX = ".tmp-"
REPLACED_PREFIX = ".old-"
_READ_CHUNK = 1 << 20


class SavedFileError(InvalidValueError):
    """A saved file is missing, is not valid JSON or is not what its reader expects.

    The message names the file.
    """


def write_file(path, write):
    """Writes the file `path` through `write(temporary_path)`, atomically.

    `write` fills a temporary file beside `path` (same folder, same suffix, so that
    writers that check the suffix, such as `keras.Model.save`, accept it). The
    temporary file is flushed to disk, then renamed to `path` by `os.replace`: that
    rename is the commit point. If `write` or the flush fails, the temporary file is
    removed and `path` keeps its previous contents.

    Args:
        path: the file to write.
        write: a function that writes the whole file at the path it is given.

    Raises:
        OSError: "Cannot write <path>: <reason>" (a full disk, a read-only folder).
    """
    path = Path(path)
    temporary = path.with_name(TEMPORARY_PREFIX + path.name)
    try:
        with os_errors_naming(path, "write"):
            with _releasing_on_error(temporary):
                write(temporary)
            _fsync_file(temporary)
            os.replace(temporary, path)  # the commit point
            _fsync_folder(path.parent)
    finally:
        _remove_quietly(temporary)


def write_folder(path, write, *, overwrite=False):
    """Writes the folder `path` through `write(temporary_folder)`, atomically.

    `write` fills an empty folder created beside `path`. Its files and folders are
    flushed to disk, then it is renamed to `path`: that rename is the commit point.
    With `overwrite`, an existing folder at `path` is first renamed away to
    `.old-<name>` beside it and removed once the new one is in place; a process
    killed between the two renames leaves the old folder there, which the next
    `write_folder` of `path` (or `recover_folder`) renames back; a write that fails
    there (a full disk) renames it back itself before its error goes on.

    Args:
        path: the folder to write.
        write: a function that fills the folder it is given.
        overwrite: whether an existing folder at `path` is replaced.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False, or `path` is a file.
        OSError: "Cannot write <path>: <reason>".
    """
    path = Path(path)
    recover_folder(path)
    if path.exists() and (not overwrite or not path.is_dir()):
        what = "a folder" if path.is_dir() else "a file"
        raise FileExistsError(
            f"Cannot write {path}: it exists and is {what}"
            + ("." if path.is_dir() else "; only a folder can be replaced by a folder.")
        )
    temporary = path.with_name(TEMPORARY_PREFIX + path.name)
    replaced = path.with_name(REPLACED_PREFIX + path.name)
    try:
        with os_errors_naming(path, "write"):
            _remove_quietly(temporary)
            temporary.mkdir()
            with _releasing_on_error(temporary):
                write(temporary)
            _fsync_tree(temporary)
            if path.exists():
                os.rename(path, replaced)
            os.rename(temporary, path)  # the commit point
            _fsync_folder(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            recover_folder(path)  # a failed commit: the old folder back in its place
        raise
    finally:
        _remove_quietly(temporary)
    _remove_quietly(replaced)


def recover_folder(path):
    """Puts back a folder that a killed `write_folder(path, ...)` left renamed away.

    Removes the leftovers of such a write otherwise (the replaced folder when the new
    one is in place). Nothing happens when there are none.
    """
    path = Path(path)
    replaced = path.with_name(REPLACED_PREFIX + path.name)
    if not replaced.is_dir():
        return
    with os_errors_naming(path, "recover"):
        if path.exists():
            shutil.rmtree(replaced)
        else:
            os.rename(replaced, path)
            _fsync_folder(path.parent)


def remove_file(path):
    """Removes the file `path` (committed once its folder is flushed)."""
    path = Path(path)
    with os_errors_naming(path, "remove"):
        os.remove(path)
        _fsync_folder(path.parent)


def write_text(path, text):
    """Writes the string `text` to the file `path` atomically (see `write_file`)."""
    write_file(path, lambda temporary: Path(temporary).write_text(text))


def write_json(path, values):
    """Writes `values` as indented JSON to `path` atomically; NaN and infinity are refused.

    Raises:
        ValueError: `values` holds NaN or infinity (nothing is written).
    """
    write_text(path, json.dumps(values, indent=2, allow_nan=False) + "\n")


def read_json(path):
    """The JSON object that the file `path` holds.

    Raises:
        SavedFileError: the file is missing, is not valid JSON (NaN and infinity
            included) or does not hold an object; the message names `path`.
    """
    path = Path(path)
    if not path.is_file():
        raise SavedFileError(f"{path} is missing.")
    with os_errors_naming(path, "read"):
        text = path.read_text()
    try:
        values = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise SavedFileError(f"{path} is not valid JSON: {error}.") from None
    if not isinstance(values, dict):
        raise SavedFileError(f"{path} must hold a JSON object. Received: {type(values).__name__}")
    return values


def check_writable_folder(path, argument):
    """Raises unless `path` is, or can be created as, a folder this process can write.

    Call it where the folder is given, before any work that would write there.

    Raises:
        InvalidValueError: naming `argument`, when `path` (or a path above it) is a
            file, or its nearest existing folder is read-only. Its `reason` is the
            problem without the argument's name (what a command line prints after
            its option).
    """
    _check_writable(path, argument, folder=True)


def check_writable_file(path, argument, *, create_folder=False):
    """Raises unless `path` is, or can be created as, a file this process can write.

    The file is written atomically beside itself (see `write_file`): its folder must
    exist (or, with `create_folder`, be creatable) and be writable, and `path` must
    not be a folder. Call it where the path is given, before any work that would
    write there.

    Raises:
        InvalidValueError: naming `argument`, when `path` is a folder, its folder is
            missing or a file, or its folder is read-only. Its `reason` is the
            problem without the argument's name.
    """
    _check_writable(path, argument, folder=False, create_folder=create_folder)


def _check_writable(path, argument, *, folder, create_folder=False):
    """The one check of an output path: `check_writable_folder`, `check_writable_file`.

    A folder is created with its missing parents: its nearest existing path is
    checked. A file is written in its folder, which must exist unless `create_folder`.
    """
    path = Path(path)
    received = f"Received: {argument}={str(path)!r}"
    if folder:
        expected, writable = "a folder", "a folder this process can write"
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
    else:
        expected = "a file" if create_folder else "a file in an existing folder"
        writable = "a file in a folder this process can write"
        existing = path.absolute().parent
        if path.is_dir():
            raise _unwritable(
                f"Argument `{argument}` must be a file. {received}, which is a folder",
                f"{path} is a folder; give a file path",
            )
        while create_folder and not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.exists():
            raise _unwritable(
                f"Argument `{argument}` must be {expected}. {received}, whose folder "
                f"{existing} does not exist",
                f"the folder {existing} does not exist",
            )
    if not existing.is_dir():
        if existing == path:
            raise _unwritable(
                f"Argument `{argument}` must be {expected}. {received}, which is a file",
                f"{path} is an existing file, not a folder; remove it or choose another path",
            )
        raise _unwritable(
            f"Argument `{argument}` must be {expected}. {received}, which lies under "
            f"{existing}, which is a file",
            f"{path} lies under {existing}, which is a file",
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "its nearest existing folder" if folder else "its folder"
        what = "" if existing == path else f" ({where}, {existing})"
        raise _unwritable(
            f"Argument `{argument}` must be {writable}. {received}{what}, which is read-only",
            f"the folder {existing} is read-only",
        )


def _unwritable(message, reason):
    """An `InvalidValueError(message)` whose `reason` is the problem alone."""
    error = InvalidValueError(message)
    error.reason = reason
    return error


def file_sha256(path):
    """The SHA-256 of the file `path`, in hex."""
    digest = hashlib.sha256()
    with os_errors_naming(path, "read"), open(path, "rb") as file:
        while chunk := file.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def os_errors_naming(path, action):
    """Raises an `OSError` of the block again as "Cannot <action> <path>: <reason>"."""
    try:
        yield
    except OSError as error:
        # h5py's errors carry the errno, and a page of details as their text.
        reason = os.strerror(error.errno) if error.errno else str(error)
        named = OSError(f"Cannot {action} {path}: {reason}")
        named.errno = error.errno
        raise named from None


@contextlib.contextmanager
def _releasing_on_error(temporary):
    """Lets a failed writer close what it left open before its error goes on.

    A writer that fails on a full disk may leave a file open in the frames of its
    traceback (h5py's, under `keras.Model.save_weights`); its finalizer retries the
    failed flush later and prints errors long after the one reported, or crashes at
    exit. The temporary file is emptied first, which gives its space back, then the
    writer's finished frames are cleared and collected, so that such files close
    now; their finalizers' errors, the same failure, are not printed.
    """
    try:
        yield
    except BaseException as error:
        previous = sys.unraisablehook
        sys.unraisablehook = lambda unraisable: None
        try:
            _empty(temporary)
            while error is not None:
                traceback.clear_frames(error.__traceback__)
                error = error.__cause__ or error.__context__
            gc.collect()
        finally:
            sys.unraisablehook = previous
        raise


def _empty(path):
    """Truncates the file `path`, or every file in the folder `path`, to 0 bytes."""
    files = [path] if not path.is_dir() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        with contextlib.suppress(OSError):
            os.truncate(file, 0)


def _fsync_file(path):
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def _fsync_folder(folder):
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(folder):
    for parent, _, files in os.walk(folder):
        for name in files:
            _fsync_file(Path(parent) / name)
        _fsync_folder(parent)


def _remove_quietly(path):
    """Removes the file or folder `path` if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        with contextlib.suppress(OSError):
            path.unlink()


def _refuse_constant(name):
    raise InvalidValueError(f"{name} is not a number JSON allows")

"""Writes that a kill leaves whole: built beside the target, then renamed into place."""

import ctypes
import os
import shutil
import tempfile
from pathlib import Path


def write_folder(path, write, *, overwrite=False):
    """Fills a folder built beside `path` with `write(tmp_dir)`, then renames it to `path`.

    An existing folder (with `overwrite`) is renamed away first and removed after,
    so that a kill leaves the old folder or the new one.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent))
    try:
        write(building)
        _fsync_tree(building)
        replaced = path.exists() and _exchange(building, path)
        if not replaced:
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                shutil.rmtree(old)
            os.replace(building, path)
        _fsync(path.parent)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    if replaced:
        shutil.rmtree(building, ignore_errors=True)  # the old folder, swapped out
    return path


def _exchange(first, second):
    """Swaps two paths in one step (Linux `renameat2(RENAME_EXCHANGE)`); False where not."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_cwd, rename_exchange = -100, 2
    result = renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), rename_exchange)
    return result == 0


def _fsync_tree(folder):
    for file in folder.rglob("*"):
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync(folder)


def _fsync(folder):
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

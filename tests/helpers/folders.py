"""Folders in states a user meets: read-only."""

import contextlib
import os
import stat
import subprocess


@contextlib.contextmanager
def read_only_folder(path):
    """An existing folder at `path` that this process cannot write, for the block.

    For a user, its permissions say so; root writes through permissions, so for
    root it is a read-only filesystem mounted there (a tmpfs).
    """
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield path
        finally:
            path.chmod(stat.S_IRWXU)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)

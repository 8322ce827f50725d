"""Fault injection at the file layer: a command killed or failing at every step of its writes.

A command (a `keras-prelu` command line, or a Python script) runs under this module
in a child process:

    python -m tests.helpers.faults kill FOLDER REPORT -- keras-prelu ARGS...
    python -m tests.helpers.faults fail FOLDER REPORT -- python SCRIPT ARGS...
    python -m tests.helpers.faults kill-after:CALL:PATH FOLDER REPORT -- python SCRIPT...

Every call that changes a file or folder under FOLDER is a step: opening a file for
writing, `os.fsync` of one, `os.replace`, `os.rename`, `os.remove`/`os.unlink`,
`os.rmdir` (one for a whole `shutil.rmtree`), `os.mkdir` of a new folder (HDF5's and
TensorFlow's own writes, in C, happen between steps); each mode stops at the steps of
`KILL_POINTS` or `FAIL_POINTS`.

- `kill`: the command runs once whole, FOLDER copied aside before each step: each
  copy is what a process killed at that step (SIGKILL, a power cut after the
  `fsync`s) leaves on disk. Then, for every step, FOLDER is put back as that copy
  and the same command runs again.
- `fail`: for every step k, FOLDER is put back as it was before the command, the
  command runs with step k raising `OSError` ENOSPC (a full disk), then runs again
  without fault.
- `kill-after:CALL:PATH`: the command runs once and the process kills itself
  (SIGKILL) at the step after the first CALL of PATH (relative to FOLDER; for
  `replace`, the file renamed): a real death at one chosen step.

REPORT (a folder) receives `whole/` (FOLDER after the uninterrupted command),
`steps.json` (each step's call and path), `snapshots/` (FOLDER before the command,
`before/`, and, with `kill`, before each step k, `k/`), and for each step k
`after-k/` (FOLDER after the command that ran again), with `fail` `failed-k/`
(FOLDER after the failed command), and `runs-k.json` (each run's exit code and
stderr lines). With `KERAS_PRELU_FAULT_STRIDE=n` only every n-th step is tried (the
first and the last always): the suite's smoke size of a sweep. Nothing of this is in
the package: the patches are installed here, in the child, before the command runs.
"""

import builtins
import contextlib
import errno
import io
import json
import os
import runpy
import shutil
import signal
import sys
import traceback
from pathlib import Path

_WRITE_MODES = set("wax+")
STRIDE_VARIABLE = "KERAS_PRELU_FAULT_STRIDE"
# The steps each mode stops at. A kill: every call that changes what the folder holds
# (a kill at an `fsync` leaves the files a kill at the next step leaves). A failure:
# every call where a full disk shows (writing, flushing), and the renames.
KILL_POINTS = ("open", "replace", "rename", "remove", "unlink", "rmdir", "mkdir")
FAIL_POINTS = ("open", "fsync", "replace", "rename", "mkdir")
_CHANGES = {
    "replace": (0, 1),
    "rename": (0, 1),
    "remove": (0,),
    "unlink": (0,),
    "rmdir": (0,),
    "mkdir": (0,),
    "fsync": (0,),
}


class FileFaults:
    """Counts the steps under `folder`; at step `at`, `action` ("kill", "fail") happens.

    `before_step(k, call, path)` runs before each step (with the patches off).
    """

    def __init__(self, folder, points, before_step=None):
        self.folder = os.path.realpath(folder)
        self.points = points
        self.before_step = before_step
        self.reset()
        self.active = False

    def reset(self, action=None, at=0, after=None):
        self.action, self.at, self.after, self.steps = action, at, after, []

    @staticmethod
    def _path(path):
        """The absolute path of a path or of a file descriptor (os.fsync), or None."""
        if isinstance(path, int):
            try:
                return os.readlink(f"/proc/self/fd/{path}")
            except OSError:
                return None
        try:
            return os.path.realpath(os.path.abspath(os.fspath(path)))
        except TypeError:
            return None

    def _watched(self, path):
        path = self._path(path)
        if path is None:
            return None
        if path == self.folder or path.startswith(self.folder + os.sep):
            return os.path.relpath(path, self.folder)
        return None

    def _step(self, call, path):
        if not self.active or call not in self.points:
            return
        relative = self._watched(path)
        if relative is None or (call == "fsync" and os.path.isdir(self._path(path))):
            return  # a folder's fsync: the rename before it is the step
        if call == "mkdir" and os.path.isdir(self._path(path)):
            return  # an existing folder (`exist_ok`): nothing changes, a disk reports EEXIST
        self.steps.append((call, relative))
        k = len(self.steps)
        if self.before_step is not None:
            self.active = False
            try:
                self.before_step(k, call, relative)
            finally:
                self.active = True
        if self.after is not None and k > 1 and self.steps[-2] == self.after:
            self.at = k
        if k == self.at and self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if k == self.at and self.action == "fail":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._path(path))

    def install(self):
        """Wraps the `os` functions and `open` that change files."""
        for name, path_arguments in _CHANGES.items():
            setattr(os, name, self._wrap(name, getattr(os, name), path_arguments))
        builtins.open = io.open = self._wrap_open(io.open)
        self.active = True

    def _wrap(self, name, function, path_arguments):
        def changed(*args, **kwargs):
            if kwargs.get("dir_fd") is None and args:  # shutil.rmtree: its last rmdir, one step
                self._step(name, args[path_arguments[0]])
            return function(*args, **kwargs)

        return changed

    def _wrap_open(self, function):
        def opened(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and _WRITE_MODES & set(mode):
                self._step("open", file)
            return function(file, mode, *args, **kwargs)

        return opened


def run_command(program, arguments):
    """Runs the command in this process; returns `(exit code, stderr lines it wrote)`."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            if program == "keras-prelu":
                import keras_prelu_command

                code = keras_prelu_command.main(arguments)
            else:
                sys.argv = list(arguments)
                runpy.run_path(arguments[0], run_name="__main__")
                code = 0
    except SystemExit as exit:
        code = exit.code
    except BaseException:
        stderr.write(traceback.format_exc())
        code = "exception"
    if isinstance(code, str) and code != "exception":
        stderr.write(code + "\n")
        code = 1
    return code or 0, stderr.getvalue().splitlines()


def _copy(source, destination):
    shutil.rmtree(destination, ignore_errors=True)
    if os.path.exists(source):
        shutil.copytree(source, destination, symlinks=True)
    else:
        os.makedirs(destination)
        Path(destination, ".absent").write_text("")


def _restore(copy, folder):
    shutil.rmtree(folder, ignore_errors=True)
    if not os.path.exists(os.path.join(copy, ".absent")):
        shutil.copytree(copy, folder, symlinks=True)


def tried_steps(count, stride):
    """The steps of `count` that a sweep tries: every `stride`-th, the first and the last."""
    return sorted({1, count, *range(1, count + 1, stride)} - {0})


def main(argv):
    mode, folder, report, separator, program, *arguments = argv
    assert separator == "--", "usage: MODE FOLDER REPORT -- keras-prelu|python ARGS..."
    report = Path(report)
    report.mkdir(parents=True, exist_ok=True)
    snapshots = report / "snapshots"

    def snapshot(k, call, path):
        _copy(folder, snapshots / str(k))

    points = FAIL_POINTS if mode == "fail" else KILL_POINTS
    faults = FileFaults(folder, points, before_step=snapshot if mode == "kill" else None)
    _copy(folder, snapshots / "before")
    faults.install()
    if mode.startswith("kill-after:"):
        _, call, path = mode.split(":", 2)
        faults.reset("kill", after=(call, path))
        code, lines = run_command(program, arguments)
        faults.active = False
        (report / "runs.json").write_text(json.dumps([[code, lines]]))
        return 0

    code, lines = run_command(program, arguments)
    faults.active = False
    steps = faults.steps
    (report / "steps.json").write_text(json.dumps(steps))
    (report / "runs-0.json").write_text(json.dumps([[code, lines]]))
    _copy(folder, report / "whole")
    for k in tried_steps(len(steps), int(os.environ.get(STRIDE_VARIABLE, "1"))):
        runs = []
        if mode == "fail":
            _restore(snapshots / "before", folder)
            faults.reset("fail", k)
            faults.active = True
            runs.append(run_command(program, arguments))
            faults.active = False
            _copy(folder, report / f"failed-{k}")
        else:
            _restore(snapshots / str(k), folder)
        faults.reset()
        runs.append(run_command(program, arguments))
        (report / f"runs-{k}.json").write_text(json.dumps(runs))
        _copy(folder, report / f"after-{k}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

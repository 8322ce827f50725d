"""Child processes for the tests: fresh interpreters, drained pipes, events.

A fresh process is needed wherever TensorFlow must be configured before it
initializes (logical devices), a backend other than the test session's is
exercised, a user's journey is walked (only `import keras_prelu` and the public
API), or several processes must cooperate. Tests wait for events (a file, a
line of output) with a deadline, never for a fixed time, and every child's
pipes are drained so that it cannot block on a full pipe.
"""

import os
import resource
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

# Source that makes TensorFlow fail to import in a child, as where it is not installed (Keras
# imports it whenever it can, e.g. to serialize a model, so only this shows it is not needed).
# `importlib.util.find_spec` still finds a spec without an origin, as torch's compiler wants.
WITHOUT_TENSORFLOW = """
import importlib.abc, importlib.machinery, sys
class _WithoutTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "tensorflow":
            return importlib.machinery.ModuleSpec(name, self)
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)
sys.meta_path.insert(0, _WithoutTensorFlow())
"""


def python_env(backend="tensorflow", **variables):
    """This environment with a Keras backend (and `variables`) set."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env.update(variables)
    return env


def run_python(source, *args, backend="tensorflow", timeout=180, cwd=None, **variables):
    """Runs `source` (dedented) with `args`; returns its stdout, or fails."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), *map(str, args)],
        env=python_env(backend, **variables),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def keras_prelu_command():
    """The installed `keras-prelu` console script (or `python -m keras_prelu_command`)."""
    script = Path(sys.executable).with_name("keras-prelu")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "keras_prelu_command"]


class Child:
    """A child process whose stdout and stderr are read as it runs.

    `wait_for(condition)` polls `condition()` until it holds, the child ends or
    the deadline passes; `finish()` waits for the end and returns the exit code.
    `stdout` and `stderr` hold what was read so far. With `file_size_limit`, no
    file the child writes may grow past that many bytes (`RLIMIT_FSIZE`): a full
    disk without root.
    """

    def __init__(self, command, *, env=None, cwd=None, file_size_limit=None):
        def prepare_child():
            # Ctrl-C as in a terminal: a session started in the background ignores SIGINT,
            # and its children would inherit that.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if file_size_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

        self.process = subprocess.Popen(
            command,
            env=env if env is not None else python_env(),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=prepare_child,
        )
        self._lines = {"stdout": [], "stderr": []}
        self._readers = [
            threading.Thread(target=self._drain, args=(name, pipe), daemon=True)
            for name, pipe in (("stdout", self.process.stdout), ("stderr", self.process.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _drain(self, name, pipe):
        for line in pipe:
            self._lines[name].append(line)
        pipe.close()

    @property
    def stdout(self):
        return "".join(self._lines["stdout"])

    @property
    def stderr(self):
        return "".join(self._lines["stderr"])

    @property
    def pid(self):
        return self.process.pid

    def wait_for(self, condition, timeout, what="the event"):
        """Polls `condition()` until true; fails if the child ends first or time runs out."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the child ended (exit {self.process.returncode}) before {what}:\n"
                    + self.stderr[-4000:]
                )
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(
                    f"{what} did not happen in {timeout} s:\n" + self.stderr[-4000:]
                )
            time.sleep(0.05)

    def finish(self, timeout):
        """Waits for the child to end (killing it past `timeout`); its exit code."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the child ran past {timeout} s:\n" + self.stderr[-4000:]
            ) from None
        for reader in self._readers:
            reader.join()
        return self.process.returncode

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def send(self, signal_number):
        """Sends `signal_number` to the child."""
        self.process.send_signal(signal_number)


def free_ports(count=1):
    """`count` distinct free TCP ports on 127.0.0.1."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()

"""Running Python in fresh interpreters, for tests that need one.

A fresh process is needed wherever TensorFlow must be configured before it
initializes (logical devices), a backend other than the test session's is
exercised, or several processes must cooperate.
"""

import os
import subprocess
import sys
import textwrap


def python_env(backend="tensorflow", **variables):
    """This environment with a Keras backend (and `variables`) set."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env.update(variables)
    return env


def run_python(source, *args, backend="tensorflow", timeout=180, **variables):
    """Runs `source` (dedented) with `args`; returns its stdout, or fails."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), *map(str, args)],
        env=python_env(backend, **variables),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout

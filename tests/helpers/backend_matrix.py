"""The backend matrix: one `python -m pytest` runs the tests on every Keras backend.

The session runs on its own Keras backend (`KERAS_BACKEND`, TensorFlow by
default). For every other backend of `--backends` (all three by default), each
selected quick test (and each slow one with `--backends-slow`) gets a proxy
item, `test_name[jax]` or `test_name[params-jax]`; the first proxy of a
backend runs all of that backend's tests in one fresh pytest session (with
workers of its own under pytest-xdist), and every proxy then reports its
test's outcome there: passed, failed with the child's report, or skipped with
the child's reason. Under pytest-xdist (`-n`, as `addopts` sets) the workers
share each child session: the first worker to need it runs it, while the
others go on with their tests, and reads it when they reach a proxy
(`_BackendRun.outcome`). A test that needs some backends by nature (tf.data,
tf.distribute, or a process it starts itself) says so with
`@pytest.mark.backend("tensorflow")` and runs in those backends' sessions only.
"""

import dataclasses
import fcntl
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

BACKENDS = ("tensorflow", "jax", "torch")
# The longest a backend's child session may run before it is stopped.
CHILD_TIMEOUT = 2400
_REPORT_OPTION = "--backend-matrix-report"


def pytest_addoption(parser):
    parser.addoption(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated Keras backends to run the tests on (default: all three)",
    )
    parser.addoption(
        "--backends-slow",
        action="store_true",
        help="run the slow tests on the other backends too (default: their quick tests only)",
    )
    parser.addoption(_REPORT_OPTION, default=None, help="(internal) where a child writes results")


def pytest_configure(config):
    backends = requested_backends(config)
    unknown = [name for name in backends if name not in BACKENDS]
    if unknown or not backends:
        raise pytest.UsageError(
            f"Option `--backends` must name some of {', '.join(BACKENDS)}. "
            f"Received: --backends={config.getoption('--backends')}"
        )
    report = config.getoption(_REPORT_OPTION)
    if report and not hasattr(config, "workerinput"):  # a child's workers report to it
        config.pluginmanager.register(_ChildReporter(Path(report)), "backend-matrix-child")


def requested_backends(config):
    return [name.strip() for name in config.getoption("--backends").split(",") if name.strip()]


def session_backend():
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def backends_of(item, requested):
    """The backends of `requested` that `item` runs on."""
    needed = [name for mark in item.iter_markers("backend") for name in mark.args]
    return [name for name in requested if not needed or name in needed]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Adds the other backends' proxies before `-m` and `-k` select the items."""
    here = session_backend()
    requested = requested_backends(config)
    with_slow = config.getoption("--backends-slow")
    kept, moved, proxies = [], [], {name: [] for name in requested if name != here}
    for item in items:
        backends = backends_of(item, requested)
        (kept if here in backends else moved).append(item)
        if with_slow or item.get_closest_marker("slow") is None:
            for name in backends:
                if name != here:
                    proxies[name].append(item)
    if moved:
        config.hook.pytest_deselected(items=moved)
    items[:] = kept
    for name, originals in proxies.items():
        run = _BackendRun(name, config.rootpath)
        items.extend(BackendProxy.for_test(item, name, run) for item in originals)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Each backend's child session runs the tests whose proxies were selected."""
    for item in session.items:
        if isinstance(item, BackendProxy):
            item.run.nodeids.append(item.original.nodeid)


@dataclasses.dataclass
class _Outcome:
    """A test's outcome in a child session: its phases' reports merged."""

    outcome: str = "passed"
    text: str = ""


class _BackendRun:
    """One child pytest session on `backend`, run when its first result is asked for."""

    def __init__(self, backend, rootdir):
        self.backend = backend
        self.nodeids = []
        self.rootdir = rootdir
        self.outcomes = None
        self.log = ""

    def outcome(self, nodeid):
        if self.outcomes is None:
            self._run_once()
        return self.outcomes.get(nodeid)

    def _run_once(self):
        """Runs the child session once for all the workers of this test run: the first to
        ask runs it, holding a lock that the others wait on, then read what it left."""
        run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))
        shared = Path(tempfile.gettempdir()) / f"keras-prelu-backend-matrix-{run_id}"
        shared.mkdir(exist_ok=True)
        report, log = shared / f"{self.backend}.jsonl", shared / f"{self.backend}.log"
        with open(shared / f"{self.backend}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed
            if not log.exists():
                log.write_text(self._run(report))
        self.log = log.read_text()
        self.outcomes = _read_outcomes(report)

    def _run(self, report):
        """Runs the child session, which writes `report`; returns its output."""
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            # Its own parallel workers (`addopts`): a worker of this session that needs the
            # child's results waits for them, and leaves its core to the child.
            f"--backends={self.backend}",
            f"{_REPORT_OPTION}={report}",
            *self.nodeids,
        ]
        env = dict(os.environ, KERAS_BACKEND=self.backend)
        try:
            result = subprocess.run(
                command,
                cwd=self.rootdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                timeout=CHILD_TIMEOUT,
            )
            return result.stdout
        except subprocess.TimeoutExpired as error:
            output = (error.stdout or b"").decode(errors="replace")
            return output + f"\nthe {self.backend} session ran past {CHILD_TIMEOUT} s"


def _read_outcomes(report):
    outcomes = {}
    lines = report.read_text().splitlines() if report.exists() else []
    for line in lines:
        entry = json.loads(line)
        outcome = outcomes.setdefault(entry["nodeid"], _Outcome())
        if entry["outcome"] == "failed":
            outcome.outcome = "failed"
            outcome.text += f"[{entry['when']}] {entry['text']}\n"
        elif entry["outcome"] == "skipped" and outcome.outcome == "passed":
            outcome.outcome, outcome.text = "skipped", entry["text"]
    return outcomes


class BackendTestFailure(Exception):
    """A test failed, or did not report, in another backend's session."""


class BackendProxy(pytest.Item):
    """A test as run in another backend's session."""

    def __init__(self, *, original, backend, run, **kwargs):
        super().__init__(**kwargs)
        self.original = original
        self.backend = backend
        self.run = run
        self.own_markers.extend(original.own_markers)
        # The other backends' sessions add minutes: CI runs them, `-m "not slow"` does not.
        self.add_marker(pytest.mark.slow)

    @classmethod
    def for_test(cls, item, backend, run):
        name = item.name
        name = f"{name[:-1]}-{backend}]" if name.endswith("]") else f"{name}[{backend}]"
        return cls.from_parent(item.parent, name=name, original=item, backend=backend, run=run)

    def runtest(self):
        outcome = self.run.outcome(self.original.nodeid)
        if outcome is None:
            raise BackendTestFailure(
                f"The {self.backend} session gave no result for this test; its output ends:\n"
                + self.run.log[-4000:]
            )
        if outcome.outcome == "skipped":
            pytest.skip(f"[{self.backend}] {outcome.text}")
        if outcome.outcome == "failed":
            raise BackendTestFailure(f"On the {self.backend} backend:\n{outcome.text}")

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, BackendTestFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        path, line, _ = self.original.reportinfo()
        return path, line, f"{self.original.name} on {self.backend}"


class _ChildReporter:
    """In a child session: writes every phase's report as a JSON line."""

    def __init__(self, path):
        self.path = path

    def pytest_runtest_logreport(self, report):
        if report.outcome == "failed":
            sections = "".join(f"\n--- {title} ---\n{body}" for title, body in report.sections)
            text = str(report.longrepr) + sections
        elif report.outcome == "skipped":
            longrepr = report.longrepr
            text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        else:
            text = ""
        entry = {"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome}
        with self.path.open("a") as file:
            file.write(json.dumps({**entry, "text": text}) + "\n")

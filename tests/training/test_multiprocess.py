"""Training in two processes on 127.0.0.1 with keras.distribution (JAX).

Each test starts real processes that join through JAX's coordination
service on a free loopback port, as two machines would.
"""

import json
import os
import sys
import textwrap
import time

import numpy as np
import pytest

from keras_prelu.saving.run_folder import RunFolder
from tests.helpers.processes import Child
from tests.helpers.processes import free_ports
from tests.helpers.processes import python_env
from tests.helpers.processes import run_python
from tests.helpers.run_folders import epochs_completed
from tests.helpers.run_folders import log_epochs

# Runs in the TensorFlow session only: the processes it starts choose their backend.
pytestmark = pytest.mark.backend("tensorflow")

# The 14-layer model with a narrow top on 24x24 crops of the digits, two
# epochs of 5 global batches of 256 (128 per process): seconds a step. The
# 359 validation digits leave a last batch of 103 that no two devices share
# evenly.
EPOCHS = 2
BATCH = 256
MODEL_KWARGS = {"fc_units": (16, 16)}
AUGMENTATION = {"scale_range": (24, 28), "crop_size": 24}
HEARTBEAT_TIMEOUT = 10
MASK_ROWS, MASK_UNITS, MASK_SEED = 4, 64, 7

TRAIN = """
import dataclasses, json, sys
from pathlib import Path
import numpy as np
from keras_prelu.training import BUNDLED_RECIPE, distribution, fit

run_dir, out, name = sys.argv[1:4]
if len(sys.argv) > 4:
    distribution.initialize_processes(
        f"127.0.0.1:{sys.argv[4]}", 2, int(name),
        heartbeat_timeout=%(heartbeat)d,
    )
recipe = dataclasses.replace(
    BUNDLED_RECIPE, epochs=%(epochs)d, batch_size=%(batch)d, dropout=0.0
)
result = fit(
    run_dir=run_dir, recipe=recipe, model_kwargs=%(model)r,
    augmentation=%(augmentation)r, verbose=0,
)
out = Path(out)
np.savez(out / f"weights-{name}.npz", *result.model.get_weights())
(out / f"history-{name}.json").write_text(json.dumps(result.history))
(out / f"evaluation-{name}.json").write_text(json.dumps(result.evaluation))
""" % {
    "epochs": EPOCHS,
    "batch": BATCH,
    "model": MODEL_KWARGS,
    "augmentation": AUGMENTATION,
    "heartbeat": HEARTBEAT_TIMEOUT,
}

# Each process draws the dropout mask of its rows of a global batch of ones.
MASK = """
import sys
from pathlib import Path
import jax, keras, numpy as np
from keras_prelu.training import distribution

out, process_id, port = sys.argv[1:4]
distribution.initialize_processes(f"127.0.0.1:{port}", 2, int(process_id))
dist = distribution.get_distribution("auto")
sharding = jax.sharding.NamedSharding(
    dist.device_mesh.backend_mesh, jax.sharding.PartitionSpec(dist.batch_dim_name)
)
ones = jax.make_array_from_process_local_data(
    sharding, np.ones((%(rows)d, %(units)d), "float32")
)
with dist.scope():
    dropped = jax.jit(lambda x: keras.random.dropout(x, 0.5, seed=%(seed)d))(ones)
np.save(Path(out) / f"mask-{process_id}.npy",
        np.asarray(dropped.addressable_shards[0].data))
""" % {"rows": MASK_ROWS, "units": MASK_UNITS, "seed": MASK_SEED}

# One device draws the dropout mask of the whole global batch.
MASK_REFERENCE = """
import sys
from pathlib import Path
import keras, numpy as np
mask = keras.random.dropout(np.ones((2 * %(rows)d, %(units)d), "float32"), 0.5,
                            seed=%(seed)d)
np.save(Path(sys.argv[1]) / "mask-reference.npy", keras.ops.convert_to_numpy(mask))
""" % {"rows": MASK_ROWS, "units": MASK_UNITS, "seed": MASK_SEED}


def start(command):
    return Child(command, env=python_env("jax"))


def finish_all(children, timeout):
    """Waits for all `children`; returns their (returncode, stdout, stderr)."""
    deadline = time.monotonic() + timeout
    results = []
    try:
        for child in children:
            code = child.finish(max(1, deadline - time.monotonic()))
            results.append((code, child.stdout, child.stderr))
    finally:
        for child in children:
            child.kill()
    return results


def load_weights(path):
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


def start_two_processes(source, *args):
    """`source` in processes 0 and 1, joined on a free port: `args`, id, port."""
    (port,) = free_ports()
    return [
        start(
            [sys.executable, "-c", textwrap.dedent(source), *map(str, args), str(index), str(port)]
        )
        for index in range(2)
    ]


def read_json(path):
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The run in two processes, and in one process on one and on two devices."""
    out = tmp_path_factory.mktemp("runs")
    workers = start_two_processes(TRAIN, out / "two-processes", out)
    for code, _, err in finish_all(workers, timeout=400):
        assert code == 0, err[-4000:]
    run_python(TRAIN, out / "one-device", out, "one-device", backend="jax", timeout=300)
    run_python(
        TRAIN,
        out / "two-devices",
        out,
        "two-devices",
        backend="jax",
        timeout=300,
        XLA_FLAGS=os.environ["XLA_FLAGS"] + " --xla_force_host_platform_device_count=2",
    )
    return out


@pytest.mark.slow
def test_two_processes_train_the_same_replicas_and_one_writes(runs):
    run_dir = runs / "two-processes"
    first, second = (load_weights(runs / f"weights-{i}.npz") for i in range(2))
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)  # replicas: bitwise the same
    assert epochs_completed(run_dir) == EPOCHS
    # Only process 0 wrote the run; its log has one row per epoch.
    assert log_epochs(run_dir) == [1, 2]
    assert RunFolder(run_dir).is_finished()
    assert read_json(runs / "history-1.json") == read_json(runs / "history-0.json")


@pytest.mark.slow
def test_two_processes_compute_what_one_process_computes(runs):
    two_processes = load_weights(runs / "weights-0.npz")
    history = read_json(runs / "history-0.json")
    # One process on two devices splits each batch as the two processes do
    # (rows 0-127 on the first device): the same run, bit for bit, the
    # padded last validation batch included.
    for a, b in zip(two_processes, load_weights(runs / "weights-two-devices.npz")):
        np.testing.assert_array_equal(a, b)
    assert read_json(runs / "history-two-devices.json") == history
    assert read_json(runs / "evaluation-two-devices.json") == read_json(runs / "evaluation-0.json")
    # One device sums each batch whole, in another order: 3e-5 apart after
    # these 10 steps (5e-3 when the processes read other examples than one
    # process would).
    one_device = load_weights(runs / "weights-one-device.npz")
    assert len(one_device) == len(two_processes)
    for a, b in zip(two_processes, one_device):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)
    reference = read_json(runs / "history-one-device.json")
    assert history.keys() == reference.keys()
    for name in history:
        np.testing.assert_allclose(history[name], reference[name], rtol=1e-4, err_msg=name)


@pytest.mark.slow
def test_each_process_draws_the_dropout_of_its_own_rows(tmp_path):
    workers = start_two_processes(MASK, tmp_path)
    for code, _, err in finish_all(workers, timeout=120):
        assert code == 0, err[-4000:]
    run_python(MASK_REFERENCE, tmp_path, backend="jax", timeout=120)
    masks = [np.load(tmp_path / f"mask-{i}.npy") for i in range(2)]
    global_mask = np.load(tmp_path / "mask-reference.npy")
    assert not np.array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(np.concatenate(masks), global_mask)
    assert 0.3 < (global_mask == 0).mean() < 0.7


@pytest.mark.slow
def test_a_killed_process_stops_the_other_and_both_resume(tmp_path, runs):
    run_dir = tmp_path / "run"
    workers = start_two_processes(TRAIN, run_dir, tmp_path)
    # Killed the moment the first epoch is checkpointed, during the second one.
    workers[1].wait_for(lambda: epochs_completed(run_dir) >= 1, 300, "the first checkpoint")
    workers[1].kill()
    killed = time.monotonic()
    ((code, _, err),) = finish_all(workers[:1], timeout=4 * HEARTBEAT_TIMEOUT)
    stopped_after = time.monotonic() - killed
    finish_all(workers[1:], timeout=10)
    assert epochs_completed(run_dir) == 1, "killed after the last epoch"
    assert code != 0
    assert stopped_after < 2 * HEARTBEAT_TIMEOUT
    assert "start all 2 processes again with the same arguments" in err, err[-4000:]

    workers = start_two_processes(TRAIN, run_dir, tmp_path)
    for code, _, err in finish_all(workers, timeout=400):
        assert code == 0, err[-4000:]
    assert epochs_completed(run_dir) == EPOCHS
    assert log_epochs(run_dir) == [1, 2]
    # The resumed run ends where the uninterrupted one did.
    for a, b in zip(load_weights(tmp_path / "weights-0.npz"), load_weights(runs / "weights-0.npz")):
        np.testing.assert_array_equal(a, b)

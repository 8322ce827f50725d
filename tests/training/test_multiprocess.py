"""Training in two processes on 127.0.0.1 with keras.distribution (JAX).

Each test starts real processes that join through JAX's coordination
service on a free loopback port, as two machines would.
"""

import csv
import json
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tests.training.subprocesses import python_env
from tests.training.subprocesses import run_python

# The 14-layer model with a narrow top on 24x24 crops of the digits, two
# epochs of 5 global batches of 256 (128 per process): seconds a step.
EPOCHS = 2
BATCH = 256
MODEL_KWARGS = {"fc_units": (16, 16)}
AUGMENTATION = {"scale_range": (24, 28), "crop_size": 24}
MASK_ROWS, MASK_UNITS, MASK_SEED = 4, 64, 7

WORKER = """
import dataclasses, json, sys
from pathlib import Path
import numpy as np
from keras_prelu.training import BUNDLED_RECIPE, distribution, fit

port, process_id, run_dir, out = sys.argv[1:5]
distribution.initialize_processes(
    f"127.0.0.1:{port}", 2, int(process_id), heartbeat_timeout=20
)
recipe = dataclasses.replace(
    BUNDLED_RECIPE, epochs=%(epochs)d, batch_size=%(batch)d, dropout=0.0
)
result = fit(
    run_dir=run_dir, recipe=recipe, model_kwargs=%(model)r,
    augmentation=%(augmentation)r, verbose=0,
)
out = Path(out)
np.savez(out / f"weights-{process_id}.npz", *result.model.get_weights())
(out / f"epochs-{process_id}.json").write_text(json.dumps(result.epochs_completed))

# The dropout mask of this process' rows of a global batch of ones.
import jax, keras
dist = distribution.get_distribution("auto")
sharding = jax.sharding.NamedSharding(
    dist.device_mesh.backend_mesh, jax.sharding.PartitionSpec(dist.batch_dim_name)
)
ones = jax.make_array_from_process_local_data(
    sharding, np.ones((%(rows)d, %(units)d), "float32")
)
with dist.scope():
    dropped = jax.jit(lambda x: keras.random.dropout(x, 0.5, seed=%(seed)d))(ones)
np.save(out / f"mask-{process_id}.npy", np.asarray(dropped.addressable_shards[0].data))
""" % {
    "epochs": EPOCHS, "batch": BATCH, "model": MODEL_KWARGS,
    "augmentation": AUGMENTATION, "rows": MASK_ROWS, "units": MASK_UNITS,
    "seed": MASK_SEED,
}

# The same run in one process on one device: the global batches whole.
REFERENCE = """
import dataclasses, json, sys
from pathlib import Path
import numpy as np
from keras_prelu.training import BUNDLED_RECIPE, fit

run_dir, out = sys.argv[1:3]
recipe = dataclasses.replace(
    BUNDLED_RECIPE, epochs=%(epochs)d, batch_size=%(batch)d, dropout=0.0
)
result = fit(
    run_dir=run_dir, recipe=recipe, model_kwargs=%(model)r,
    augmentation=%(augmentation)r, verbose=0,
)
np.savez(Path(out) / "weights-reference.npz", *result.model.get_weights())
(Path(out) / "history-reference.json").write_text(json.dumps(result.history))
""" % {
    "epochs": EPOCHS, "batch": BATCH, "model": MODEL_KWARGS,
    "augmentation": AUGMENTATION,
}

# One device draws the dropout mask of the whole global batch.
MASK_REFERENCE = """
import sys
from pathlib import Path
import keras, numpy as np
mask = keras.random.dropout(np.ones((2 * %(rows)d, %(units)d), "float32"), 0.5,
                            seed=%(seed)d)
np.save(Path(sys.argv[1]) / "mask-reference.npy", keras.ops.convert_to_numpy(mask))
""" % {"rows": MASK_ROWS, "units": MASK_UNITS, "seed": MASK_SEED}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command, **variables):
    return subprocess.Popen(
        command,
        env=python_env("jax", **variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_all(processes, timeout):
    """Waits for all `processes`; returns their (returncode, stdout, stderr)."""
    deadline = time.monotonic() + timeout
    results = []
    try:
        for process in processes:
            out, err = process.communicate(
                timeout=max(1, deadline - time.monotonic())
            )
            results.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def load_weights(path):
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


@pytest.mark.slow
def test_two_processes_train_as_one_process_and_draw_their_own_dropout_rows(
    tmp_path,
):
    run_dir = tmp_path / "run"
    port = free_port()
    workers = [
        start([sys.executable, "-c", textwrap.dedent(WORKER), str(port),
               str(index), str(run_dir), str(tmp_path)])
        for index in range(2)
    ]
    for code, _, err in finish_all(workers, timeout=400):
        assert code == 0, err[-4000:]
    run_python(MASK_REFERENCE, tmp_path, backend="jax", timeout=120)
    run_python(REFERENCE, tmp_path / "reference-run", tmp_path, backend="jax",
               timeout=300)

    assert [json.loads((tmp_path / f"epochs-{i}.json").read_text())
            for i in range(2)] == [EPOCHS, EPOCHS]
    first, second = (load_weights(tmp_path / f"weights-{i}.npz") for i in range(2))
    state = json.loads((run_dir / "checkpoint" / "checkpoint.json").read_text())
    assert state["epochs_completed"] == EPOCHS
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)  # replicas: bitwise the same
    # Only process 0 wrote the run; its log has one row per epoch.
    with (run_dir / "log.csv").open(newline="") as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["0", "1"]
    assert (run_dir / "model.keras").exists()

    # The union of the processes' batches of each step is the global batch
    # of one process, augmentation included: the same training up to float
    # rounding. Splitting a batch over two devices sums in another order:
    # one process on two devices ends bitwise where the two processes do,
    # 3e-5 from one device after these 10 steps (5e-3 when the processes
    # read other examples than one process would).
    reference = load_weights(tmp_path / "weights-reference.npz")
    assert len(reference) == len(first)
    for a, b in zip(first, reference):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)
    history = json.loads((tmp_path / "history-reference.json").read_text())
    with (run_dir / "log.csv").open(newline="") as file:
        losses = [float(row["loss"]) for row in csv.DictReader(file)]
    np.testing.assert_allclose(losses, history["loss"], rtol=1e-5)

    # Dropout: each process draws the mask of its own rows of the global
    # batch, the rows one device draws for the whole batch.
    masks = [np.load(tmp_path / f"mask-{i}.npy") for i in range(2)]
    global_mask = np.load(tmp_path / "mask-reference.npy")
    assert not np.array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(np.concatenate(masks), global_mask)
    assert 0.3 < (global_mask == 0).mean() < 0.7

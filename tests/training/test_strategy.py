import json
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from keras_prelu.training import Recipe
from keras_prelu.training import get_strategy
from tests.helpers.processes import free_ports
from tests.helpers.processes import python_env
from tests.helpers.processes import run_python

# Runs in the TensorFlow session only: tf.distribute.
pytestmark = pytest.mark.backend("tensorflow")

# Splits the CPU into two logical devices before TensorFlow initializes.
TWO_CPUS = """
import tensorflow as tf
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)
"""


def test_auto_and_none_give_the_default_strategy_without_several_gpus():
    assert not tf.config.list_logical_devices("GPU")
    for name in ("auto", "none"):
        strategy = get_strategy(name)
        assert strategy is tf.distribute.get_strategy()
        assert strategy.num_replicas_in_sync == 1


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="`name` must be one of"):
        get_strategy("tpu")


def test_multi_worker_is_not_offered_until_model_fit_runs_under_it():
    # MultiWorkerMirroredStrategy cannot run model.fit in Keras 3.15 (see
    # test_multi_worker_mirrored_fit_fails_as_documented below).
    with pytest.raises(ValueError, match="`name` must be one of"):
        get_strategy("multi_worker")
    with pytest.raises(ValueError, match="Recipe field `strategy` must be one of"):
        Recipe(strategy="multi_worker")


REPLICAS_SCRIPT = (
    TWO_CPUS
    + """
import json
import keras, numpy as np
from keras_prelu.layers.dropout import Dropout
from keras_prelu.training import CaffeSGD, get_strategy

rng = np.random.default_rng(0)
x = rng.normal(size=(64, 8, 8, 3)).astype("float32")
y = rng.integers(0, 4, size=64)

def prelu():
    return keras.layers.PReLU(
        alpha_initializer=keras.initializers.Constant(0.25), shared_axes=(1, 2)
    )

def train(strategy, make_dropout):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(8, 3), prelu(),
            keras.layers.Conv2D(8, 3, strides=2), prelu(),
            keras.layers.Flatten(),
            keras.layers.Dense(16), keras.layers.PReLU(),
            make_dropout(),
            keras.layers.Dense(4),
        ])
        model.compile(
            CaffeSGD(learning_rate=0.05),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    initial = [keras.ops.convert_to_numpy(w) for w in model.weights]
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    final = [keras.ops.convert_to_numpy(w) for w in model.weights]
    return initial, final

def largest_difference(first, second):
    return max(float(np.abs(a - b).max()) for a, b in zip(first, second))

def one_versus_two_replicas(make_dropout):
    initial, one = train(get_strategy("none"), make_dropout)
    _, two = train(mirrored, make_dropout)
    return largest_difference(one, two), largest_difference(initial, one)

mirrored = get_strategy("mirrored")
no_dropout, moved = one_versus_two_replicas(lambda: keras.layers.Dropout(0.0))
ours, _ = one_versus_two_replicas(lambda: Dropout(0.5, seed=5))
keras_dropout, _ = one_versus_two_replicas(
    lambda: keras.layers.Dropout(0.5, seed=5)
)
print(json.dumps({
    "auto_replicas": get_strategy("auto").num_replicas_in_sync,
    "mirrored_replicas": mirrored.num_replicas_in_sync,
    "moved": moved,
    "no_dropout": no_dropout,
    "our_dropout": ours,
    "keras_dropout": keras_dropout,
}))
"""
)


@pytest.mark.slow
def test_two_replicas_reach_the_weights_of_one_device():
    lines = run_python(REPLICAS_SCRIPT).splitlines()
    print(lines[0])  # the measured differences, for -s runs
    result = json.loads(lines[0])
    assert result["auto_replicas"] == 1  # two CPUs, no GPU: one device
    assert result["mirrored_replicas"] == 2
    # Same global batch, SGD + momentum + Caffe L2, PReLU: float32 rounding.
    assert result["moved"] > 1e-2  # training did change the weights
    assert result["no_dropout"] < 1e-6
    # One global-batch mask, sliced per replica, drops what one device does.
    assert result["our_dropout"] < 1e-5
    # keras' Dropout repeats one mask per replica: another trajectory.
    assert result["keras_dropout"] > 1e-3


WORKER_SCRIPT = """
import json, os, sys
index, ports = int(sys.argv[1]), sys.argv[2].split(",")
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
    "task": {"type": "worker", "index": index},
})
import keras, numpy as np, tensorflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
x = np.random.default_rng(index).normal(size=(32, 4)).astype("float32")
data = tf.data.Dataset.from_tensor_slices((x, np.zeros((32, 2), "float32")))
try:
    model.fit(data.batch(8), epochs=1, verbose=0)
    print(json.dumps({"workers": strategy.num_replicas_in_sync, "error": None}))
except Exception as error:
    print(json.dumps({
        "workers": strategy.num_replicas_in_sync,
        "error": type(error).__name__,
        "message": str(error),
    }))
"""


@pytest.mark.slow
def test_multi_worker_mirrored_fit_fails_as_documented():
    """Two workers on localhost: `fit` cannot start (PITFALLS.md).

    Should a Keras release fix it, this test fails and `get_strategy`'s
    `"multi_worker"` can be enabled.
    """
    ports = ",".join(map(str, free_ports(2)))
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(WORKER_SCRIPT),
                str(i),
                ports,
            ],
            env=python_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        outputs = [worker.communicate(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-4000:]
        result = json.loads(stdout.splitlines()[-1])
        assert result["workers"] == 2  # the cluster did form
        assert result["error"] == "ValueError"
        assert "Attempt to convert a value (PerReplica" in result["message"]
        assert "unsupported type" in result["message"]


PARALLEL_SCRIPT = (
    TWO_CPUS
    + """
import json
from keras_prelu.training import Parallel

parallel = Parallel("mirrored")
with parallel.build_scope():
    in_scope = tf.distribute.get_strategy() is parallel.strategy
try:
    parallel.per_replica_batch_size(33)
except ValueError as error:
    message = str(error)
print(json.dumps({
    "replicas": parallel.num_replicas,
    "processes": parallel.num_processes,
    "per_replica_batch": parallel.per_replica_batch_size(32),
    "in_scope": in_scope,
    "message": message,
}))
"""
)


def test_parallel_splits_the_batch_among_two_replicas_and_refuses_an_uneven_one():
    result = json.loads(run_python(PARALLEL_SCRIPT))
    assert (result["replicas"], result["processes"]) == (2, 1)
    assert result["per_replica_batch"] == 16
    assert result["in_scope"]  # the model is built in the strategy's scope
    assert result["message"].startswith(
        "Recipe field `batch_size` (33, the global batch) must be divisible by the 2 replicas"
    )

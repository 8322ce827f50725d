import json
import os

import keras
import numpy as np
import pytest
from keras.src import testing

from keras_prelu.layers.dropout import Dropout
from tests.helpers.arrays import to_numpy
from tests.helpers.processes import run_python


@pytest.mark.parametrize("noise_shape", [None, (None, 1, 5), (1, 3, 5)])
def test_one_device_drops_exactly_like_keras_dropout(noise_shape):
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype("float32")
    ours = Dropout(0.3, noise_shape=noise_shape, seed=7)
    theirs = keras.layers.Dropout(0.3, noise_shape=noise_shape, seed=7)
    for _ in range(2):  # the seed advances alike
        np.testing.assert_array_equal(
            to_numpy(ours(x, training=True)), to_numpy(theirs(x, training=True))
        )
    np.testing.assert_array_equal(to_numpy(ours(x, training=False)), x)
    np.testing.assert_array_equal(to_numpy(Dropout(0.0)(x, training=True)), x)


def test_drops_at_the_rate_and_rescales():
    outputs = to_numpy(Dropout(0.5, seed=1)(np.ones((200, 100)), training=True))
    assert set(np.unique(outputs)) == {0.0, 2.0}
    assert abs((outputs == 0).mean() - 0.5) < 0.01  # 20000 draws: 7 sigma


def test_config_round_trip_and_keras_file(tmp_path):
    layer = Dropout(0.25, noise_shape=(None, 1), seed=3, name="drop")
    keras_layer = keras.layers.Dropout(0.25, noise_shape=(None, 1), seed=3, name="drop")
    assert layer.get_config() == keras_layer.get_config()
    assert Dropout.from_config(layer.get_config()).get_config() == (layer.get_config())
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), layer])
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded.get_layer("drop")) is Dropout
    assert loaded.get_layer("drop").get_config() == layer.get_config()
    x = np.ones((2, 4), "float32")
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_invalid_rate_raises(rate):
    with pytest.raises(ValueError, match="`rate`"):
        Dropout(rate)


REPLICA_MASKS_SCRIPT = """
import json
import tensorflow as tf
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)
import keras
from keras_prelu.layers.dropout import Dropout

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

def replica_masks(layer_class, noise_shape):
    with strategy.scope():
        layer = layer_class(0.5, noise_shape=noise_shape, seed=1)
    step = tf.function(
        lambda: strategy.run(lambda: layer(tf.ones((4, 16)), training=True))
    )
    return [
        [mask.numpy().tolist() for mask in
         strategy.experimental_local_results(step())]
        for _ in range(2)
    ]

def one_device_masks(noise_shape):
    layer = Dropout(0.5, noise_shape=noise_shape, seed=1)
    return [layer(tf.ones((8, 16)), training=True).numpy().tolist()
            for _ in range(2)]

print(json.dumps({
    str(noise_shape): {
        "ours": replica_masks(Dropout, noise_shape),
        "keras": replica_masks(keras.layers.Dropout, noise_shape),
        "one_device": one_device_masks(noise_shape),
    }
    for noise_shape in (None, (None, 1), (1, 16))
}))
"""


@pytest.mark.slow
@pytest.mark.backend("tensorflow")  # it starts its own processes
def test_replicas_draw_the_slices_of_one_global_mask():
    results = json.loads(run_python(REPLICA_MASKS_SCRIPT))
    for noise_shape, masks in results.items():
        for step in range(2):
            first, second = np.array(masks["ours"][step])
            global_mask = np.array(masks["one_device"][step])
            # Replica i holds rows [4 i, 4 i + 4) of the global batch's mask.
            np.testing.assert_array_equal(np.concatenate([first, second]), global_mask)
            keras_first, keras_second = np.array(masks["keras"][step])
            np.testing.assert_array_equal(keras_first, keras_second)
            if noise_shape == "(1, 16)":  # one mask for the whole batch
                np.testing.assert_array_equal(first, second)
            else:
                assert (first != second).any(), noise_shape


# Under keras.distribution.DataParallel over 2 CPU devices, JAX computes one
# global batch: training with dropout must match training on one device.
JAX_DATA_PARALLEL_SCRIPT = """
import json
import keras, numpy as np
from keras_prelu.layers.dropout import Dropout

devices = keras.distribution.list_devices("cpu")
assert len(devices) == 2, devices
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 8)).astype("float32")
y = rng.normal(size=(64, 2)).astype("float32")

def train():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(32), Dropout(0.5, seed=2),
        keras.layers.Dense(2),
    ])
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return [keras.ops.convert_to_numpy(w) for w in model.weights]

one = train()
keras.distribution.set_distribution(
    keras.distribution.DataParallel(devices=devices)
)
two = train()
print(json.dumps(max(float(abs(a - b).max()) for a, b in zip(one, two))))
"""


@pytest.mark.slow
@pytest.mark.backend("tensorflow")  # it starts its own processes
def test_jax_data_parallel_dropout_is_global_batch_dropout():
    difference = json.loads(
        run_python(
            JAX_DATA_PARALLEL_SCRIPT,
            backend="jax",
            XLA_FLAGS=os.environ["XLA_FLAGS"] + " --xla_force_host_platform_device_count=2",
        )
    )
    assert difference < 1e-6


class DropoutOnKerasHarness(testing.TestCase):
    """Keras' own layer checks, with the arguments of Keras' own Dropout test."""

    def test_layer(self):
        self.run_layer_test(
            Dropout,
            init_kwargs={"rate": 0.2},
            input_shape=(2, 3),
            call_kwargs={"training": True},
            expected_output_shape=(2, 3),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=1,
            expected_num_losses=0,
            supports_masking=True,
            assert_built_after_instantiation=True,
        )

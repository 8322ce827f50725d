"""The private Keras API of `keras_prelu._compat`, one test each, against Keras' behaviour."""

import keras
import numpy as np

from keras_prelu import _compat


def test_learning_rate_variable_is_the_variable_a_float_rate_is_stored_in():
    optimizer = keras.optimizers.SGD(learning_rate=0.25)
    variable = _compat.learning_rate_variable(optimizer)
    assert isinstance(variable, keras.Variable)
    variable.assign(0.125)
    assert float(optimizer.learning_rate) == 0.125
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert _compat.learning_rate_variable(keras.optimizers.SGD(schedule)) is schedule


def test_set_initial_epoch_from_on_train_begin_skips_the_epochs_done():
    class Resume(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            _compat.set_initial_epoch(self.model, 2)

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(
        np.zeros((4, 1)), np.zeros((4, 1)), epochs=3, verbose=0, callbacks=[Resume()]
    )
    assert history.epoch == [2]


def test_set_lower_is_better_is_what_keras_reads_for_mode_auto():
    metric = keras.metrics.Mean()
    _compat.set_lower_is_better(metric)
    # Keras' own metrics carry the same attribute: up for accuracy, down for an error.
    assert keras.metrics.Accuracy()._direction == "up"
    assert keras.metrics.MeanSquaredError()._direction == metric._direction == "down"
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=[keras.metrics.MeanSquaredError(name="error")])
    model.fit(np.zeros((4, 1)), np.zeros((4, 1)), epochs=1, verbose=0)
    stopping = keras.callbacks.EarlyStopping(monitor="error", mode="auto")
    stopping.set_model(model)
    stopping._set_monitor_op()
    assert stopping.monitor_op is keras.ops.less


def test_uses_weight_decay_follows_exclude_from_weight_decay():
    optimizer = keras.optimizers.SGD(weight_decay=0.1)
    kernel, bias = (
        keras.Variable(np.ones((2, 2)), name="kernel"),
        keras.Variable([0.0], name="bias"),
    )
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    assert _compat.uses_weight_decay(optimizer, kernel)
    assert not _compat.uses_weight_decay(optimizer, bias)


def test_variable_index_is_the_position_among_the_built_variables():
    variables = [keras.Variable(np.zeros(n), name=f"v{n}") for n in (1, 2, 3)]
    optimizer = keras.optimizers.SGD()
    optimizer.build(variables)
    assert [_compat.variable_index(optimizer, v) for v in reversed(variables)] == [2, 1, 0]

import csv
import json
import logging

import keras
import numpy as np
import pytest

from keras_prelu.training import SwitchLROnPlateau


def model_with_sgd(learning_rate=0.01):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def run_epochs(switch, model, errors, first_epoch=0):
    """Feeds `errors` as the epochs' `val_error`; returns the logged rates."""
    switch.set_model(model)
    switch.on_train_begin()
    rates = []
    for epoch, error in enumerate(errors, start=first_epoch):
        logs = {"val_error": error}
        switch.on_epoch_end(epoch, logs)
        rates.append(logs["learning_rate"])
        if model.stop_training:
            break
    return rates


def current_rate(model):
    return float(model.optimizer.learning_rate.numpy())


def test_switches_by_ten_after_patience_then_stops_at_the_floor():
    model = model_with_sgd(0.01)
    switch = SwitchLROnPlateau(monitor="val_error", patience=2)
    # Improves for 3 epochs, then flat: 2 epochs of patience, switch after
    # epoch 5; improves once at 1e-3, flat again: switch after epoch 8;
    # flat at 1e-4 for 2 epochs: stop after epoch 10.
    errors = [0.9, 0.8, 0.7, 0.7, 0.7, 0.6, 0.65, 0.6, 0.6, 0.6, 0.1, 0.1]
    rates = run_epochs(switch, model, errors)

    # Logged as the numbers set, not as their float32s (0.009999999776482582).
    assert rates == [0.01] * 5 + [0.001] * 3 + [0.0001] * 2
    assert switch.switch_epochs == [5, 8]
    assert model.stop_training
    assert current_rate(model) == pytest.approx(1e-4)


@pytest.mark.parametrize(
    "min_delta, min_delta_mode, second_error, switched",
    [
        # From 0.5: "absolute" needs < 0.5 - 0.05, "relative" < 0.5 * 0.9.
        (0.05, "absolute", 0.44, False),
        (0.05, "absolute", 0.46, True),
        (0.1, "relative", 0.449, False),
        (0.1, "relative", 0.451, True),
    ],
)
def test_min_delta_absolute_and_relative(min_delta, min_delta_mode, second_error, switched):
    switch = SwitchLROnPlateau(
        monitor="val_error",
        patience=1,
        min_delta=min_delta,
        min_delta_mode=min_delta_mode,
    )
    run_epochs(switch, model_with_sgd(), [0.5, second_error])
    assert switch.switch_epochs == ([2] if switched else [])


@pytest.mark.parametrize(
    "state",
    [
        None,
        {"best": "low", "wait": 0, "switch_epochs": []},
        {"best": float("nan"), "wait": 0, "switch_epochs": []},
        {"best": 0.5, "wait": -1, "switch_epochs": []},
        {"best": 0.5, "wait": 0, "switch_epochs": "5"},
        {"best": 0.5, "wait": 0},
    ],
)
def test_a_state_not_of_get_state_is_refused(state):
    with pytest.raises(ValueError, match="`state` must be a state of `get_state"):
        SwitchLROnPlateau().set_state(state)


def test_mode_max_watches_an_accuracy():
    switch = SwitchLROnPlateau(monitor="val_error", mode="max", patience=1)
    run_epochs(switch, model_with_sgd(), [0.1, 0.2, 0.3, 0.2])
    assert switch.switch_epochs == [4]


def test_state_round_trip_resumes_exactly():
    errors = [0.9, 0.8, 0.8, 0.8, 0.7, 0.7, 0.75, 0.7, 0.7, 0.7, 0.7, 0.7]
    whole = SwitchLROnPlateau(monitor="val_error", patience=3)
    whole_model = model_with_sgd()
    whole_rates = run_epochs(whole, whole_model, errors)

    first = SwitchLROnPlateau(monitor="val_error", patience=3)
    first_model = model_with_sgd()
    first_rates = run_epochs(first, first_model, errors[:6])
    saved = json.dumps(first.get_state())  # as a checkpoint keeps it

    second = SwitchLROnPlateau(monitor="val_error", patience=3)
    second.set_state(json.loads(saved))
    second_model = model_with_sgd(current_rate(first_model))
    second_rates = run_epochs(second, second_model, errors[6:], first_epoch=6)

    np.testing.assert_allclose(first_rates + second_rates, whole_rates)
    assert second.get_state() == whole.get_state()
    assert second_model.stop_training == whole_model.stop_training


def test_each_switch_is_logged_with_its_epoch(caplog):
    switch = SwitchLROnPlateau(monitor="val_error", patience=1)
    with caplog.at_level(logging.INFO, logger="keras_prelu.training"):
        run_epochs(switch, model_with_sgd(), [0.5, 0.5, 0.5, 0.5])
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("Epoch 2: val_error")
    assert "0.01 -> 0.001" in messages[0]
    assert messages[1].startswith("Epoch 3:") and "0.001 -> 0.0001" in messages[1]
    assert messages[2].startswith("Epoch 4:") and "stopping" in messages[2]


def test_rejects_a_schedule():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)
    model.compile(keras.optimizers.SGD(schedule), loss="mse")
    switch = SwitchLROnPlateau(monitor="val_error")
    switch.set_model(model)
    with pytest.raises(TypeError, match="float `learning_rate`"):
        switch.on_train_begin()


def test_missing_monitor_raises_listing_the_logs():
    switch = SwitchLROnPlateau(monitor="val_top1_error")
    switch.set_model(model_with_sgd())
    with pytest.raises(ValueError, match=r"val_top1_error.*'loss'"):
        switch.on_epoch_end(0, {"loss": 1.0})


def test_switches_a_loss_scaled_optimizer():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.01))
    model.compile(optimizer, loss="mse")
    switch = SwitchLROnPlateau(monitor="val_error", patience=1)
    run_epochs(switch, model, [0.5, 0.5])
    assert current_rate(model) == pytest.approx(1e-3)


class FeedErrors(keras.callbacks.Callback):
    """Writes a given `val_error` into each epoch's logs."""

    def __init__(self, errors):
        super().__init__()
        self.errors = errors

    def on_epoch_end(self, epoch, logs=None):
        logs["val_error"] = self.errors[epoch]


def test_in_fit_the_csv_log_records_the_rate_and_training_stops(tmp_path):
    model = model_with_sgd(0.01)
    errors = [0.5] * 10
    switch = SwitchLROnPlateau(monitor="val_error", patience=2)
    history = model.fit(
        np.zeros((4, 2)),
        np.zeros((4, 1)),
        epochs=10,
        verbose=0,
        callbacks=[
            FeedErrors(errors),
            switch,
            keras.callbacks.CSVLogger(tmp_path / "log.csv"),
        ],
    )
    # Best after epoch 1; switches after 3 and 5; stops after 7.
    assert len(history.history["loss"]) == 7
    with open(tmp_path / "log.csv") as file:
        rows = list(csv.DictReader(file))
    np.testing.assert_allclose(
        [float(row["learning_rate"]) for row in rows],
        [1e-2] * 3 + [1e-3] * 2 + [1e-4] * 2,
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"mode": "auto"}, "mode"),
        ({"min_delta_mode": "percent"}, "min_delta_mode"),
        ({"factor": 1.0}, "factor"),
        ({"patience": 0}, "patience"),
        ({"min_delta": -0.1}, "min_delta"),
        ({"min_learning_rate": 0.0}, "min_learning_rate"),
    ],
)
def test_invalid_arguments_raise_naming_them(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        SwitchLROnPlateau(**kwargs)

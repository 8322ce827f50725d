"""The private Keras API that keras-prelu relies on, in one place.

Keras 3 has no public form of these. Each function names the private member it
reads or sets; `tests/test_compat.py` checks each one's behaviour against the
installed Keras, so that a release that moves one fails one test, by name.
"""


def learning_rate_variable(optimizer):
    """The optimizer's learning rate as stored: a `keras.Variable` for a float rate,
    else the schedule or callable it was given. `Optimizer._learning_rate`."""
    return optimizer._learning_rate


def set_initial_epoch(model, epoch):
    """Makes the running `model.fit` continue after `epoch` epochs (set from a callback's
    `on_train_begin`). `Model._initial_epoch`."""
    model._initial_epoch = epoch


def set_lower_is_better(metric):
    """Tells callbacks with `mode="auto"` that lower values of `metric` are better.

    `Metric._direction = "down"`.
    """
    metric._direction = "down"


def uses_weight_decay(optimizer, variable):
    """Whether `optimizer`'s `exclude_from_weight_decay` leaves `variable` decayed.

    `Optimizer._use_weight_decay`.
    """
    return optimizer._use_weight_decay(variable)


def variable_index(optimizer, variable):
    """The index of `variable` among those `optimizer` was built for.

    `Optimizer._get_variable_index`.
    """
    return optimizer._get_variable_index(variable)

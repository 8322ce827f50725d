"""Presets: a trained model with everything needed to use it, in one folder.

```python
import keras_prelu

keras_prelu.save_preset("runs/model_14-digits", "presets/model_14-digits")
model = keras_prelu.from_preset("presets/model_14-digits")        # the Keras model
model = ModelA.from_preset(folder, input_shape=(None, None, 3))     # a zoo class, any size
metadata = keras_prelu.load_preset_metadata("presets/model_14-digits")
metadata.class_names, metadata.mean, metadata.evaluation_scale
```

The folder follows keras-hub's preset layout and file names:

- `config.json`: the model, serialized (`keras.saving.serialize_keras_object`);
- `model.weights.h5`: its weights;
- `metadata.json`: keras-hub's fields (`keras_version`, `parameter_count`,
  `date_saved`) and keras-prelu's: the class names, the preprocessing the model
  expects (RGB pixels in [0, 255], minus `mean`, resized so that the shorter side
  is `evaluation_scale`, crops of `crop_size`), the training scales and flips, the
  recipe and the measured results of the run it comes from.

A preset folder is accepted wherever a run folder is: `evaluate(preset)`,
`export_saved_model(preset, ...)`, `keras-prelu evaluate PRESET`, and
`weights=preset` of the zoo builders. Only local folders are read (keras-hub's
`hf://` and `kaggle://` handles need the network).
"""

import dataclasses
import datetime
import json
import os
from pathlib import Path

import keras
import numpy as np

from keras_prelu.errors import InvalidValueError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"


@dataclasses.dataclass(frozen=True)
class PresetMetadata:
    """What a preset records besides the model (`metadata.json`).

    Attributes:
        class_names: the class names in class-id order, or None when unknown.
        mean: the mean subtracted from RGB pixels in [0, 255], `(3,)` or
            `(crop, crop, 3)`, or None when unknown.
        evaluation_scale: the shorter side images are resized to for testing.
        crop_size: the side of the training crops (the model's input when fixed).
        scale_range: the training scale jitter `(min, max)`, or None.
        flip: whether training flipped images (testing adds flipped views then).
        data: the data the model was trained on, or None.
        recipe: the training recipe's fields, or None.
        results: the measured validation results (`top1_error`, ...), or None.
        keras_version, keras_prelu_version, parameter_count, date_saved:
            keras-hub's fields.
    """

    class_names: tuple = None
    mean: np.ndarray = None
    evaluation_scale: int = None
    crop_size: int = None
    scale_range: tuple = None
    flip: bool = True
    data: str = None
    recipe: dict = None
    results: dict = None
    keras_version: str = None
    keras_prelu_version: str = None
    parameter_count: int = None
    date_saved: str = None

    def to_json(self):
        fields = dataclasses.asdict(self)
        if self.mean is not None:
            fields["mean"] = {"shape": list(self.mean.shape), "values": self.mean.ravel().tolist()}
        for name in ("class_names", "scale_range"):
            if fields[name] is not None:
                fields[name] = list(fields[name])
        return fields

    @classmethod
    def from_json(cls, fields, path):
        known = {field.name for field in dataclasses.fields(cls)}
        values = {name: value for name, value in fields.items() if name in known}
        try:
            if values.get("mean") is not None:
                mean = values["mean"]
                values["mean"] = np.asarray(mean["values"], np.float32).reshape(mean["shape"])
            for name in ("class_names", "scale_range"):
                if values.get(name) is not None:
                    values[name] = tuple(values[name])
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidValueError(
                f"{path} is not a keras-prelu preset's metadata: {error}"
            ) from None
        return cls(**values)


def is_preset(path):
    """Whether `path` is a preset folder (config, weights and metadata)."""
    path = Path(path)
    return all((path / name).is_file() for name in (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE))


def save_preset(model, preset, *, class_names=None, mean=None, overwrite=False):
    """Writes `model` and what it needs to be used as a preset folder `preset`.

    Args:
        model: a run folder of `keras_prelu.training.fit` (its final model, class
            names, mean, scales, recipe and results), a preset folder, a `.keras`
            file or a `keras.Model`.
        preset: the folder to write; it must not exist unless `overwrite`.
        class_names: the class names, instead of the run's.
        mean: the mean the training subtracted, instead of the run's
            (a number, `(3,)` or `(crop, crop, 3)`, pixels in [0, 255]).
        overwrite: whether to replace an existing preset folder.

    Returns:
        The preset folder, as a `Path`.
    """
    from keras_prelu.evaluation.trained import load_trained

    preset = Path(preset)
    if preset.exists() and not (overwrite and preset.is_dir()):
        raise InvalidValueError(
            f"Argument `preset`: {preset} exists; choose a new folder or pass overwrite=True. "
            f"Received: preset={os.fspath(preset)!r}"
        )
    trained = load_trained(model)
    class_names = trained.class_names if class_names is None else tuple(class_names)
    if class_names is not None and len(class_names) != _num_outputs(trained.model):
        raise InvalidValueError(
            f"Argument `class_names` must name the model's {_num_outputs(trained.model)} "
            f"classes. Received: {len(class_names)} names"
        )
    metadata = PresetMetadata(
        class_names=class_names,
        mean=checked_mean(trained.mean if mean is None else mean),
        evaluation_scale=trained.scale,
        crop_size=trained.crop_size,
        scale_range=trained.scale_range,
        flip=trained.flip,
        data=trained.data,
        recipe=trained.recipe,
        results=trained.results,
        keras_version=keras.__version__,
        keras_prelu_version=_version(),
        parameter_count=trained.model.count_params(),
        date_saved=datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    )
    preset.mkdir(parents=True, exist_ok=True)
    config = keras.saving.serialize_keras_object(trained.model)
    (preset / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    trained.model.save_weights(preset / WEIGHTS_FILE)
    (preset / METADATA_FILE).write_text(json.dumps(metadata.to_json(), indent=2) + "\n")
    return preset


def load_preset_metadata(preset):
    """The `PresetMetadata` of the preset folder `preset`."""
    path = _check_preset(preset) / METADATA_FILE
    try:
        fields = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InvalidValueError(f"{path} cannot be read as JSON: {error}") from None
    return PresetMetadata.from_json(fields, path)


def from_preset(preset, *, load_weights=True, expected_class=None, **kwargs):
    """The model of the preset folder `preset`.

    Args:
        preset: a folder written by `save_preset`.
        load_weights: whether to load the trained weights (else the model is
            freshly initialized).
        expected_class: a model class the preset must hold (an instance of),
            as `ModelA.from_preset` asks; None for any.
        **kwargs: arguments of a zoo model's builder that replace the saved
            ones, e.g. `input_shape=(None, None, 3)`, `include_top=False` or
            `dtype="mixed_bfloat16"`; the weights are copied into the model
            they build by layer name.

    Returns:
        The `keras.Model`.
    """
    from keras_prelu.zoo import PReLUNet

    folder = _check_preset(preset)
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
        model = keras.saving.deserialize_keras_object(config)
    except (OSError, json.JSONDecodeError, TypeError, ValueError) as error:
        raise InvalidValueError(
            f"{folder / CONFIG_FILE} does not describe a model that can be built here: {error}"
        ) from None
    if expected_class is not None and not isinstance(model, expected_class):
        raise InvalidValueError(
            f"The preset in {folder} holds a {type(model).__name__}, not a "
            f"{expected_class.__name__}: load it with {type(model).__name__}.from_preset or "
            "keras_prelu.from_preset."
        )
    if load_weights:
        try:
            model.load_weights(folder / WEIGHTS_FILE)
        except (OSError, ValueError) as error:
            raise InvalidValueError(
                f"{folder / WEIGHTS_FILE} does not hold the weights of {folder / CONFIG_FILE}: "
                f"{error}"
            ) from None
    if not kwargs:
        return model
    if not isinstance(model, PReLUNet):
        raise InvalidValueError(
            f"Builder arguments {sorted(kwargs)} apply to the zoo's models; the preset in "
            f"{folder} holds a {type(model).__name__}."
        )
    rebuilt = type(model).from_config({**model.get_config(), **kwargs})
    if load_weights:
        copy_weights_by_name(model, rebuilt)
    return rebuilt


def copy_weights_by_name(source, target):
    """Sets the weights of every layer of `target` from the layer of `source` of its name.

    Raises `ValueError` naming the layers of `target` that `source` lacks or
    whose weights have other shapes.
    """
    problems = []
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            origin = source.get_layer(layer.name)
        except ValueError:
            problems.append(f"{layer.name} (missing)")
            continue
        shapes = [tuple(weight.shape) for weight in layer.weights]
        if [tuple(weight.shape) for weight in origin.weights] != shapes:
            problems.append(f"{layer.name} (weights of other shapes)")
            continue
        layer.set_weights(origin.get_weights())
    if problems:
        raise InvalidValueError(
            f"The weights of {source.name!r} do not fit {target.name!r}: " + ", ".join(problems)
        )


def _check_preset(preset):
    if not isinstance(preset, (str, os.PathLike)):
        raise InvalidValueError(
            f"Argument `preset` must be a folder path. Received: preset={preset!r}"
        )
    folder = Path(preset)
    if not is_preset(folder):
        missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)]
        missing = [name for name in missing if not (folder / name).is_file()]
        raise InvalidValueError(
            f"Argument `preset` must be a preset folder (written by keras_prelu.save_preset); "
            f"{folder} lacks {', '.join(missing)}. Received: preset={os.fspath(preset)!r}"
        )
    return folder


def checked_mean(mean):
    """`mean` as float32 `(3,)` (a scalar repeated) or `(crop, crop, 3)`; None stays None."""
    if mean is None:
        return None
    mean = np.asarray(mean, dtype=np.float32)
    if mean.ndim == 0:
        mean = np.full(3, mean, np.float32)
    if not (mean.shape == (3,) or (mean.ndim == 3 and mean.shape[-1] == 3)):
        raise InvalidValueError(
            "Argument `mean` must be a scalar, (3,) or (crop, crop, 3). "
            f"Received: mean of shape {mean.shape}"
        )
    if not np.isfinite(mean).all():
        raise InvalidValueError(
            f"Argument `mean` must be finite numbers. Received: mean={mean.tolist()}"
        )
    return mean


def _num_outputs(model):
    return int(model.output.shape[-1])


def _version():
    from keras_prelu import __version__

    return __version__

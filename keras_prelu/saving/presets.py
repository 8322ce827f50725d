"""Presets: a trained classifier with its preprocessing, in keras-hub's preset format.

```python
import keras_hub
import numpy as np
import keras_prelu  # registers the PReLU-net family with Keras

keras_prelu.save_preset("runs/model_14-digits", "presets/model_14-digits")
classifier = keras_hub.models.ImageClassifier.from_preset("presets/model_14-digits")
raw_images = np.zeros((2, 48, 40, 3), "uint8")  # RGB, uint8 or float, any size
probabilities = classifier.predict(raw_images, verbose=0)  # (2, number of classes)
metadata = keras_prelu.load_preset_metadata("presets/model_14-digits")
```

The folder is written by keras-hub's own saver (`Task.save_to_preset`):
`config.json` and `model.weights.h5` (the backbone), `task.json` and
`task.weights.h5` (the classifier and its head), `preprocessor.json` and
`image_converter.json` (the centre view: `evaluation_scale`, `crop_size` and the
training `mean` in [0, 255] units), and `metadata.json`, keras-hub's fields plus
a `keras_prelu` section: the class names, the training scales and flip, the data,
the recipe, the measured results and the keras-prelu version. It is built in a
folder beside the target and renamed into place (`keras_prelu.saving.atomic`), so
a kill leaves the previous preset or the new one. Every file is checked field by
field when read (`check_preset`); an error is one line naming the file and field.
"""

import dataclasses
import json
import math
import os
from pathlib import Path

import keras
import numpy as np
from keras_hub.models import ImageClassifier

from keras_prelu.errors import InvalidValueError
from keras_prelu.saving.atomic import recover_folder
from keras_prelu.saving.atomic import write_folder

__all__ = [
    "CONFIG_FILE",
    "FILES",
    "IMAGE_CONVERTER_FILE",
    "METADATA_FILE",
    "PREPROCESSOR_FILE",
    "TASK_FILE",
    "TASK_WEIGHTS_FILE",
    "WEIGHTS_FILE",
    "PresetError",
    "PresetMetadata",
    "check_preset",
    "copy_weights_by_name",
    "from_preset",
    "is_preset",
    "load_preset_metadata",
    "write_preset",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
TASK_FILE = "task.json"
TASK_WEIGHTS_FILE = "task.weights.h5"
PREPROCESSOR_FILE = "preprocessor.json"
IMAGE_CONVERTER_FILE = "image_converter.json"
METADATA_FILE = "metadata.json"
FILES = (
    CONFIG_FILE,
    WEIGHTS_FILE,
    TASK_FILE,
    TASK_WEIGHTS_FILE,
    PREPROCESSOR_FILE,
    IMAGE_CONVERTER_FILE,
    METADATA_FILE,
)
# The section of metadata.json that keras-prelu writes.
SECTION = "keras_prelu"
REEXPORT = "keras-prelu export RUN_DIR PRESET --format preset --overwrite"


class PresetError(InvalidValueError):
    """A preset folder that cannot be read: the message names the file and the field."""


@dataclasses.dataclass(frozen=True)
class PresetMetadata:
    """What a preset records besides the model.

    Attributes:
        class_names: the class names in class-id order, or None when unknown.
        mean: the mean subtracted from RGB pixels in [0, 255], `(3,)` or
            `(crop, crop, 3)` (from `image_converter.json`).
        evaluation_scale: the shorter side images are resized to for testing.
        crop_size: the side of the centre crop (the model's input).
        scale_range: the training scale jitter `(min, max)`, or None.
        flip: whether training flipped images (testing adds flipped views then).
        data: the data the model was trained on, or None.
        recipe: the training recipe's fields, or None.
        results: the measured validation results (`top1_error`, ...), or None.
        keras_prelu_version: the keras-prelu that wrote the preset.
        keras_version, keras_hub_version, parameter_count, date_saved:
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
    keras_prelu_version: str = None
    keras_version: str = None
    keras_hub_version: str = None
    parameter_count: int = None
    date_saved: str = None

    def section(self):
        """The `keras_prelu` section of metadata.json."""
        return {
            "class_names": None if self.class_names is None else list(self.class_names),
            "scale_range": None if self.scale_range is None else list(self.scale_range),
            "flip": self.flip,
            "data": self.data,
            "recipe": self.recipe,
            "results": self.results,
            "keras_prelu_version": self.keras_prelu_version,
        }


def write_preset(classifier, preset, metadata, *, overwrite=False):
    """Writes `classifier` (a keras-hub `ImageClassifier` with its preprocessor) and
    `metadata` (a `PresetMetadata`) as the preset folder `preset`, whole or not at all.

    Returns:
        The preset folder, as a `Path`.
    """
    preset = Path(preset)
    if preset.exists() and not (overwrite and preset.is_dir()):
        raise InvalidValueError(
            f"Argument `preset`: {preset} exists; choose a new folder or overwrite it "
            "(overwrite=True, or --overwrite on the command line). "
            f"Received: preset={os.fspath(preset)!r}"
        )
    _check_class_names(metadata.class_names, classifier.num_classes, "Argument `class_names`")

    def write(folder):
        classifier.save_to_preset(str(folder))
        fields = json.loads((folder / METADATA_FILE).read_text())
        fields[SECTION] = metadata.section()
        (folder / METADATA_FILE).write_text(json.dumps(fields, indent=4) + "\n")

    preset.parent.mkdir(parents=True, exist_ok=True)
    write_folder(preset, write, overwrite=overwrite)
    return preset


def is_preset(path):
    """Whether `path` is a folder with keras-hub's preset files (checked when read)."""
    path = Path(path)
    return path.is_dir() and (path / CONFIG_FILE).is_file()


def from_preset(preset, *, load_weights=True):
    """The classifier of the preset folder `preset`, its preprocessor attached.

    The same as `keras_hub.models.ImageClassifier.from_preset(preset)`, after
    `check_preset` has read every file.
    """
    folder = check_preset(preset)
    try:
        classifier = ImageClassifier.from_preset(str(folder), load_weights=False)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise PresetError(
            f"{folder / TASK_FILE} does not describe a classifier that can be built here "
            f"({type(error).__name__}: {_first_line(error)})"
        ) from None
    if load_weights:
        # keras-hub's loader's two steps, each error naming its file.
        for name, load in (
            (TASK_WEIGHTS_FILE, classifier.load_task_weights),
            (WEIGHTS_FILE, classifier.backbone.load_weights),
        ):
            try:
                load(str(folder / name))
            except (OSError, KeyError, TypeError, ValueError) as error:
                raise PresetError(
                    f"{folder / name} does not hold the weights that {TASK_FILE} describes "
                    f"(another model's?): {_summary(error)}"
                ) from None
    return classifier


def load_preset_metadata(preset):
    """The `PresetMetadata` of the preset folder `preset`."""
    folder = check_preset(preset)
    fields = _read_object(folder / METADATA_FILE)
    section = fields[SECTION]
    converter = _read_object(folder / IMAGE_CONVERTER_FILE)["config"]
    return PresetMetadata(
        class_names=None if section["class_names"] is None else tuple(section["class_names"]),
        mean=np.asarray(converter["mean"], np.float32),
        evaluation_scale=converter["evaluation_scale"],
        crop_size=converter["crop_size"],
        scale_range=None if section["scale_range"] is None else tuple(section["scale_range"]),
        flip=section["flip"],
        data=section["data"],
        recipe=section["recipe"],
        results=section["results"],
        keras_prelu_version=section["keras_prelu_version"],
        keras_version=fields.get("keras_version"),
        keras_hub_version=fields.get("keras_hub_version"),
        parameter_count=fields.get("parameter_count"),
        date_saved=fields.get("date_saved"),
    )


def check_preset(preset):
    """Reads every file of the preset folder `preset`; raises `PresetError` (one line
    naming the file and the field) for the first that is missing or wrong.

    Returns:
        The folder, as a `Path`.
    """
    if not isinstance(preset, (str, os.PathLike)):
        raise PresetError(f"Argument `preset` must be a folder path. Received: preset={preset!r}")
    folder = Path(preset)
    recover_folder(folder)  # a writer killed while replacing it left the old one aside
    if not folder.is_dir():
        raise PresetError(
            f"Argument `preset` must be a preset folder (written by keras_prelu.save_preset); "
            f"{folder} is not a folder."
        )
    config_path = folder / CONFIG_FILE
    if config_path.is_file() and not (folder / TASK_FILE).exists():
        config = _read_object(config_path)
        if str(config.get("registered_name", "")).startswith("keras_prelu>"):
            raise PresetError(
                f"{folder} is a preset of keras-prelu's earlier layout, which keras-hub "
                f"cannot load: write it again from its run with `{REEXPORT}`."
            )
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise PresetError(
            f"Argument `preset` must be a preset folder (written by keras_prelu.save_preset); "
            f"{folder} lacks {', '.join(missing)}."
        )
    for name in (CONFIG_FILE, TASK_FILE, PREPROCESSOR_FILE, IMAGE_CONVERTER_FILE):
        _check_serialized(folder / name)
    task = _read_object(folder / TASK_FILE)["config"]
    num_classes = task.get("num_classes")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise PresetError(f"{folder / TASK_FILE}: field `num_classes` must be a positive integer.")
    _check_converter(folder / IMAGE_CONVERTER_FILE)
    _check_metadata(folder / METADATA_FILE, num_classes)
    return folder


def _read_object(path):
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PresetError(f"{path} cannot be read as JSON: {_first_line(error)}") from None
    if not isinstance(value, dict):
        raise PresetError(f"{path} must hold a JSON object; it holds a {type(value).__name__}.")
    return value


def _check_serialized(path):
    """A serialized Keras object: `class_name`, `config`, and a registered class."""
    value = _read_object(path)
    for field, kind in (("class_name", str), ("config", dict)):
        if not isinstance(value.get(field), kind):
            raise PresetError(
                f"{path}: field `{field}` must be a {kind.__name__} (a serialized Keras object)."
            )
    name = value.get("registered_name")
    if isinstance(name, str) and ">" in name and keras.saving.get_registered_object(name) is None:
        raise PresetError(
            f"{path}: field `registered_name` names {name!r}, which no imported module "
            "registers (import keras_prelu first)."
        )


def _check_converter(path):
    config = _read_object(path)["config"]
    for field in ("evaluation_scale", "crop_size"):
        value = config.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PresetError(
                f"{path}: field `{field}` must be a positive integer. Received: {_brief(value)}"
            )
    crop = config["crop_size"]
    try:
        mean = np.asarray(config.get("mean"), dtype=np.float64)
    except (TypeError, ValueError):
        mean = None
    if mean is None or mean.shape not in ((3,), (crop, crop, 3)):
        raise PresetError(
            f"{path}: field `mean` must be 3 numbers or ({crop}, {crop}, 3) numbers "
            f"(RGB, [0, 255] units). Received: {_brief(config.get('mean'))}"
        )
    if not np.isfinite(mean).all():
        raise PresetError(f"{path}: field `mean` must be finite; it holds NaN or infinity.")


def _check_metadata(path, num_classes):
    fields = _read_object(path)
    section = fields.get(SECTION)
    if not isinstance(section, dict):
        raise PresetError(f"{path}: field `{SECTION}` must be a JSON object.")
    _check_class_names(section.get("class_names"), num_classes, f"{path}: field `class_names`")
    scale_range = section.get("scale_range")
    if scale_range is not None and not (
        isinstance(scale_range, list)
        and len(scale_range) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in scale_range)
        and scale_range[0] <= scale_range[1]
    ):
        raise PresetError(
            f"{path}: field `scale_range` must be null or [min, max], positive integers. "
            f"Received: {_brief(scale_range)}"
        )
    for field, kinds in (
        ("flip", (bool,)),
        ("data", (str, type(None))),
        ("recipe", (dict, type(None))),
        ("results", (dict, type(None))),
        ("keras_prelu_version", (str, type(None))),
    ):
        if not isinstance(section.get(field), kinds):
            accepted = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise PresetError(
                f"{path}: field `{field}` must be {accepted}. "
                f"Received: {_brief(section.get(field))}"
            )
    for name, value in (section.get("results") or {}).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise PresetError(f"{path}: field `results.{name}` must be finite.")


def _check_class_names(class_names, num_classes, where):
    if class_names is None:
        return
    if isinstance(class_names, (str, bytes)) or not all(
        isinstance(name, str) for name in class_names
    ):
        raise PresetError(
            f"{where} must be a list of strings (one name per class). "
            f"Received: {_brief(class_names)}"
        )
    if len(class_names) != num_classes:
        raise PresetError(
            f"{where} must name the model's {num_classes} classes. "
            f"Received: {len(class_names)} names"
        )


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


def _brief(value, limit=60):
    """`value` as a short text for a message: a long one is cut, an array summarised."""
    text = json.dumps(value) if not isinstance(value, np.ndarray) else f"array{value.shape}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _summary(error):
    """What went wrong in a weights file, without the arrays Keras' message prints."""
    text = str(error)
    for marker in ("Received", "Expected", "[[", "array("):
        text = text.split(marker)[0]
    return _first_line(text.strip(" :,.") or type(error).__name__)


def _first_line(error, limit=200):
    """The first line of an error's message, cut: no arrays, no tracebacks."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""Trained models as `fit` leaves them: a run folder, a `.keras` file or a model."""

import dataclasses
import json
import os
from pathlib import Path

import keras
import numpy as np

from keras_prelu import presets
from keras_prelu.zoo import PReLUNet

# The files `keras_prelu.training.fit` writes in a run folder (read here, not imported:
# evaluation does not depend on training).
RUN_FILENAME = "run.json"
RECIPE_FILENAME = "recipe.json"
EVALUATION_FILENAME = "evaluation.json"
MODEL_FILENAME = "model.keras"
ANY_SIZE = (None, None, 3)


@dataclasses.dataclass(frozen=True, eq=False)
class Trained:
    """A model with what its training run recorded about its inputs.

    Attributes:
        model: the Keras model.
        name: a name for tables (the run folder's, the file's or the model's).
        mean: the mean the run subtracted, `(3,)` or `(crop, crop, 3)`, or None
            when unknown (the source's default is used then).
        crop_size: the training crop side, or None when unknown.
        scale: the smallest training scale (the single-scale testing scale), or None.
        data: the source the run trained on, or None.
        flip: whether training flipped images horizontally (the paper's, and
            the default when unknown); testing adds flipped views only then.
        class_names: the class names in class-id order, or None.
        scale_range: the training scale jitter `(min, max)`, or None.
        recipe: the training recipe's fields, or None.
        results: the run's measured validation results, or None.
    """

    model: keras.Model
    name: str
    mean: np.ndarray = None
    crop_size: int = None
    scale: int = None
    data: str = None
    flip: bool = True
    class_names: tuple = None
    scale_range: tuple = None
    recipe: dict = None
    results: dict = None


def load_trained(spec):
    """A `Trained` from a run folder, a preset folder, a `.keras` file, a `Trained` or a model.

    A run folder of `keras_prelu.training.fit` gives its `model.keras`, the mean
    of `mean.json`, and the crop, scale and data of `run.json`; a preset folder
    (`keras_prelu.save_preset`) its model and metadata.
    """
    if isinstance(spec, Trained):
        return spec
    if isinstance(spec, keras.Model):
        return Trained(spec, spec.name, crop_size=_fixed_side(spec))
    if not isinstance(spec, (str, os.PathLike)):
        raise ValueError(
            "A model must be a keras.Model, a .keras file or a training run folder. "
            f"Received: {spec!r}"
        )
    path = Path(spec)
    if presets.is_preset(path):
        metadata = presets.load_preset_metadata(path)
        return Trained(
            presets.from_preset(path),
            path.name,
            mean=metadata.mean,
            crop_size=metadata.crop_size,
            scale=metadata.evaluation_scale,
            data=metadata.data,
            flip=metadata.flip,
            class_names=metadata.class_names,
            scale_range=metadata.scale_range,
            recipe=metadata.recipe,
            results=metadata.results,
        )
    if path.is_dir():
        model_path = path / MODEL_FILENAME
        if not model_path.exists():
            raise FileNotFoundError(f"{path} has no {MODEL_FILENAME}: not a finished run folder.")
        model = keras.saving.load_model(model_path)
        run = (
            json.loads((path / RUN_FILENAME).read_text()) if (path / RUN_FILENAME).exists() else {}
        )
        # keras_prelu.data imports TensorFlow: only a run folder's mean needs it.
        from keras_prelu import data as data_lib

        augmentation = run.get("augmentation", {})
        mean_path = path / data_lib.MEAN_FILENAME
        return Trained(
            model,
            path.name,
            mean=data_lib.load_mean(mean_path) if mean_path.exists() else None,
            crop_size=augmentation.get("crop_size", _fixed_side(model)),
            scale=(augmentation.get("scale_range") or [None])[0],
            data=run.get("data"),
            flip=augmentation.get("flip", True),
            class_names=run.get("class_names"),
            scale_range=augmentation.get("scale_range"),
            recipe=_read_json(path / RECIPE_FILENAME),
            results=_read_json(path / EVALUATION_FILENAME),
        )
    if not path.exists():
        raise FileNotFoundError(f"No model at {path}.")
    model = keras.saving.load_model(path)
    return Trained(model, path.stem, crop_size=_fixed_side(model))


def any_size(model):
    """`model`, or a copy with its weights that takes images of any height and width.

    The zoo models (`PReLUNet`) with SPP are rebuilt with `input_shape=(None,
    None, 3)`; their weights do not depend on the image size.
    """
    if tuple(model.input.shape[1:]) == ANY_SIZE:
        return model
    if not isinstance(model, PReLUNet):
        raise ValueError(
            f"Model {model.name!r} takes images of shape {tuple(model.input.shape[1:])} only; "
            "rebuild it with input_shape=(None, None, 3) (any zoo model with SPP can)."
        )
    config = dict(model.get_config(), input_shape=ANY_SIZE)
    resized = type(model).from_config(config)
    resized.set_weights(model.get_weights())
    return resized


def _fixed_side(model):
    """The side of a model's square input if it is fixed, else None."""
    height, width = model.input.shape[1:3]
    return height if height is not None and height == width else None


def _read_json(path):
    return json.loads(path.read_text()) if path.exists() else None

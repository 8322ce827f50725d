"""Trained models as `fit` leaves them: a run folder, a `.keras` file or a model."""

import dataclasses
import os
from pathlib import Path

import keras
import numpy as np

from keras_prelu.errors import InvalidValueError
from keras_prelu.saving import presets
from keras_prelu.saving import run_folder
from keras_prelu.training.model_spec import outputs_probabilities

__all__ = ["Trained", "load_trained", "with_probabilities"]


@dataclasses.dataclass(frozen=True, eq=False)
class Trained:
    """A model with what its training run recorded about its inputs.

    Attributes:
        model: the Keras model.
        name: a name for tables (the run folder's, the file's or the model's).
        mean: the mean the run subtracted, `(3,)` or `(crop, crop, 3)`, or None
            when unknown (the source's default is used then).
        crop_size: the training crop side; by default the side of the model's
            square input if it is fixed, else None (unknown).
        scale: the smallest training scale (the single-scale testing scale), or None.
        scale_range: the training scales `(min, max)`, or None when unknown.
        data: the source the run trained on, or None.
        data_given: whether that source was given as data its name cannot
            rebuild (arrays, a `tf.data.Dataset`): it must be given again.
        data_dir: tensorflow-datasets' data folder of the run, or None.
        flip: whether training flipped images horizontally (the paper's, and
            the default when unknown); testing adds flipped views only then.
        class_names: the class names in class-id order, or None.
        recipe: the training recipe's fields, or None.
        results: the run's measured validation results, or None.
    """

    model: keras.Model
    name: str
    mean: np.ndarray = None
    crop_size: int = None
    scale: int = None
    scale_range: tuple = None
    data: str = None
    data_given: bool = False
    data_dir: str = None
    flip: bool = True
    class_names: tuple = None
    recipe: dict = None
    results: dict = None

    def __post_init__(self):
        if self.crop_size is None:
            height, width = self.model.input.shape[1:3]
            if height is not None and height == width:
                object.__setattr__(self, "crop_size", height)


def load_trained(spec):
    """A `Trained` from a run folder, a preset folder, a `.keras` file, a `Trained` or a model.

    A run folder of `keras_prelu.training.fit` (read by `keras_prelu.saving.run_folder.RunFolder`)
    gives its `model.keras`, the mean of `mean.json`, and the crop, scales, flip,
    data, class names, recipe and results it recorded; a preset folder
    (`keras_prelu.save_preset`) its model and metadata.
    """
    if isinstance(spec, Trained):
        return spec
    if isinstance(spec, keras.Model):
        if getattr(spec, "preprocessor", None) is not None:
            return _without_preprocessor(spec, spec.name)
        return Trained(spec, spec.name)
    if not isinstance(spec, (str, os.PathLike)):
        raise InvalidValueError(
            "A model must be a keras.Model, a .keras file or a training run folder. "
            f"Received: {spec!r}"
        )
    path = Path(spec)
    if presets.is_preset(path):
        metadata = presets.load_preset_metadata(path)
        model = presets.from_preset(path)
        model.preprocessor = None  # evaluation makes the views itself
        return Trained(
            model,
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
        # One finished state: no process trains in the folder while it is read.
        with run_folder.RunFolder(path).reading() as folder:
            model = folder.load_model()
            record = folder.read_run()
            return Trained(
                model,
                path.resolve().name,
                mean=folder.read_mean(),
                crop_size=record.crop_size,
                scale=record.evaluation_scale,
                data=record.data,
                data_given=record.data_given,
                data_dir=record.data_dir,
                flip=record.flip,
                class_names=record.class_names,
                scale_range=record.scale_range,
                recipe=folder.read_recipe() if folder.recipe_path.exists() else None,
                results=folder.read_evaluation(),
            )
    model = run_folder.load_model(path)
    return Trained(model, path.stem)


def _without_preprocessor(model, name):
    """A `Trained` of a copy of `model` without its keras-hub preprocessor, whose
    centre view (scale, crop, mean) it records: the views are made by evaluation."""
    converter = getattr(model.preprocessor, "image_converter", None)
    config = dict(model.get_config(), preprocessor=None)
    copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    return Trained(
        copy,
        name,
        mean=getattr(converter, "mean", None),
        crop_size=getattr(converter, "crop_size", None),
        scale=getattr(converter, "evaluation_scale", None),
    )


def with_probabilities(model):
    """`model`, followed by a float32 `Softmax` named "probabilities" if it outputs logits.

    The paper averages softmax scores over views, scales and models (Sec. 3);
    the exported `probabilities` are that too. A functional model keeps its
    layers at the top level (dense testing finds its SPP layer); a subclassed
    one is nested.
    """
    if outputs_probabilities(model):
        return model
    softmax = keras.layers.Softmax(dtype="float32", name="probabilities")
    if getattr(model, "inputs", None):
        return keras.Model(model.inputs, softmax(model.outputs[0]), name=model.name)
    images = keras.Input(tuple(model.input_shape[1:]))
    return keras.Model(images, softmax(model(images)), name=model.name)

"""`PReLUNetImageClassifier`: a backbone of the paper with its head."""

import itertools

import keras
from keras_hub.models import ImageClassifier
from keras_hub.models import Task

from keras_prelu.errors import InvalidValueError
from keras_prelu.layers.dropout import Dropout
from keras_prelu.layers.spatial_pyramid_pooling import SpatialPyramidPooling
from keras_prelu.paper import DROPOUT_RATE
from keras_prelu.paper import FC_STDDEVS
from keras_prelu.paper import FC_UNITS
from keras_prelu.zoo.architectures import ARCHITECTURES
from keras_prelu.zoo.blocks import DEFAULT_NUM_CLASSES
from keras_prelu.zoo.blocks import FC_INITIALIZERS
from keras_prelu.zoo.blocks import activation_layer
from keras_prelu.zoo.blocks import check_head
from keras_prelu.zoo.blocks import checked_num_classes
from keras_prelu.zoo.blocks import choice
from keras_prelu.zoo.blocks import initial_slope
from keras_prelu.zoo.blocks import kernel_initializer
from keras_prelu.zoo.prelu_net_backbone import PReLUNetBackbone
from keras_prelu.zoo.prelu_net_image_classifier_preprocessor import (
    PReLUNetImageClassifierPreprocessor,
)

__all__ = ["PReLUNetImageClassifier"]


@keras.saving.register_keras_serializable(package="keras_prelu")
class PReLUNetImageClassifier(ImageClassifier):
    """A model of He et al. (2015): a `PReLUNetBackbone` and the paper's head.

    The head is spatial pyramid pooling (`spp`; VGG-19 flattens, `flatten`),
    `fc1`, `act_fc1`, `drop_fc1`, `fc2`, `act_fc2`, `drop_fc2` (the backbone's
    activation; dropout with independent masks on every replica of a
    `tf.distribute` strategy), `fc3` (logits) and `predictions` (the classifier
    activation, in float32). The head continues the backbone's graph, so the
    classifier's `layers` and `get_layer` reach every layer by name (`conv3_2`,
    `act3_2`, `spp`, `fc1`...), and `classifier.backbone` is the feature
    extractor. `keras_prelu.zoo.ModelA(...)` and the other builders return this
    class.

    Like every keras-hub task, `fit`, `predict` and `evaluate` pass their inputs
    through `preprocessor` first: a `PReLUNetImageClassifierPreprocessor` turns
    raw RGB images of any size into the centre view minus the training mean. The
    builders attach none (`keras_prelu.training.fit` feeds views it made itself);
    presets and exports attach the run's.

    Args:
        backbone: a `PReLUNetBackbone` without pooling.
        num_classes: units of fc3; 1000 by default.
        preprocessor: None or a `PReLUNetImageClassifierPreprocessor`.
        classifier_activation: activation of the predictions, `"softmax"` by
            default, None for logits.
        fc_initializer: fc kernels: `"paper"` (Gaussians of std 0.01, 0.01, 0.001
            for fc1, fc2, fc3, Sec. 2.2) or a backbone `initializer` name.
        dropout: dropout rate after fc1 and fc2.
        fc_units: widths of fc1 and fc2, `(4096, 4096)` in the paper.
        seed: seed of the fc initializers, counted on from the backbone's.
    """

    backbone_cls = PReLUNetBackbone
    preprocessor_cls = PReLUNetImageClassifierPreprocessor

    def __init__(
        self,
        backbone,
        num_classes=DEFAULT_NUM_CLASSES,
        preprocessor=None,
        *,
        classifier_activation="softmax",
        fc_initializer="paper",
        dropout=DROPOUT_RATE,
        fc_units=FC_UNITS,
        seed=None,
        compile=True,
        **kwargs,
    ):
        if not isinstance(backbone, PReLUNetBackbone) or backbone.pooling is not None:
            raise InvalidValueError(
                "Argument `backbone` must be a PReLUNetBackbone without pooling. "
                f"Received: backbone={backbone!r}"
            )
        arch = ARCHITECTURES[backbone.architecture]
        num_classes = checked_num_classes(num_classes, None)
        choice("fc_initializer", fc_initializer, FC_INITIALIZERS)
        fc_units = tuple(fc_units)
        check_head(arch, backbone.image_shape, fc_units, dropout)
        dtype = backbone.dtype_policy
        activation = backbone.activation
        slope = initial_slope(activation, backbone.leaky_slope)
        if seed is None:
            seeds = itertools.repeat(None)
        else:
            seeds = itertools.count(seed + backbone.seeds_used)

        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional Model ===
        x = backbone.output
        if arch.spp_levels is None:
            x = keras.layers.Flatten(name="flatten", dtype=dtype)(x)
        else:
            x = SpatialPyramidPooling(arch.spp_levels, name="spp", dtype=dtype)(x)
        units = fc_units + (num_classes,)
        for k, (width, stddev) in enumerate(zip(units, FC_STDDEVS), start=1):
            x = keras.layers.Dense(
                width,
                kernel_initializer=kernel_initializer(fc_initializer, slope, next(seeds), stddev),
                name=f"fc{k}",
                dtype=dtype,
            )(x)
            if k < len(units):
                x = activation_layer(activation, backbone.leaky_slope, f"act_fc{k}", dtype)(x)
                x = Dropout(dropout, name=f"drop_fc{k}", dtype=dtype)(x)
        outputs = keras.layers.Activation(
            classifier_activation, dtype="float32", name="predictions"
        )(x)
        kwargs.setdefault("name", arch.name)
        # keras-hub's ImageClassifier builds a head of its own: skip to Task.
        Task.__init__(self, inputs=backbone.input, outputs=outputs, compile=False, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.classifier_activation = classifier_activation
        # keras-hub's name for it, read by `compile(loss="auto")`.
        self.activation = classifier_activation
        self.fc_initializer = fc_initializer
        self.dropout = dropout
        self.fc_units = fc_units
        self.seed = seed
        if compile:
            # After the config: the default loss reads `activation` (from_logits or not).
            self.compile()

    @property
    def layers(self):
        # The backbone's layers are the classifier's own (one graph): list each once.
        return [layer for layer in super().layers if layer is not self.backbone]

    def compile_from_config(self, config):
        # Keras skips a custom `compile` when loading; this one takes Keras' arguments.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.optimizer is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        config = Task.get_config(self)
        config.update(
            {
                "num_classes": self.num_classes,
                "classifier_activation": self.classifier_activation,
                "fc_initializer": self.fc_initializer,
                "dropout": self.dropout,
                "fc_units": self.fc_units,
                "seed": self.seed,
                "trainable": self.trainable,
                # Rebuilt compiled only if it was: an uncompiled model saved and loaded
                # gets no default optimizer whose variables the file cannot fill.
                "compile": self.compiled,
            }
        )
        return config

"""`PReLUNetImageClassifierPreprocessor`: a `PReLUNetImageConverter` for a classifier."""

import keras
from keras_hub.models import ImageClassifierPreprocessor

from keras_prelu.zoo.prelu_net_backbone import PReLUNetBackbone
from keras_prelu.zoo.prelu_net_image_converter import PReLUNetImageConverter

__all__ = ["PReLUNetImageClassifierPreprocessor"]


@keras.saving.register_keras_serializable(package="keras_prelu")
class PReLUNetImageClassifierPreprocessor(ImageClassifierPreprocessor):
    """Raw RGB images (and labels) to a `PReLUNetImageClassifier`'s inputs.

    Applies its `PReLUNetImageConverter` (the centre view minus the training
    mean) to `x` and passes `y` and `sample_weight` through.

    Example:

    ```python
    converter = PReLUNetImageConverter(evaluation_scale=256, crop_size=224, mean=[123, 117, 104])
    preprocessor = PReLUNetImageClassifierPreprocessor(converter)
    classifier = ModelA()
    classifier.preprocessor = preprocessor
    classifier.predict(photos)  # uint8 (batch, height, width, 3), any size
    ```
    """

    backbone_cls = PReLUNetBackbone
    image_converter_cls = PReLUNetImageConverter

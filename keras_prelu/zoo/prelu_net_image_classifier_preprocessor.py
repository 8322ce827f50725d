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
    import numpy as np
    from keras_prelu.zoo import Model14
    from keras_prelu.zoo import PReLUNetImageClassifierPreprocessor
    from keras_prelu.zoo import PReLUNetImageConverter

    converter = PReLUNetImageConverter(evaluation_scale=256, crop_size=224, mean=[123, 117, 104])
    classifier = Model14()
    classifier.preprocessor = PReLUNetImageClassifierPreprocessor(converter)
    photos = np.zeros((2, 300, 400, 3), "uint8")  # RGB, any size
    probabilities = classifier.predict(photos, verbose=0)  # (2, 1000)
    ```
    """

    backbone_cls = PReLUNetBackbone
    image_converter_cls = PReLUNetImageConverter

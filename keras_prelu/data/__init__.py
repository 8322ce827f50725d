"""Data for the PReLU networks: sources and the paper's transforms as `tf.data` pipelines.

```python
from keras_prelu import data

source = data.get_source(data.DEFAULT_SOURCE)  # or "fashion_mnist[:5000]", "imagenet2012"...
train = data.training_dataset(source, batch_size=128, seed=0)
val = data.evaluation_dataset(source, batch_size=128, views="ten")
```
"""

from keras_prelu.data.augmentation import IMAGENET_PCA_EIGENVALUES
from keras_prelu.data.augmentation import IMAGENET_PCA_EIGENVECTORS
from keras_prelu.data.augmentation import IMAGENET_RGB_MEAN
from keras_prelu.data.augmentation import Augmentation
from keras_prelu.data.augmentation import fitted_augmentation
from keras_prelu.data.digits import DigitsSource
from keras_prelu.data.idx import FASHION_MNIST_CLASSES
from keras_prelu.data.idx import IDXSource
from keras_prelu.data.idx import read_idx
from keras_prelu.data.image_folder import ImageFolderSource
from keras_prelu.data.mean import compute_mean
from keras_prelu.data.names import DEFAULT_SOURCE
from keras_prelu.data.names import FASHION_MNIST
from keras_prelu.data.pipeline import DEFAULT_SHUFFLE_BUFFER
from keras_prelu.data.pipeline import evaluation_dataset
from keras_prelu.data.pipeline import training_dataset
from keras_prelu.data.registry import get_source
from keras_prelu.data.source import Source
from keras_prelu.data.tfds_source import TFDSSource
from keras_prelu.data.user_sources import ArraySource
from keras_prelu.data.user_sources import DatasetSource

__all__ = [
    "DEFAULT_SHUFFLE_BUFFER",
    "DEFAULT_SOURCE",
    "FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "IMAGENET_PCA_EIGENVALUES",
    "IMAGENET_PCA_EIGENVECTORS",
    "IMAGENET_RGB_MEAN",
    "ArraySource",
    "Augmentation",
    "DatasetSource",
    "DigitsSource",
    "IDXSource",
    "ImageFolderSource",
    "Source",
    "TFDSSource",
    "compute_mean",
    "evaluation_dataset",
    "fitted_augmentation",
    "get_source",
    "read_idx",
    "training_dataset",
]

"""keras-hub's own test harness (`keras_hub.src.tests.test_case.TestCase`) on the family:
the checks every keras-hub model passes (config and serialization round trips, eager and
compiled calls, tf.data and Grain pipelines, mixed precision, fit, saving, presets)."""

import keras
import numpy as np
import pytest
from keras_hub.models import ImageClassifierPreprocessor
from keras_hub.src.tests import test_case

from keras_prelu.zoo import PReLUNetBackbone
from keras_prelu.zoo import PReLUNetImageClassifier
from keras_prelu.zoo import PReLUNetImageClassifierPreprocessor
from keras_prelu.zoo import PReLUNetImageConverter

# The 14-layer model at 1/16 of its widths: conv1 2 filters (7x7 /2, unpadded), stage 2
# 8 filters, stage 3 16 filters. A 32 x 32 image gives conv1 13 x 13, pool1 (3x3 /3)
# 4 x 4, pool2 (2x2 /2) 2 x 2; a 48 x 48 one gives 21, 7 and 3.
TINY_BACKBONE = {"architecture": "model_14", "width_multiplier": 1 / 16, "seed": 0}
CHANNELS = 16
NUM_CLASSES = 3
MEAN = [120.0, 110.0, 100.0]


def images(size, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def image_tensor(size):
    # The precision check's `compute_output_spec` takes tensors (Keras reads no shape
    # from a NumPy array there), as keras-hub's own vision tests pass.
    return keras.ops.convert_to_tensor(images(size))


class HarnessTestCase(test_case.TestCase):
    # TensorFlow's TestCase has a `test_session` method, which pytest would collect
    # (and skip): it is no test of this file.
    test_session = None


class PReLUNetBackboneTest(HarnessTestCase):
    def setUp(self):
        # The harness checks that the name holds the class's snake-case name; the
        # family names its backbones after the architecture (`model_14_backbone`).
        self.init_kwargs = {**TINY_BACKBONE, "name": "p_re_lu_net_backbone"}

    def test_backbone_basics(self):
        self.run_vision_backbone_test(
            cls=PReLUNetBackbone,
            init_kwargs={**self.init_kwargs, "input_shape": (32, 32, 3)},
            input_data=image_tensor(32),
            expected_output_shape=(2, 2, 2, CHANNELS),
            # The layers are channels-last only (SPP, PReLU's per-channel slopes).
            run_data_format_check=False,
            # In test_backbone_dtype_policies: three policies, each built and run (30 s on JAX).
            run_mixed_precision_check=False,
            run_quantization_check=False,
        )

    @pytest.mark.slow
    def test_backbone_dtype_policies(self):
        if keras.config.backend() == "torch":
            pytest.skip("keras-hub's harness checks neither on torch (CPU)")
        init_kwargs = {**self.init_kwargs, "input_shape": (32, 32, 3)}
        self.run_precision_test(PReLUNetBackbone, init_kwargs, image_tensor(32))
        backbone = PReLUNetBackbone(**init_kwargs)
        self.run_quantization_test(backbone, PReLUNetBackbone, init_kwargs, image_tensor(32))

    def test_backbone_takes_every_image_size(self):
        # The harness varies sequence lengths only; an image backbone of unknown size
        # takes each size through the same checks.
        init_kwargs = {**self.init_kwargs, "input_shape": (None, None, 3)}
        for size, side in ((32, 2), (48, 3)):
            self.run_backbone_test(
                cls=PReLUNetBackbone,
                init_kwargs=init_kwargs,
                input_data=image_tensor(size),
                expected_output_shape=(2, side, side, CHANNELS),
                run_mixed_precision_check=False,
                run_quantization_check=False,
            )

    def test_saved_model(self):
        self.run_model_saving_test(
            cls=PReLUNetBackbone,
            init_kwargs={**self.init_kwargs, "input_shape": (None, None, 3)},
            input_data=images(40),
        )


class PReLUNetImageConverterTest(HarnessTestCase):
    def test_converter_basics(self):
        # At its evaluation scale, a square image's centre view is the image itself: the
        # output is the image minus the mean.
        data = images(32, batch=3)
        # The harness compares with `expected_output` only when it is truthy (a list):
        # the output comes back and is compared here.
        output = self.run_preprocessing_layer_test(
            cls=PReLUNetImageConverter,
            init_kwargs={"evaluation_scale": 32, "crop_size": 32, "mean": MEAN},
            input_data=data,
            return_output=True,
        )
        self.assertAllClose(output, data - np.asarray(MEAN, "float32"), atol=1e-4)

    def test_converter_shrinks_and_crops(self):
        # A 64 x 48 image at scale 24 with crop 24: the window is the central 48 x 48,
        # resized by exactly 1/2 (bilinear, half-pixel centres: the mean of each 2 x 2 block).
        data = images(64, batch=2)[:, :, 8:56, :]
        expected = data[:, 8:56].reshape(2, 24, 2, 24, 2, 3).mean(axis=(2, 4))
        output = self.run_preprocessing_layer_test(
            cls=PReLUNetImageConverter,
            init_kwargs={"evaluation_scale": 24, "crop_size": 24, "antialias": False},
            input_data=data,
            return_output=True,
        )
        self.assertAllClose(output, expected, atol=1e-4)


class PReLUNetImageClassifierTest(HarnessTestCase):
    def setUp(self):
        self.backbone = PReLUNetBackbone(**TINY_BACKBONE, input_shape=(32, 32, 3))
        self.preprocessor = PReLUNetImageClassifierPreprocessor(
            PReLUNetImageConverter(evaluation_scale=32, crop_size=32, mean=MEAN)
        )
        self.init_kwargs = {
            "backbone": self.backbone,
            "num_classes": NUM_CLASSES,
            "preprocessor": self.preprocessor,
            "fc_units": (4, 4),
            "seed": 0,
        }
        # Raw images larger than the model's input: the preprocessor takes their view.
        self.train_data = (images(40, batch=4), np.array([0, 1, 2, 1]))

    def test_classifier_basics(self):
        self.run_task_test(
            cls=PReLUNetImageClassifier,
            init_kwargs=self.init_kwargs,
            train_data=self.train_data,
            expected_output_shape=(4, NUM_CLASSES),
        )

    @pytest.mark.slow
    def test_classifier_with_a_pass_through_preprocessor(self):
        # No converter: the task takes the model's own inputs as they come.
        train_data = (images(32, batch=4), np.array([0, 1, 2, 1]))
        self.run_task_test(
            cls=PReLUNetImageClassifier,
            init_kwargs={**self.init_kwargs, "preprocessor": ImageClassifierPreprocessor()},
            train_data=train_data,
            expected_output_shape=(4, NUM_CLASSES),
        )

    def test_default_loss_matches_the_classifier_activation(self):
        # keras-hub's `compile()` (loss "auto") takes probabilities from a softmax and
        # logits otherwise; a loss on probabilities read as logits trains wrongly.
        for activation, from_logits in (("softmax", False), (None, True)):
            with self.subTest(activation=activation):
                classifier = PReLUNetImageClassifier(
                    **self.init_kwargs, classifier_activation=activation
                )
                self.assertEqual(classifier.loss.get_config()["from_logits"], from_logits)

    def test_preprocessor_basics(self):
        # Images at the model's size, whose view is exact: the harness compares the
        # direct call (the active backend) with tf.data's (TensorFlow) within 1e-6, and
        # two backends' resizes differ by float32 rounding (1.5e-5 at 255).
        data = images(32, batch=4)
        output = self.run_preprocessing_layer_test(
            cls=PReLUNetImageClassifierPreprocessor,
            init_kwargs={"image_converter": self.preprocessor.image_converter},
            input_data=(data, self.train_data[1]),
            return_output=True,
        )
        x, y = output
        self.assertAllClose(x, data - np.asarray(MEAN, "float32"), atol=1e-4)
        self.assertAllEqual(y, self.train_data[1])

    def test_saved_model(self):
        for preprocessor in (self.preprocessor, None):
            with self.subTest(preprocessor=preprocessor):
                self.run_model_saving_test(
                    cls=PReLUNetImageClassifier,
                    init_kwargs={**self.init_kwargs, "preprocessor": preprocessor},
                    input_data=images(32),
                )

    def test_preset(self):
        preset = self.get_temp_dir() + "/tiny_preset"
        classifier = PReLUNetImageClassifier(**self.init_kwargs)
        classifier.save_to_preset(preset)
        raw = images(40)
        scores = classifier.predict(raw, verbose=0)
        self.run_preset_test(
            cls=PReLUNetImageClassifier,
            preset=preset,
            input_data=self.preprocessor(raw),
            expected_output=scores,
        )
        self.run_preset_test(
            cls=PReLUNetBackbone,
            preset=preset,
            input_data=images(32),
            expected_output=self.backbone(images(32)),
        )
        self.run_preset_test(
            cls=PReLUNetImageClassifierPreprocessor,
            preset=preset,
            input_data=raw,
            expected_output=self.preprocessor(raw),
        )

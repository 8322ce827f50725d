"""The studies' settings and what each costs, in a module that imports no Keras.

The command's first stage reads them for `keras-prelu reproduce --help`.
"""

import dataclasses

from keras_prelu.data.names import DEFAULT_SOURCE

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_OUT_DIR",
    "DEFAULT_RUNS_DIR",
    "REFERENCE",
    "STUDIES",
    "ActivationsConfig",
    "InitConfig",
    "Study",
]

# Table 2's four rectifiers, in the paper's order; the first is the reference.
ACTIVATIONS = ("relu", "leaky_relu", "prelu_shared", "prelu")
REFERENCE = "relu"


@dataclasses.dataclass(frozen=True)
class InitConfig:
    """The settings of the study; the defaults are those of the shipped results.

    Attributes:
        data: the source (`keras_prelu.data.get_source`).
        scale_range, crop_size: the training augmentation's scales and crop.
        models: `{zoo model: width_multiplier}`.
        epochs: epochs of every run, at the rate 1e-2.
        batch_size: the mini-batch.
        seeds: the seeds; seed `s` draws the same data order for every run.
        fc_units: widths of fc1 and fc2.
        probe_batch: images of the fixed batch the gradient norms are taken on.
        probe_every: steps between two gradient norms.
    """

    data: str = DEFAULT_SOURCE
    scale_range: tuple = (96, 120)
    crop_size: int = 96
    models: dict = dataclasses.field(default_factory=lambda: {"model_b": 0.25, "model_30": 1.0})
    epochs: int = 30
    batch_size: int = 32
    seeds: tuple = (0,)
    fc_units: tuple = (256, 256)
    probe_batch: int = 32
    probe_every: int = 11


@dataclasses.dataclass(frozen=True)
class ActivationsConfig:
    """The settings of the study; the shipped results used these.

    Attributes:
        data: the source, with its training subset (`name[:N]`).
        activations: the rectifiers (`REFERENCE` among them for the differences).
        seeds: the paired seeds.
        fc_units: widths of fc1 and fc2.
        epochs: the most epochs of a run; the switch ends it earlier.
        patience: epochs without a better validation error before a switch.
        min_delta: the least decrease of the validation error that counts as
            better: 0.001 is 10 of Fashion-MNIST's 10,000 test images, below
            which changes are noise (its standard error is about 0.004 at 20%).
        batch_size: the mini-batch.
    """

    data: str = "fashion_mnist[:5000]"
    activations: tuple = ACTIVATIONS
    seeds: tuple = (0, 1, 2, 3, 4)
    fc_units: tuple = (256, 256)
    epochs: int = 30
    patience: int = 2
    min_delta: float = 0.001
    batch_size: int = 32


# Where `reproduce` writes by default: never the shipped results (zoo/studies).
DEFAULT_OUT_DIR = "runs/studies"
DEFAULT_RUNS_DIR = "runs/studies/runs"


@dataclasses.dataclass(frozen=True)
class Study:
    """A study of `STUDIES`: its config class and what it costs."""

    config: type
    about: str
    duration: str


STUDIES = {
    "init": Study(
        InitConfig,
        "Fig. 3: He vs Xavier initialization of the 30-layer model and of model B at a "
        "quarter width, ReLU, digits at 96x96",
        "about 2 hours (4 runs of 30 epochs at 96x96)",
    ),
    "activations": Study(
        ActivationsConfig,
        "Table 2: ReLU, LReLU, PReLU channel-shared and channel-wise on the 14-layer model, "
        "5 paired seeds each to convergence, Fashion-MNIST",
        "about 12-25 minutes a run of 16-29 epochs, 20 runs (6 hours)",
    ),
    "slopes": Study(
        ActivationsConfig,
        "Table 1 and Fig. 2: learned slopes and mean responses of the models of "
        "'activations' (trained first if missing)",
        "about 4 minutes after 'activations'",
    ),
}

"""Table 1 and Fig. 2: the learned slopes and the mean responses of the trained models.

The paper's Table 1 lists the slopes that the 14-layer model's PReLUs learned:
conv1 keeps a large slope (0.681 channel-shared, 0.596 channel-wise mean),
deeper layers smaller ones (conv2_x 0.10-0.56, conv3_x 0.008-0.21: "more
nonlinear"). Fig. 2 shows that PReLU layers have smaller mean responses than
ReLU layers. Both are read here from the converged models of the activations
study (`activations.run_dir`), mean responses over the validation split's
centre crops.
"""

import dataclasses
import logging
from pathlib import Path

import numpy as np

from keras_prelu import data as data_lib
from keras_prelu import paper
from keras_prelu.analysis import plotting
from keras_prelu.analysis.prelu_slopes import learned_slopes
from keras_prelu.analysis.responses import mean_responses
from keras_prelu.analysis.studies import activations as activations_study
from keras_prelu.analysis.studies.results import write_study

__all__ = ["LayerResponses", "LayerSlopes", "LayerSummary", "SlopesResult", "slope_study"]

logger = logging.getLogger(__name__)

NAME = "slopes"
PAPER = (
    "Table 1: conv1 keeps the largest slope (0.681 shared / 0.596 channel-wise), conv2_x "
    "0.10-0.56, conv3_x 0.008-0.21, fc1 0.063 / 0.074, fc2 0.031 / 0.075: deeper layers "
    "are more nonlinear. Fig. 2: PReLU layers have smaller mean responses than ReLU layers."
)
LEARNED = ("prelu_shared", "prelu")
# Validation images per batch of the mean responses.
RESPONSE_BATCH = 256


@dataclasses.dataclass(frozen=True)
class LayerSlopes:
    """The learned slopes of one PReLU layer of one trained model.

    Attributes:
        activation, seed: the model (a run of the activations study).
        layer: the weight layer the PReLU follows, by Table 1's name
            (`conv1`, `conv2_1`, ..., `fc1`, `fc2`).
        mean, min, max: over the layer's slopes (one when channel-shared).
        count: the layer's slopes.
    """

    activation: str
    seed: int
    layer: str
    mean: float
    min: float
    max: float
    count: int


@dataclasses.dataclass(frozen=True)
class LayerResponses:
    """The responses of one activation layer of one trained model (Fig. 2).

    Attributes:
        activation, seed, layer: as `LayerSlopes`.
        mean: the mean response over the validation split.
        negative_fraction: the fraction of negative responses.
        second_moment: `E[x^2]` of the responses.
    """

    activation: str
    seed: int
    layer: str
    mean: float
    negative_fraction: float
    second_moment: float


@dataclasses.dataclass(frozen=True)
class LayerSummary:
    """A layer's value, averaged over seeds (with their standard deviation)."""

    activation: str
    layer: str
    mean: float
    std: float


@dataclasses.dataclass(frozen=True)
class SlopesResult:
    """The study, written to `slopes.json`.

    Attributes:
        activations, seeds, data: the models read and the responses' data.
        slopes: `LayerSlopes` of every PReLU layer of every model.
        responses: `LayerResponses` of every activation layer of every model.
        slope_means, response_means: `LayerSummary`s over seeds.
        conv1_largest: `{activation: seeds in which conv1's slope is the
            largest of every layer}`.
        depth_correlation: `{activation: Spearman's rank correlation of the
            mean slope with depth}` (< 0: deeper layers have smaller slopes).
        below_relu: `{activation: layers whose mean response is below ReLU's}`.
        paper_table_1: Table 1's `{layer: (channel-shared, channel-wise)}`.
    """

    activations: tuple
    seeds: tuple
    data: str
    slopes: tuple
    responses: tuple
    slope_means: tuple
    response_means: tuple
    conv1_largest: dict
    depth_correlation: dict
    below_relu: dict
    paper_table_1: dict
    paper: str = PAPER

    def layers(self):
        """The layers in the model's order, by Table 1's names."""
        return list(dict.fromkeys(row.layer for row in self.response_means))

    def summary(self):
        """A few lines: slopes per layer, their trend, and the mean responses."""
        lines = [f"Study slopes. {self.paper}"]
        for activation in self.conv1_largest:
            means = [row for row in self.slope_means if row.activation == activation]
            lines.append(
                f"{activation} slopes: " + ", ".join(f"{r.layer} {r.mean:.3f}" for r in means)
            )
            lines.append(
                f"  conv1 largest in {self.conv1_largest[activation]} of {len(self.seeds)} "
                f"seeds; rank correlation of slope with depth "
                f"{self.depth_correlation[activation]:+.2f}"
            )
        total = len(self.layers())
        for activation, layers in self.below_relu.items():
            lines.append(
                f"{activation}: mean response below ReLU's in {len(layers)} of {total} layers"
            )
        return "\n".join(lines)


def slope_study(config=None, *, out_dir, runs_dir, verbose=0):
    """Reads the slopes and mean responses of the activations study's models.

    The models are those `activation_study(config, runs_dir=runs_dir)` trains;
    the ones missing are trained first (finished runs are reused).

    Args:
        config: the `ActivationsConfig` of the models; default: the shipped
            results' settings.
        out_dir: where `slopes.json` and, with matplotlib, `slopes.png` and
            `mean_responses.png` are written.
        runs_dir: where the activations study's runs are.
        verbose: `model.fit`'s verbosity, for runs trained first.

    Returns:
        A `SlopesResult`.
    """
    from keras_prelu.training.feeding import validation_dataset

    config = activations_study.ActivationsConfig() if config is None else config

    models = _trained_models(config, out_dir, runs_dir, verbose)
    source = data_lib.get_source(config.data)
    slopes, responses = [], []
    for (activation, seed), trained in models.items():
        if activation in LEARNED:
            slopes += [
                LayerSlopes(
                    activation, seed, _table_1_name(row.name), row.mean, row.min, row.max, row.count
                )
                for row in learned_slopes(trained.model)
            ]
        augmentation = dataclasses.replace(source.default_augmentation(), mean=trained.mean)
        validation = validation_dataset(source, augmentation, RESPONSE_BATCH)
        responses += [
            LayerResponses(
                activation,
                seed,
                _table_1_name(row.name),
                row.mean,
                row.negative_fraction,
                row.second_moment,
            )
            for row in mean_responses(trained.model, validation)
        ]
    slope_means, response_means = _over_seeds(slopes), _over_seeds(responses)
    study = SlopesResult(
        activations=tuple(config.activations),
        seeds=tuple(config.seeds),
        data=config.data,
        slopes=tuple(slopes),
        responses=tuple(responses),
        slope_means=slope_means,
        response_means=response_means,
        conv1_largest={
            activation: sum(_largest(slopes, activation, seed) == "conv1" for seed in config.seeds)
            for activation in LEARNED
            if activation in config.activations
        },
        depth_correlation={
            activation: _rank_correlation_with_depth(
                [r.mean for r in slope_means if r.activation == activation]
            )
            for activation in LEARNED
            if activation in config.activations
        },
        below_relu=_below_relu(response_means),
        paper_table_1=dict(paper.TABLE_1),
    )
    write_study(study, out_dir, NAME)
    plotting.plot_slopes(study, Path(out_dir))
    return study


def _trained_models(config, out_dir, runs_dir, verbose):
    """`{(activation, seed): Trained}` of the activations study, trained if missing."""
    from keras_prelu.evaluation.trained import load_trained

    keys = [(a, s) for a in config.activations for s in config.seeds]
    try:
        return {key: load_trained(activations_study.run_dir(runs_dir, *key)) for key in keys}
    except FileNotFoundError:
        logger.info("Study slopes: training the models of the activations study first.")
        activations_study.activation_study(
            config, out_dir=out_dir, runs_dir=runs_dir, verbose=verbose
        )
        return {key: load_trained(activations_study.run_dir(runs_dir, *key)) for key in keys}


def _table_1_name(activation_layer):
    """`act2_1` -> `conv2_1`, `act_fc1` -> `fc1`: the weight layer it follows."""
    if activation_layer.startswith("act_"):
        return activation_layer[len("act_") :]
    return activation_layer.replace("act", "conv", 1)


def _largest(slopes, activation, seed):
    """The layer with the largest mean slope in one model."""
    rows = [row for row in slopes if (row.activation, row.seed) == (activation, seed)]
    return max(rows, key=lambda row: row.mean).layer


def _over_seeds(values):
    """`LayerSummary`s: each (activation, layer)'s mean over seeds, in order."""
    groups = {}
    for value in values:
        groups.setdefault((value.activation, value.layer), []).append(value.mean)
    return tuple(
        LayerSummary(
            activation,
            layer,
            float(np.mean(means)),
            float(np.std(means, ddof=1)) if len(means) > 1 else 0.0,
        )
        for (activation, layer), means in groups.items()
    )


def _rank_correlation_with_depth(values):
    """Spearman's rank correlation of `values` with their positions."""
    ranks = np.argsort(np.argsort(values))
    return float(np.corrcoef(np.arange(len(values)), ranks)[0, 1])


def _below_relu(response_means):
    """`{activation: layers whose mean response is below ReLU's}`."""
    relu = {row.layer: row.mean for row in response_means if row.activation == "relu"}
    if not relu:
        return {}
    below = {}
    for row in response_means:
        if row.activation != "relu":
            below.setdefault(row.activation, [])
            if row.mean < relu[row.layer]:
                below[row.activation].append(row.layer)
    return below

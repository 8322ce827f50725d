"""Table 2: ReLU, LReLU and PReLU on the 14-layer model, with confidence.

The paper trains the 14-layer model (Table 1) with ReLU, Leaky ReLU (a = 0.25),
channel-shared and channel-wise PReLU on ImageNet for 75 epochs; PReLU improves
top-1 error by 1.1-1.2 points over ReLU, LReLU does not (Table 2). One run
each, no spread.

Here each rectifier is trained to convergence under the recipe's switch (rate
1e-2 -> 1e-3 -> 1e-4 on validation plateaus, stopping at the floor) with the
same seeds: seed `s` draws the same initial kernels for every rectifier (up to
the He rule's slope factor) and the same data order, so the errors are compared
seed by seed (`paired_difference`: mean difference to ReLU, Student's t 95%
interval). On Fashion-MNIST (real 28x28 photographs of garments, hard enough
that rectifiers differ, offline from Debian's `dataset-fashion-mnist`), a stated
subset of its training split, its 10,000 test images as the validation split,
at 32x32 crops, fc1 and fc2 of 256 units.
"""

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from keras_prelu import paper
from keras_prelu.analysis import plotting
from keras_prelu.analysis.statistics import paired_difference
from keras_prelu.analysis.studies.configs import REFERENCE
from keras_prelu.analysis.studies.configs import ActivationsConfig
from keras_prelu.analysis.studies.results import percent
from keras_prelu.analysis.studies.results import write_study
from keras_prelu.errors import InvalidValueError

__all__ = [
    "ActivationRun",
    "ActivationSummary",
    "ActivationsResult",
    "activation_study",
    "run_dir",
    "train_run",
]

logger = logging.getLogger(__name__)

NAME = "activations"
MODEL = "model_14"


@dataclasses.dataclass(frozen=True)
class ActivationRun:
    """One rectifier trained with one seed (errors in %).

    Attributes:
        activation, seed: what was trained.
        top1_error, top5_error: the final validation errors, centre crop.
        val_top1_error, loss, learning_rate: per epoch.
        switch_epochs: the epochs after which the rate was switched.
        stopped_by_switch: whether the switch ended the run at the floor
            (converged) rather than `epochs`.
        seconds: time taken by this call (about 0 for a run trained before).
    """

    activation: str
    seed: int
    top1_error: float
    top5_error: float
    val_top1_error: tuple
    loss: tuple
    learning_rate: tuple
    switch_epochs: tuple
    stopped_by_switch: bool
    seconds: float


@dataclasses.dataclass(frozen=True)
class ActivationSummary:
    """One rectifier over the seeds (errors in %).

    Attributes:
        activation: the rectifier.
        top1_mean, top1_std, top5_mean, top5_std: over seeds (`ddof=1`).
        top1_vs_reference, top5_vs_reference: `PairedDifference` of this
            rectifier's errors minus `REFERENCE`'s, seed by seed (None for the
            reference itself).
        paper: Table 2's top-1 / top-5 error (ImageNet, 10-view).
    """

    activation: str
    top1_mean: float
    top1_std: float
    top5_mean: float
    top5_std: float
    top1_vs_reference: object
    top5_vs_reference: object
    paper: tuple


@dataclasses.dataclass(frozen=True)
class ActivationsResult:
    """The study, written to `activations.json`."""

    config: ActivationsConfig
    runs: tuple
    summaries: tuple
    paper: str = (
        "Table 2 (ImageNet, 10-view, 75 epochs, one run each), top-1 / top-5 error: "
        + ", ".join(f"{a} {t1} / {t5}" for a, (t1, t5) in paper.TABLE_2.items())
    )

    def summary(self):
        """A text table like Table 2, with the paired differences to ReLU."""
        lines = [
            f"Study activations: {MODEL} on {self.config.data}, {len(self.config.seeds)} "
            "paired seeds; errors in %, mean +- std; difference to ReLU with its 95% interval.",
            f"{'activation':<13} {'top-1':>13} {'top-5':>13}  {'top-1 - ReLU [95% CI]':<38} "
            f"{'p':>6}  {'paper':>13}",
        ]
        for row in self.summaries:
            difference = row.top1_vs_reference
            compared = "" if difference is None else _interval_text(difference)
            p_value = "" if difference is None else f"{difference.p_value:.3f}"
            lines.append(
                f"{row.activation:<13} {row.top1_mean:>6.2f} +- {row.top1_std:<4.2f} "
                f"{row.top5_mean:>6.2f} +- {row.top5_std:<4.2f}  {compared:<38} {p_value:>6}  "
                f"{row.paper[0]:>6} / {row.paper[1]:<5}"
            )
        return "\n".join(lines)


def run_dir(runs_dir, activation, seed):
    """The run folder of one run of the study."""
    return Path(runs_dir) / NAME / f"{MODEL}-{activation}-seed{seed}"


def activation_study(config=None, *, out_dir, runs_dir, verbose=0):
    """Runs the study: every rectifier of `config` with every seed.

    Each run is `train_run` (a finished run in `runs_dir` is reused, an
    interrupted one resumed).

    Args:
        config: an `ActivationsConfig`; default: the shipped results' settings.
        out_dir: where `activations.json` and, with matplotlib,
            `activations.png` are written.
        runs_dir: where the runs are trained, or reused from.
        verbose: `model.fit`'s verbosity.

    Raises:
        ValueError: `config.activations` lacks the reference, ReLU.

    Returns:
        An `ActivationsResult`.
    """

    config = ActivationsConfig() if config is None else config

    if REFERENCE not in config.activations:
        raise InvalidValueError(
            f"Argument `activations` must include {REFERENCE!r}, the reference of the "
            f"differences. Received: activations={config.activations!r}"
        )
    runs = []
    for activation in config.activations:
        for seed in config.seeds:
            logger.info("Study activations: %s, seed %d", activation, seed)
            runs.append(train_run(config, activation, seed, runs_dir=runs_dir, verbose=verbose))
            logger.info(
                "  top-1 error %.2f%% after %d epochs (switched after %s)",
                runs[-1].top1_error,
                len(runs[-1].val_top1_error),
                list(runs[-1].switch_epochs),
            )
    study = ActivationsResult(config=config, runs=tuple(runs), summaries=_summaries(runs))
    write_study(study, out_dir, NAME)
    plotting.plot_activations(study, Path(out_dir))
    return study


def train_run(config, activation, seed, *, runs_dir, verbose=0):
    """Trains (or reuses) the run of `activation` with `seed`, as an `ActivationRun`.

    `keras_prelu.training.fit` of the 14-layer model in `run_dir(runs_dir,
    activation, seed)`, with the paper's recipe at `config`'s batch, patience,
    least improvement and most epochs, and fc layers initialized by Eqn. 12
    (fan-in). Runs of different rectifiers or seeds may train in separate
    processes at once; `activation_study` then reuses them.
    """
    from keras_prelu.training import Recipe
    from keras_prelu.training import fit

    recipe = Recipe(
        epochs=config.epochs,
        patience=config.patience,
        min_delta=config.min_delta,
        batch_size=config.batch_size,
        seed=seed,
    )
    start = time.time()
    result = fit(
        MODEL,
        config.data,
        recipe=recipe,
        run_dir=run_dir(runs_dir, activation, seed),
        model_kwargs={
            "activation": activation,
            "fc_units": tuple(config.fc_units),
            "fc_initializer": "he_fan_in",
        },
        verbose=verbose,
    )
    return ActivationRun(
        activation=activation,
        seed=seed,
        top1_error=percent(result.evaluation["top1_error"]),
        top5_error=percent(result.evaluation["top5_error"]),
        val_top1_error=percent(result.history["val_top1_error"]),
        loss=tuple(result.history["loss"]),
        learning_rate=tuple(result.history["learning_rate"]),
        switch_epochs=tuple(result.switch_epochs),
        stopped_by_switch=result.epochs_completed < recipe.epochs,
        seconds=round(time.time() - start, 1),
    )


def _summaries(runs):
    """One `ActivationSummary` per rectifier, its runs in seed order."""

    def errors(activation, field):
        chosen = sorted((r for r in runs if r.activation == activation), key=lambda r: r.seed)
        return np.array([getattr(r, field) for r in chosen])

    summaries = []
    for activation in dict.fromkeys(run.activation for run in runs):
        top1, top5 = errors(activation, "top1_error"), errors(activation, "top5_error")
        is_reference = activation == REFERENCE
        summaries.append(
            ActivationSummary(
                activation=activation,
                top1_mean=float(top1.mean()),
                top1_std=float(top1.std(ddof=1)) if top1.size > 1 else 0.0,
                top5_mean=float(top5.mean()),
                top5_std=float(top5.std(ddof=1)) if top5.size > 1 else 0.0,
                top1_vs_reference=None
                if is_reference or top1.size < 2
                else paired_difference(top1, errors(REFERENCE, "top1_error")),
                top5_vs_reference=None
                if is_reference or top5.size < 2
                else paired_difference(top5, errors(REFERENCE, "top5_error")),
                paper=paper.TABLE_2[activation],
            )
        )
    return tuple(summaries)


def _interval_text(difference):
    verdict = "significant" if difference.significant else "not significant"
    return f"{difference.mean:+.2f} [{difference.low:+.2f}, {difference.high:+.2f}] {verdict}"

"""Fig. 3: He's against Xavier's initialization of deep ReLU models (Sec. 2.2).

The paper trains model B (22 layers) and the 30-layer model with ReLU from
both initializations. Model B converges with both, He's earlier; the 30-layer
model converges with He's and "stalls completely" with Xavier's, because "the
gradients are diminishing". Fig. 3 plots the top-1 error of validation centre
crops against epochs.

Here both models are the zoo's (`model_b` at a fraction of its widths, through
`width_multiplier`, to fit a CPU), ReLU, trained by `keras_prelu.training.fit`
on the bundled digits scaled to 96-120 px with 96x96 crops: at that size every
stage's maps are at least 6x6 (the 30-layer model's added 2x2 convolutions see
7x7 maps; at 32 px they would see 2x2). The rate stays at 1e-2 (the recipe's
patience equals the epochs, so the switch never fires): Fig. 3 shows the
epochs before the first switch. Each run also logs `||dE/dW||` of conv1 and fc3
on a fixed batch (`GradientNorms`), and the variances of Eqn. 10 / 14 at
initialization (`signal_propagation`).
"""

import dataclasses
import logging
import time
from pathlib import Path

import keras

from keras_prelu import data as data_lib
from keras_prelu import training
from keras_prelu.analysis import plotting
from keras_prelu.analysis.gradients import GradientNorms
from keras_prelu.analysis.signal import signal_propagation
from keras_prelu.analysis.studies.configs import InitConfig
from keras_prelu.analysis.studies.results import percent
from keras_prelu.analysis.studies.results import write_study

__all__ = ["InitResult", "InitRun", "init_study", "run_dir"]

logger = logging.getLogger(__name__)

NAME = "init"
PAPER = (
    "Fig. 3: the 22-layer model B converges with both initializations, He's earlier; "
    "the 30-layer ReLU model converges with He's and stalls completely with Xavier's "
    "(the gradients are diminishing)."
)
INITIALIZERS = ("he", "xavier")
# Both initializations differ in the convolutions only; the fc layers keep the
# paper's Gaussians (std 0.01, 0.01, 0.001, Sec. 2.2), small for inputs in
# [-128, 128]: He's rule on them makes model B's first epoch diverge here.
FC_INITIALIZER = "paper"
# The layers whose gradient norms are logged: the first and the last.
PROBED_LAYERS = ("conv1", "fc3")


@dataclasses.dataclass(frozen=True)
class InitRun:
    """One model trained from one initialization with one seed.

    Attributes:
        model, initializer, seed, width_multiplier: what was trained.
        depth: its weight layers (22 for model B, 30).
        val_top1_error: validation top-1 error (%, centre crop) after each epoch.
        loss: training loss of each epoch.
        gradients: the probe's records (loss and `||dE/dW||` of `PROBED_LAYERS`).
        signal: `signal_propagation` of the initial model on the probe batch.
        seconds: time taken by this call (0 for a run trained before).
    """

    model: str
    initializer: str
    seed: int
    width_multiplier: float
    depth: int
    val_top1_error: tuple
    loss: tuple
    gradients: tuple
    signal: tuple
    seconds: float

    def first_epoch_below(self, error):
        """The first epoch (1-based) whose validation error is below `error` (%), or None."""
        below = [epoch for epoch, value in enumerate(self.val_top1_error, 1) if value < error]
        return below[0] if below else None


@dataclasses.dataclass(frozen=True)
class InitResult:
    """The study: its config and its runs, written to `init.json`."""

    config: InitConfig
    runs: tuple
    chance_top1_error: float
    paper: str = PAPER

    def run(self, model, initializer, seed):
        """The run of `model` from `initializer` with `seed`."""
        return next(
            run
            for run in self.runs
            if (run.model, run.initializer, run.seed) == (model, initializer, seed)
        )

    @property
    def learned_error(self):
        """Half of chance's top-1 error (%): a run below it has learned."""
        return self.chance_top1_error / 2

    def summary(self):
        """A text table: per run, the errors, when it learned and the gradient norms."""
        learned = f"epoch < {self.learned_error:g}%"
        lines = [
            f"Study init. {self.paper}",
            f"{'model':<9} {'init':<7} {'seed':>4} {'val top-1 (%): first':>21} {'best':>6} "
            f"{'last':>6} {learned:>13} {'conv1 ||dE/dW|| start -> end':>30}",
        ]
        for run in self.runs:
            norms = [record.norms["conv1"] for record in run.gradients]
            reached = run.first_epoch_below(self.learned_error)
            lines.append(
                f"{run.model:<9} {run.initializer:<7} {run.seed:>4} "
                f"{run.val_top1_error[0]:>21.2f} {min(run.val_top1_error):>6.2f} "
                f"{run.val_top1_error[-1]:>6.2f} {'never' if reached is None else reached:>13} "
                f"{norms[0]:>14.3g} -> {norms[-1]:<12.3g}"
            )
        return "\n".join(lines)


def run_dir(runs_dir, model, initializer, seed):
    """The run folder of one run of the study."""
    return Path(runs_dir) / NAME / f"{model}-relu-{initializer}-seed{seed}"


def init_study(config=None, *, out_dir, runs_dir, verbose=0):
    """Runs the study: every model of `config`, from both initializations, per seed.

    Each run is `keras_prelu.training.fit` in `run_dir(runs_dir, ...)` (a
    finished run there is reused, an interrupted one resumed) with the paper's
    recipe at `config`'s batch and epochs, never switching the rate, and
    `GradientNorms` as a callback (its CSV beside the run folder).

    Args:
        config: an `InitConfig`; default: the shipped results' settings.
        out_dir: where `init.json` and, with matplotlib, `init.png` (Fig. 3),
            `init_gradients.png` and `init_signal.png` are written.
        runs_dir: where the runs are trained, or reused from.
        verbose: `model.fit`'s verbosity.

    Returns:
        An `InitResult`.
    """

    config = InitConfig() if config is None else config
    source = data_lib.get_source(config.data)
    augmentation = dataclasses.replace(
        source.default_augmentation(),
        scale_range=tuple(config.scale_range),
        crop_size=config.crop_size,
    )
    runs = []
    for seed in config.seeds:
        # tf.data's seeded ops also read the global seed, which `fit` sets: the probe
        # batch is drawn under the run's seed, whatever ran before in this process.
        keras.utils.set_random_seed(seed)
        probe_batch = next(
            iter(
                data_lib.training_dataset(
                    source, config.probe_batch, augmentation=augmentation, seed=seed
                )
            )
        )
        for model, width in config.models.items():
            for initializer in INITIALIZERS:
                logger.info("Study init: %s, %s initialization, seed %d", model, initializer, seed)
                runs.append(
                    _train(
                        config,
                        augmentation,
                        probe_batch,
                        model=model,
                        width=width,
                        initializer=initializer,
                        seed=seed,
                        runs_dir=runs_dir,
                        verbose=verbose,
                    )
                )
                logger.info("  validation top-1 error per epoch (%%): %s", runs[-1].val_top1_error)
    study = InitResult(
        config=config, runs=tuple(runs), chance_top1_error=percent(1 - 1 / source.num_classes)
    )
    write_study(study, out_dir, NAME)
    plotting.plot_init(study, Path(out_dir))
    return study


def _train(
    config, augmentation, probe_batch, *, model, width, initializer, seed, runs_dir, verbose
):
    """One run of the study, as an `InitRun`."""
    folder = run_dir(runs_dir, model, initializer, seed)
    arguments = {
        "recipe": training.Recipe(
            epochs=config.epochs,
            patience=config.epochs,
            batch_size=config.batch_size,
            seed=seed,
        ),
        "run_dir": folder,
        "augmentation": augmentation,
        "model_kwargs": {
            "activation": "relu",
            "initializer": initializer,
            "fc_initializer": FC_INITIALIZER,
            "fc_units": tuple(config.fc_units),
            "width_multiplier": width,
        },
        "verbose": verbose,
    }
    # The model `fit` starts from: its first steps, before any training.
    _, initial = training.prepare_run(model, config.data, **arguments)
    images, labels = probe_batch
    signal = tuple(signal_propagation(initial, images))
    probe = GradientNorms(
        images,
        labels,
        PROBED_LAYERS,
        every=config.probe_every,
        path=folder.with_name(folder.name + "-gradients.csv"),
    )
    start = time.time()
    result = training.fit(model, config.data, callbacks=[probe], **arguments)
    return InitRun(
        model=model,
        initializer=initializer,
        seed=seed,
        width_multiplier=width,
        depth=len(signal),
        val_top1_error=percent(result.history["val_top1_error"]),
        loss=tuple(result.history["loss"]),
        gradients=tuple(probe.records),
        signal=signal,
        seconds=round(time.time() - start, 1),
    )

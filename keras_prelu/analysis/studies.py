"""The paper's studies at small scale, on the bundled digits (`keras-prelu reproduce`).

1. `init_study` (Sec. 2.2, Fig. 3): the 30-layer ReLU model, and model B's
   pattern at reduced width, trained from He and from Xavier initialization on
   the same data with the same seeds; training curves, the gradient norm of
   the first layer over time and the variances of Eqn 10 / Eqn 14 at
   initialization.
2. `activation_study` (Table 2): the 14-layer model with ReLU, Leaky ReLU
   (a = 0.25), PReLU channel-shared and PReLU channel-wise, the same recipe
   and several seeds each; top-1 / top-5 error with their spread.
3. `slope_study` (Table 1, Fig. 2): the learned slopes and the mean
   responses of the trained models of study 2.

Each writes its numbers as JSON (`<name>.json`) and its plots as PNG in
`out_dir`; without matplotlib only the JSON is written. The defaults are sized
for a 2-core CPU: the three together take about 10-15 minutes. Everything is
smaller than the paper's (8x8 digits scaled to 32x32 instead of 224x224
ImageNet crops, fc layers of 64 units instead of 4096, a few epochs instead
of 75), so the numbers say how the claims fare at this scale, not more.
"""

import dataclasses
import json
import logging
import time
from pathlib import Path

import keras
import numpy as np

from keras_prelu import data as data_lib
from keras_prelu import paper
from keras_prelu.analysis.responses import mean_responses
from keras_prelu.analysis.responses import plot_mean_responses
from keras_prelu.analysis.signal import _pyplot
from keras_prelu.analysis.signal import plot_signal
from keras_prelu.analysis.signal import save_figure
from keras_prelu.analysis.signal import signal_propagation
from keras_prelu.analysis.slopes import learned_slopes
from keras_prelu.runs import RunFolder
from keras_prelu.training.run import validation_dataset
from keras_prelu.zoo import get_model

logger = logging.getLogger(__name__)

STUDIES = ("init", "activations", "slopes")
DEFAULT_OUT_DIR = "zoo/studies"
DEFAULT_RUNS_DIR = "runs/reproduce"
# Table 2's four rectifiers, in the paper's order.
STUDY_ACTIVATIONS = ("relu", "leaky_relu", "prelu_shared", "prelu")
# fc1 and fc2 widths of every study (4096 in the paper): 10 classes of 8x8
# digits need no more, and the runs stay short.
STUDY_FC_UNITS = (64, 64)
STUDY_SEEDS = (0, 1, 2)
# Epochs of study 2 (75 in the paper): enough to separate the rectifiers'
# speed of convergence, not to converge.
ACTIVATION_EPOCHS = 4
# Study 1: epochs per run, and the fraction of model B's widths kept.
INIT_EPOCHS = 2
MODEL_B_WIDTH = 0.25
# The fc layers' rule for each initialization of study 1: fan-in for both.
# The fan-out rule would scale fc1's forward variance by its fan-in over its
# fan-out (12800 / 64 = 200 here), which makes the He runs diverge at once.
FC_RULE = {"he": "he_fan_in", "xavier": "xavier"}
PAPER_INIT = (
    "Fig. 3: the 22-layer model B converges with both initializations, He's "
    "earlier; the 30-layer ReLU model converges with He's and stalls "
    "completely with Xavier's (gradients diminish)."
)


def _write_json(out_dir, name, result):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    logger.info("Wrote %s", path)
    return path


# --- Study 1: initialization ------------------------------------------------


class _GradientProbe(keras.callbacks.Callback):
    """Every `every` steps: loss and gradient norms of the first and last kernels
    on a fixed batch (inference mode), and the running training loss."""

    def __init__(self, images, labels, every):
        super().__init__()
        self.images = images
        self.labels = labels
        self.every = every
        self.step = 0
        self.records = []

    def on_train_begin(self, logs=None):
        self._record(logs)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            self._record(logs)

    def _record(self, logs):
        import tensorflow as tf

        kernels = [
            layer.kernel
            for layer in self.model._flatten_layers(include_self=False)
            if getattr(layer, "kernel", None) is not None
        ]
        first, last = kernels[0], kernels[-1]
        with tf.GradientTape() as tape:
            predictions = self.model(self.images, training=False)
            loss = keras.losses.sparse_categorical_crossentropy(self.labels, predictions)
            loss = tf.reduce_mean(loss)
        grads = tape.gradient(loss, [first, last])
        self.records.append(
            {
                "step": self.step,
                "probe_loss": float(loss),
                "first_grad_norm": float(tf.norm(grads[0])),
                "last_grad_norm": float(tf.norm(grads[1])),
                "train_loss": None if not logs or "loss" not in logs else float(logs["loss"]),
            }
        )


def _train_for_init_study(
    model, source, augmentation, *, recipe, epochs, steps_per_epoch, probe_every, seed
):
    """Trains `model` at the recipe's initial rate; returns curves and errors."""
    from keras_prelu.training import SparseTopKError

    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=recipe.optimizer(),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[SparseTopKError(1), SparseTopKError(5)],
        jit_compile=recipe.jit_compile,
    )
    train = (
        data_lib.training_dataset(source, recipe.batch_size, augmentation=augmentation, seed=seed)
        .repeat()
        .take(epochs * steps_per_epoch)
    )
    images, labels = next(iter(train))
    probe = _GradientProbe(images, labels, probe_every)
    start = time.time()
    history = model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation_dataset(source, augmentation, recipe.batch_size),
        callbacks=[probe],
        verbose=0,
    ).history
    return {
        "epochs": {key: [float(v) for v in values] for key, values in history.items()},
        "steps": probe.records,
        "seconds": round(time.time() - start, 1),
    }


def init_study(
    out_dir=DEFAULT_OUT_DIR,
    *,
    epochs=INIT_EPOCHS,
    seeds=(0,),
    fc_units=STUDY_FC_UNITS,
    steps_per_epoch=None,
    probe_every=5,
    model_b_width=MODEL_B_WIDTH,
    data=data_lib.DEFAULT_SOURCE,
):
    """Study 1: He vs Xavier initialization of deep ReLU models (Fig. 3).

    Trains the 30-layer model (`Model30`, ReLU) and model B's pattern at
    `model_b_width` of its widths (`width_multiplier`; None skips it) from both
    initializations, with the bundled recipe (rate 1e-2, momentum 0.9,
    decay 5e-4, batch 32) for `epochs` epochs of `steps_per_epoch` steps
    (default: one pass over the training split), per seed. The He rule is
    the paper's (Eqn 16, fan-out) for the convolutions and Eqn 12 (fan-in)
    for the fc layers (`FC_RULE`); Xavier's is `n Var[w] = 1` (fan-in) for
    every layer. Also measures the variances of Eqn
    10 / 14 of the 30-layer model at initialization on a training batch.

    Writes `init.json` and, with matplotlib, `init_curves.png`,
    `init_gradients.png` and `init_signal.png` in `out_dir`.

    Returns:
        The dict written to `init.json`.
    """
    from keras_prelu.training import BUNDLED_RECIPE

    source = data_lib.get_source(data)
    augmentation = source.default_augmentation()
    crop = augmentation.crop_size
    recipe = BUNDLED_RECIPE
    if steps_per_epoch is None:
        steps_per_epoch = source.num_examples("train") // recipe.batch_size
    widths = {"model_30": 1.0}
    if model_b_width is not None:
        widths["model_b"] = model_b_width

    def build(model_name, init, seed):
        return get_model(
            model_name,
            input_shape=(crop, crop, 3),
            num_classes=source.num_classes,
            activation="relu",
            initializer=init,
            fc_initializer=FC_RULE[init],
            fc_units=fc_units,
            width_multiplier=widths[model_name],
            seed=seed,
        )

    batch, _ = next(
        iter(
            data_lib.training_dataset(source, recipe.batch_size, augmentation=augmentation, seed=0)
        )
    )
    runs = {}
    signal = {}
    for model_name in widths:
        for init in ("he", "xavier"):
            for seed in seeds:
                model = build(model_name, init, seed)
                if seed == seeds[0]:
                    rows = signal_propagation(model, batch)
                    signal.setdefault(model_name, {})[init] = [
                        dataclasses.asdict(row) for row in rows
                    ]
                logger.info("Study init: %s, %s init, seed %d", model_name, init, seed)
                run = _train_for_init_study(
                    model,
                    source,
                    augmentation,
                    recipe=recipe,
                    epochs=epochs,
                    steps_per_epoch=steps_per_epoch,
                    probe_every=probe_every,
                    seed=seed,
                )
                runs.setdefault(model_name, {}).setdefault(init, {})[str(seed)] = run
                logger.info(
                    "  val top-1 error per epoch %s, first-layer gradient norm %.3g -> %.3g",
                    [round(e, 3) for e in run["epochs"]["val_top1_error"]],
                    run["steps"][0]["first_grad_norm"],
                    run["steps"][-1]["first_grad_norm"],
                )
    result = {
        "study": "init",
        "paper": PAPER_INIT,
        "data": source.name,
        "config": {
            "epochs": epochs,
            "steps_per_epoch": steps_per_epoch,
            "seeds": list(seeds),
            "fc_units": list(fc_units),
            "model_b_width": model_b_width,
            "recipe": recipe.to_dict(),
            "probe_every": probe_every,
        },
        "summary": _init_summary(runs, signal),
        "signal_at_init": signal,
        "runs": runs,
    }
    _write_json(out_dir, "init", result)
    _plot_init(result, Path(out_dir))
    return result


def _init_summary(runs, signal):
    summary = {}
    for model_name, by_init in runs.items():
        for init, by_seed in by_init.items():
            finals = [run["epochs"]["val_top1_error"][-1] for run in by_seed.values()]
            losses = [run["epochs"]["loss"][-1] for run in by_seed.values()]
            first = [run["steps"][0]["first_grad_norm"] for run in by_seed.values()]
            last = [run["steps"][-1]["first_grad_norm"] for run in by_seed.values()]
            rows = signal[model_name][init]
            summary[f"{model_name}/{init}"] = {
                "final_val_top1_error": float(np.mean(finals)),
                "final_train_loss": float(np.mean(losses)),
                "first_layer_grad_norm_start": float(np.mean(first)),
                "first_layer_grad_norm_end": float(np.mean(last)),
                "forward_variance_last_over_first": (
                    rows[-1]["forward_variance"] / rows[0]["forward_variance"]
                ),
                "backward_variance_first_over_last": (
                    rows[0]["backward_variance"] / rows[-1]["backward_variance"]
                ),
            }
    return summary


def _plot_init(result, out_dir):
    plt = _pyplot()
    if plt is None:
        return
    runs = result["runs"]
    figure, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 3.5), squeeze=False)
    for ax, (model_name, by_init) in zip(axes[0], runs.items()):
        for init, by_seed in by_init.items():
            for seed, run in by_seed.items():
                steps = [r["step"] for r in run["steps"]]
                ax.plot(
                    steps, [r["probe_loss"] for r in run["steps"]], label=f"{init} (seed {seed})"
                )
        ax.set(xlabel="step", ylabel="training loss (fixed batch)", title=model_name)
        ax.legend(fontsize="small")
    figure.suptitle("He vs Xavier initialization, ReLU, digits")
    save_figure(figure, out_dir / "init_curves.png")

    figure, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 3.5), squeeze=False)
    for ax, (model_name, by_init) in zip(axes[0], runs.items()):
        for init, by_seed in by_init.items():
            for seed, run in by_seed.items():
                steps = [r["step"] for r in run["steps"]]
                ax.semilogy(
                    steps,
                    [r["first_grad_norm"] for r in run["steps"]],
                    label=f"{init} (seed {seed})",
                )
        ax.set(xlabel="step", ylabel="||dE/dW|| of conv1", title=model_name)
        ax.legend(fontsize="small")
    save_figure(figure, out_dir / "init_gradients.png")

    signal = result["signal_at_init"]["model_30"]
    from keras_prelu.analysis.signal import SignalRow

    plot_signal(
        {init: [SignalRow(**row) for row in rows] for init, rows in signal.items()},
        out_dir / "init_signal.png",
        title="30-layer ReLU model at initialization",
    )


# --- Study 2: activations ---------------------------------------------------


def _run_dir(runs_dir, activation, seed):
    return Path(runs_dir) / f"model_14-{activation}-seed{seed}"


def activation_study(
    out_dir=DEFAULT_OUT_DIR,
    *,
    runs_dir=DEFAULT_RUNS_DIR,
    activations=STUDY_ACTIVATIONS,
    seeds=STUDY_SEEDS,
    epochs=ACTIVATION_EPOCHS,
    fc_units=STUDY_FC_UNITS,
    batch_size=None,
    data=data_lib.DEFAULT_SOURCE,
):
    """Study 2: Table 2's rectifiers on the 14-layer model, several seeds.

    Each run is `keras_prelu.training.fit` with the bundled recipe (its
    `epochs` and `seed` replaced; `batch_size` too when given) and
    `model_kwargs={"activation": ..., "fc_units": fc_units}`, in
    `runs_dir/model_14-<activation>-seed<seed>` (a finished run there is
    reused, see `fit`). Seed `s` draws the same initial convolution kernels
    for every activation up to the He rule's slope factor, and the same
    data order.

    Writes `activations.json` and, with matplotlib, `activations.png`.

    Returns:
        The dict written to `activations.json`.
    """
    from keras_prelu.training import BUNDLED_RECIPE
    from keras_prelu.training import fit

    recipe = dataclasses.replace(BUNDLED_RECIPE, epochs=epochs)
    if batch_size is not None:
        recipe = dataclasses.replace(recipe, batch_size=batch_size)
    runs = {}
    for activation in activations:
        for seed in seeds:
            logger.info("Study activations: %s, seed %d", activation, seed)
            start = time.time()
            result = fit(
                "model_14",
                data,
                recipe=dataclasses.replace(recipe, seed=seed),
                run_dir=_run_dir(runs_dir, activation, seed),
                model_kwargs={"activation": activation, "fc_units": tuple(fc_units)},
                verbose=0,
            )
            runs.setdefault(activation, {})[str(seed)] = {
                "top1_error": result.evaluation["top1_error"],
                "top5_error": result.evaluation["top5_error"],
                "val_top1_error": result.history.get("val_top1_error", []),
                "loss": result.history.get("loss", []),
                "seconds": round(time.time() - start, 1),
            }
    summary = {}
    for activation, by_seed in runs.items():
        top1 = np.array([r["top1_error"] for r in by_seed.values()]) * 100
        top5 = np.array([r["top5_error"] for r in by_seed.values()]) * 100
        summary[activation] = {
            "top1_error_mean": float(top1.mean()),
            "top1_error_std": float(top1.std(ddof=1)) if top1.size > 1 else 0.0,
            "top1_error_min": float(top1.min()),
            "top1_error_max": float(top1.max()),
            "top5_error_mean": float(top5.mean()),
            "top5_error_std": float(top5.std(ddof=1)) if top5.size > 1 else 0.0,
            "paper_top1_top5": paper.TABLE_2.get(activation),
        }
    result = {
        "study": "activations",
        "paper": "Table 2 (ImageNet, 10-view, 75 epochs): "
        + ", ".join(f"{a} {t1}/{t5}" for a, (t1, t5) in paper.TABLE_2.items()),
        "data": str(data),
        "config": {
            "model": "model_14",
            "epochs": epochs,
            "seeds": list(seeds),
            "fc_units": list(fc_units),
            "recipe": recipe.to_dict(),
            "errors": "percent, validation centre crop",
        },
        "summary": summary,
        "runs": runs,
    }
    _write_json(out_dir, "activations", result)
    _plot_activations(result, Path(out_dir))
    return result


def _plot_activations(result, out_dir):
    plt = _pyplot()
    if plt is None:
        return
    figure, (curves, bars) = plt.subplots(1, 2, figsize=(9, 3.5))
    for activation, by_seed in result["runs"].items():
        errors = np.array([r["val_top1_error"] for r in by_seed.values()]) * 100
        epochs = np.arange(1, errors.shape[1] + 1)
        (line,) = curves.plot(epochs, errors.mean(axis=0), ".-", label=activation)
        curves.fill_between(
            epochs, errors.min(axis=0), errors.max(axis=0), color=line.get_color(), alpha=0.2
        )
    curves.set(
        xlabel="epoch",
        ylabel="val top-1 error (%)",
        title="14-layer model, mean and range over seeds",
    )
    curves.legend(fontsize="small")
    names = list(result["summary"])
    summary = result["summary"]
    bars.bar(
        names,
        [summary[n]["top1_error_mean"] for n in names],
        yerr=[summary[n]["top1_error_std"] for n in names],
        capsize=4,
    )
    bars.set(ylabel="final top-1 error (%)", title="mean +- std over seeds")
    bars.tick_params(axis="x", labelsize="small")
    save_figure(figure, out_dir / "activations.png")


# --- Study 3: slopes and mean responses -------------------------------------


def _paper_layer_name(activation_layer):
    """`act2_1` -> `conv2_1`, `act_fc1` -> `fc1` (Table 1's names)."""
    if activation_layer.startswith("act_"):
        return activation_layer[len("act_") :]
    return activation_layer.replace("act", "conv", 1)


def _stage(layer):
    if layer.startswith("fc"):
        return "fc"
    return layer.split("_")[0]


def slope_study(
    out_dir=DEFAULT_OUT_DIR,
    *,
    runs_dir=DEFAULT_RUNS_DIR,
    activations=STUDY_ACTIVATIONS,
    seeds=STUDY_SEEDS,
    data=data_lib.DEFAULT_SOURCE,
    train_missing=True,
    **activation_kwargs,
):
    """Study 3: learned slopes (Table 1) and mean responses (Fig. 2).

    Reads the trained models of `activation_study` from `runs_dir` (their
    `model.keras`), training those missing first when `train_missing` (with
    `activation_kwargs`). Mean responses are over the validation split's
    centre crops.

    Writes `slopes.json` and, with matplotlib, `slopes.png` and
    `mean_responses.png`.

    Returns:
        The dict written to `slopes.json`.
    """
    missing = [
        (a, s)
        for a in activations
        for s in seeds
        if not RunFolder(_run_dir(runs_dir, a, s)).is_finished()
    ]
    if missing:
        if not train_missing:
            raise FileNotFoundError(
                f"No trained model in {runs_dir} for {missing}; run the "
                "activations study first (keras-prelu reproduce activations)."
            )
        activation_study(
            out_dir,
            runs_dir=runs_dir,
            activations=activations,
            seeds=seeds,
            data=data,
            **activation_kwargs,
        )
    source = data_lib.get_source(data)
    validation = validation_dataset(source, source.default_augmentation(), 64)
    slopes = {}
    responses = {}
    for activation in activations:
        for seed in seeds:
            model = RunFolder(_run_dir(runs_dir, activation, seed)).load_model()
            if activation.startswith("prelu"):
                slopes.setdefault(activation, {})[str(seed)] = {
                    _paper_layer_name(row.name): dataclasses.asdict(row)
                    for row in learned_slopes(model)
                }
            responses.setdefault(activation, {})[str(seed)] = {
                _paper_layer_name(row.name): dataclasses.asdict(row)
                for row in mean_responses(model, validation)
            }
    result = {
        "study": "slopes",
        "paper": {
            "table_1": paper.TABLE_1,
            "table_1_ranges": paper.TABLE_1_RANGES,
            "claims": "conv1 keeps the largest slope; deeper layers get smaller "
            "slopes (more nonlinear); PReLU layers have smaller mean "
            "responses than ReLU layers (Fig. 2).",
        },
        "data": str(data),
        "config": {
            "activations": list(activations),
            "seeds": list(seeds),
            "runs_dir": str(runs_dir),
        },
        "summary": _slope_summary(slopes, responses),
        "slopes": slopes,
        "mean_responses": responses,
    }
    _write_json(out_dir, "slopes", result)
    _plot_slopes(result, Path(out_dir))
    return result


def _mean_over_seeds(by_seed, field):
    layers = list(next(iter(by_seed.values())))
    return {
        layer: float(np.mean([rows[layer][field] for rows in by_seed.values()])) for layer in layers
    }


def _slope_summary(slopes, responses):
    summary = {}
    for activation, by_seed in slopes.items():
        means = _mean_over_seeds(by_seed, "mean")
        stages = {}
        for layer, value in means.items():
            stages.setdefault(_stage(layer), []).append(value)
        conv = {k: v for k, v in means.items() if not k.startswith("fc")}
        depth = np.arange(len(means))
        values = np.array(list(means.values()))
        summary[activation] = {
            "slope_per_layer": means,
            "slope_per_stage": {k: float(np.mean(v)) for k, v in stages.items()},
            "conv1_largest_of_all": max(means, key=means.get) == "conv1",
            "conv1_largest_of_conv": max(conv, key=conv.get) == "conv1",
            "seeds_with_conv1_largest": sum(
                max(rows, key=lambda k: rows[k]["mean"]) == "conv1" for rows in by_seed.values()
            ),
            # Spearman's rank correlation of slope with depth: < 0 when
            # deeper layers have smaller slopes.
            "depth_rank_correlation": float(
                np.corrcoef(depth, np.argsort(np.argsort(values)))[0, 1]
            ),
        }
    relu = responses.get("relu")
    if relu is not None:
        relu_means = _mean_over_seeds(relu, "mean")
        for activation, by_seed in responses.items():
            means = _mean_over_seeds(by_seed, "mean")
            smaller = [layer for layer in means if means[layer] < relu_means[layer]]
            summary.setdefault(activation, {})["mean_response_per_layer"] = means
            summary[activation]["layers_with_smaller_mean_than_relu"] = (
                f"{len(smaller)}/{len(means)}"
            )
    return summary


def _plot_slopes(result, out_dir):
    plt = _pyplot()
    if plt is None:
        return
    figure, axes = plt.subplots(figsize=(7, 3.5))
    for activation, by_seed in result["slopes"].items():
        layers = list(next(iter(by_seed.values())))
        x = np.arange(len(layers))
        means = [np.mean([rows[l]["mean"] for rows in by_seed.values()]) for l in layers]
        (line,) = axes.plot(x, means, ".-", label=f"{activation} (mean)")
        if activation == "prelu":
            low = [np.mean([rows[l]["min"] for rows in by_seed.values()]) for l in layers]
            high = [np.mean([rows[l]["max"] for rows in by_seed.values()]) for l in layers]
            axes.fill_between(
                x,
                low,
                high,
                color=line.get_color(),
                alpha=0.15,
                label="prelu (min-max over channels)",
            )
    paper = result["paper"]["table_1"]
    for k, label in enumerate(("paper, shared", "paper, channel-wise mean")):
        points = [(layers.index(l), v[k]) for l, v in paper.items() if l in layers]
        axes.plot(*zip(*points), "x" if k else "+", markersize=9, label=label)
    axes.set_xticks(x, layers, rotation=60, fontsize="small")
    axes.set(ylabel="learned slope a", title="learned PReLU slopes, 14-layer model")
    axes.axhline(0.25, color="gray", linewidth=0.5, linestyle="--")
    axes.legend(fontsize="x-small")
    save_figure(figure, out_dir / "slopes.png")
    plot_mean_responses(
        {a: _mean_over_seeds(by_seed, "mean") for a, by_seed in result["mean_responses"].items()},
        out_dir / "mean_responses.png",
        title="mean response per activation layer (validation)",
    )


def reproduce(study, out_dir=DEFAULT_OUT_DIR, *, runs_dir=DEFAULT_RUNS_DIR, **kwargs):
    """Runs study `study` (one of `STUDIES`, or "all") with `kwargs`."""
    if study not in STUDIES + ("all",):
        raise ValueError(f"`study` must be one of {STUDIES + ('all',)}, got study={study!r}.")
    results = {}
    if study in ("init", "all"):
        results["init"] = init_study(out_dir, **kwargs.get("init", {}))
    if study in ("activations", "all"):
        results["activations"] = activation_study(
            out_dir, runs_dir=runs_dir, **kwargs.get("activations", {})
        )
    if study in ("slopes", "all"):
        results["slopes"] = slope_study(out_dir, runs_dir=runs_dir, **kwargs.get("slopes", {}))
    return results


def format_summary(result):
    """A few lines of text with the main numbers of a study's result."""
    study = result["study"]
    summary = result["summary"]
    lines = [f"Study {study}: {result['paper'] if isinstance(result['paper'], str) else ''}"]
    if study == "init":
        lines.append(
            f"{'model/init':<16} {'val top-1':>9} {'loss':>7} {'conv1 grad norm start -> end':>30}"
        )
        for name, row in summary.items():
            lines.append(
                f"{name:<16} {row['final_val_top1_error']:>9.3f} "
                f"{row['final_train_loss']:>7.3f} "
                f"{row['first_layer_grad_norm_start']:>14.3g} -> "
                f"{row['first_layer_grad_norm_end']:<12.3g}"
            )
    elif study == "activations":
        lines.append(f"{'activation':<14} {'top-1 (%)':>14} {'top-5 (%)':>14} {'paper':>14}")
        for name, row in summary.items():
            paper = row["paper_top1_top5"]
            lines.append(
                f"{name:<14} {row['top1_error_mean']:>7.2f} +- {row['top1_error_std']:<4.2f}"
                f" {row['top5_error_mean']:>7.2f} +- {row['top5_error_std']:<4.2f}"
                f" {'' if paper is None else f'{paper[0]} / {paper[1]}':>14}"
            )
    elif study == "slopes":
        for name, row in summary.items():
            if "slope_per_layer" in row:
                slopes = ", ".join(f"{k} {v:.3f}" for k, v in row["slope_per_layer"].items())
                lines.append(f"{name} slopes: {slopes}")
                lines.append(
                    f"  conv1 largest: {row['conv1_largest_of_all']} (in "
                    f"{row['seeds_with_conv1_largest']} seeds); rank correlation "
                    f"of slope with depth {row['depth_rank_correlation']:.2f}"
                )
            if "layers_with_smaller_mean_than_relu" in row and name != "relu":
                lines.append(
                    f"{name}: mean response below ReLU's in "
                    f"{row['layers_with_smaller_mean_than_relu']} layers"
                )
    return "\n".join(lines)

"""Every figure of keras-prelu, as PNG files: the one module that imports matplotlib.

The functions draw the data they are given (rows of the analysis functions,
results of the studies) and compute nothing; without matplotlib they write
nothing, log why once, and return None.
"""

import logging

import numpy as np

__all__ = [
    "plot_activations",
    "plot_init",
    "plot_mean_responses",
    "plot_signal",
    "plot_slopes",
    "save_figure",
]

logger = logging.getLogger(__name__)

# Fig. 3's colours: He's initialization ("ours") red, Xavier's blue.
INIT_STYLES = {
    "he": {"color": "tab:red", "linestyle": "-"},
    "xavier": {"color": "tab:blue", "linestyle": "--"},
}
INIT_LABELS = {"he": "He (Eqn. 16)", "xavier": "Xavier"}
ACTIVATION_LABELS = {
    "relu": "ReLU",
    "leaky_relu": "LReLU (a = 0.25)",
    "prelu_shared": "PReLU, shared",
    "prelu": "PReLU, channel-wise",
}


def _panel_title(run):
    width = "" if run.width_multiplier == 1 else f", widths x{run.width_multiplier:g}"
    return f"{run.depth}-layer {run.model}{width}, ReLU"


def _runs_by_model(study):
    by_model = {}
    for run in study.runs:
        by_model.setdefault(run.model, []).append(run)
    return by_model


def plot_init(study, out_dir):
    """`init.png` (Fig. 3), `init_gradients.png` and `init_signal.png` of an `InitResult`."""
    plt = _pyplot()
    if plt is None:
        return
    by_model = _runs_by_model(study)
    figure, axes = plt.subplots(1, len(by_model), figsize=(4.5 * len(by_model), 3.5), squeeze=False)
    for ax, runs in zip(axes[0], by_model.values()):
        for run in runs:
            epochs = np.arange(1, len(run.val_top1_error) + 1)
            ax.plot(
                epochs,
                run.val_top1_error,
                marker=".",
                label=f"{INIT_LABELS[run.initializer]}, seed {run.seed}",
                **INIT_STYLES[run.initializer],
            )
        ax.axhline(study.chance_top1_error, color="gray", linewidth=0.5, label="chance")
        ax.set(
            xlabel="epoch",
            ylabel="validation top-1 error (%)",
            title=_panel_title(runs[0]),
            ylim=(0, 100),
        )
        ax.legend(fontsize="small")
    figure.suptitle(
        f"Fig. 3 on {study.config.data} at {study.config.crop_size}x"
        f"{study.config.crop_size}, rate 0.01"
    )
    save_figure(figure, out_dir / "init.png")

    figure, axes = plt.subplots(1, len(by_model), figsize=(4.5 * len(by_model), 3.5), squeeze=False)
    for ax, runs in zip(axes[0], by_model.values()):
        for run in runs:
            steps = [record.step for record in run.gradients]
            ax.semilogy(
                steps,
                [record.norms["conv1"] for record in run.gradients],
                label=f"{INIT_LABELS[run.initializer]}, seed {run.seed}",
                **INIT_STYLES[run.initializer],
            )
        ax.set(
            xlabel="step", ylabel="||dE/dW|| of conv1 (fixed batch)", title=_panel_title(runs[0])
        )
        ax.legend(fontsize="small")
    save_figure(figure, out_dir / "init_gradients.png")

    deepest = max(by_model.values(), key=lambda runs: runs[0].depth)
    first_seed = deepest[0].seed
    plot_signal(
        {
            INIT_LABELS[run.initializer]: list(run.signal)
            for run in deepest
            if run.seed == first_seed
        },
        out_dir / "init_signal.png",
        title=f"{_panel_title(deepest[0])}, at initialization",
    )


def plot_activations(study, out_dir):
    """`activations.png` of an `ActivationsResult`: curves, and differences to ReLU."""
    plt = _pyplot()
    if plt is None:
        return
    figure, (curves, differences) = plt.subplots(1, 2, figsize=(10, 3.8))
    colours = {}
    for run in study.runs:
        epochs = np.arange(1, len(run.val_top1_error) + 1)
        (line,) = curves.plot(
            epochs,
            run.val_top1_error,
            color=colours.get(run.activation),
            linewidth=0.8,
            label=None if run.activation in colours else ACTIVATION_LABELS[run.activation],
        )
        colours[run.activation] = line.get_color()
    curves.set(
        xlabel="epoch",
        ylabel="validation top-1 error (%)",
        title="14-layer model, one line per seed",
    )
    low, high = np.percentile([min(run.val_top1_error) for run in study.runs], [0, 100])
    curves.set_ylim(low - 2, high + 12)
    curves.legend(fontsize="small")

    reference = next(row.activation for row in study.summaries if row.top1_vs_reference is None)
    compared = [row for row in study.summaries if row.top1_vs_reference is not None]
    positions = np.arange(len(compared))
    for position, row in zip(positions, compared):
        difference = row.top1_vs_reference
        differences.errorbar(
            position,
            difference.mean,
            yerr=[[difference.mean - difference.low], [difference.high - difference.mean]],
            fmt="o",
            capsize=5,
            color=colours[row.activation],
        )
        seeds = [r for r in study.runs if r.activation == row.activation]
        reference_errors = {r.seed: r.top1_error for r in study.runs if r.activation == reference}
        differences.plot(
            [position + 0.15] * len(seeds),
            [r.top1_error - reference_errors[r.seed] for r in seeds],
            "x",
            color="gray",
            markersize=4,
        )
    differences.axhline(0.0, color="gray", linewidth=0.5)
    differences.set_xticks(positions, [ACTIVATION_LABELS[row.activation] for row in compared])
    differences.set(
        ylabel=f"top-1 error minus {ACTIVATION_LABELS[reference]}'s (points)",
        title="paired difference, mean and 95% interval (x: seeds)",
    )
    save_figure(figure, out_dir / "activations.png")


def plot_slopes(study, out_dir):
    """`slopes.png` (Table 1) and `mean_responses.png` (Fig. 2) of a `SlopesResult`."""
    plt = _pyplot()
    if plt is None:
        return
    layers = study.layers()
    x = np.arange(len(layers))
    figure, axes = plt.subplots(figsize=(7, 3.5))
    learned = {row.activation for row in study.slope_means}
    for activation in [a for a in study.activations if a in learned]:
        means = {r.layer: r for r in study.slope_means if r.activation == activation}
        axes.errorbar(
            x,
            [means[layer].mean for layer in layers],
            yerr=[means[layer].std for layer in layers],
            fmt=".-",
            capsize=3,
            label=f"{ACTIVATION_LABELS[activation]} (mean over seeds +- std)",
        )
    for column, (label, marker) in enumerate(
        (("paper, channel-shared", "+"), ("paper, channel-wise mean", "x"))
    ):
        points = [(layers.index(layer), v[column]) for layer, v in study.paper_table_1.items()]
        axes.plot(*zip(*points), marker, markersize=9, linestyle="none", label=label)
    axes.set_xticks(x, layers, rotation=60, fontsize="small")
    axes.axhline(0.25, color="gray", linewidth=0.5, linestyle="--")
    axes.set(ylabel="learned slope a", title="learned PReLU slopes, 14-layer model")
    axes.legend(fontsize="x-small")
    save_figure(figure, out_dir / "slopes.png")

    plot_mean_responses(
        {
            activation: {
                r.layer: r.mean for r in study.response_means if r.activation == activation
            }
            for activation in study.activations
        },
        out_dir / "mean_responses.png",
        title="mean response per activation layer (validation, mean over seeds)",
    )


def plot_signal(curves, path, *, title=None):
    """Plots forward and backward variances over depth, log scale, as a PNG.

    Args:
        curves: `{label: rows of signal_propagation}`, e.g. one per
            initialization.
        path: the PNG file to write.
        title: the figure's title.

    Returns:
        `path`, or None when matplotlib is not installed.
    """
    plt = _pyplot()
    if plt is None:
        return None
    figure, (forward, backward) = plt.subplots(1, 2, figsize=(9, 3.5))
    for label, rows in curves.items():
        depth = np.arange(1, len(rows) + 1)
        forward.semilogy(depth, [r.forward_variance for r in rows], ".-", label=label)
        if all(r.backward_variance is not None for r in rows):
            backward.semilogy(depth, [r.backward_variance for r in rows], ".-", label=label)
    forward.set(xlabel="weight layer l", ylabel="Var[y_l]", title="forward (Eqn 10)")
    backward.set(xlabel="weight layer l", ylabel="Var[dx_l]", title="backward (Eqn 14)")
    forward.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def _pyplot():
    """`matplotlib.pyplot` with a file backend, or None if not installed."""
    try:
        import matplotlib
    except ImportError:
        logger.warning(
            "matplotlib is not installed: no plot is written, only the numbers "
            "(pip install 'keras-prelu[plot]')."
        )
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path):
    """Writes `figure` as a small PNG at `path` and closes it."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def plot_mean_responses(curves, path, *, title=None):
    """One line per model of the mean response per activation layer (a PNG).

    Args:
        curves: `{label: rows of mean_responses}` (or `{label: {layer:
            mean}}`), e.g. one per activation.
        path: the PNG file to write.

    Returns:
        `path`, or None when matplotlib is not installed.
    """
    plt = _pyplot()
    if plt is None:
        return None
    figure, axes = plt.subplots(figsize=(7, 3.5))
    names = None
    for label, rows in curves.items():
        if isinstance(rows, dict):
            pairs = list(rows.items())
        else:
            pairs = [(row.name, row.mean) for row in rows]
        names = names or [name for name, _ in pairs]
        axes.plot(range(len(pairs)), [value for _, value in pairs], ".-", label=label)
    axes.set_xticks(range(len(names)), names, rotation=60, fontsize="small")
    axes.set(ylabel="mean response", title=title or "mean response per layer")
    axes.axhline(0.0, color="gray", linewidth=0.5)
    axes.legend(fontsize="small")
    return save_figure(figure, path)

"""`keras-prelu reproduce`: the paper's findings (Fig. 3, Table 2, Table 1 / Fig. 2) at CPU
scale."""

import argparse
import textwrap

from keras_prelu.analysis.studies.configs import ACTIVATIONS
from keras_prelu.analysis.studies.configs import DEFAULT_OUT_DIR
from keras_prelu.analysis.studies.configs import DEFAULT_RUNS_DIR
from keras_prelu.analysis.studies.configs import STUDIES
from keras_prelu.cli._common import add_fc_units_argument
from keras_prelu.cli._common import non_negative_int
from keras_prelu.cli._common import positive_int
from keras_prelu.cli._common import user_errors

__all__ = ["HELP", "NEEDS_KERAS", "TAKES_BACKEND", "add_arguments", "run"]

HELP = "the paper's findings (Fig. 3, Table 2, Table 1 / Fig. 2) at CPU scale"
TAKES_BACKEND = False
NEEDS_KERAS = True


def add_arguments(parser):
    defaults = {name: spec.config() for name, spec in STUDIES.items()}
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = _description()
    parser.add_argument("study", choices=[*STUDIES, "all"])
    parser.add_argument(
        "--out-dir",
        default=DEFAULT_OUT_DIR,
        help=f"where the JSON and PNG files go (default {DEFAULT_OUT_DIR}; "
        "--out-dir zoo/studies replaces the shipped results)",
    )
    parser.add_argument(
        "--runs-dir",
        default=DEFAULT_RUNS_DIR,
        help=f"where the studies' runs go, and are reused from (default {DEFAULT_RUNS_DIR})",
    )
    parser.add_argument(
        "--data",
        default=None,
        help=f"the source (default {defaults['init'].data} for init, "
        f"{defaults['activations'].data} for activations and slopes)",
    )
    parser.add_argument(
        "--activations",
        nargs="+",
        default=None,
        choices=ACTIVATIONS,
        help="the rectifiers of activations and slopes (default: all four; relu is needed)",
    )
    parser.add_argument(
        "--seeds",
        type=non_negative_int,
        nargs="+",
        default=None,
        help=f"the seeds (default {' '.join(map(str, defaults['init'].seeds))} for init, "
        f"{' '.join(map(str, defaults['activations'].seeds))} for activations)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help=f"epochs of each run (default {defaults['init'].epochs} for init; the most for "
        f"activations, default {defaults['activations'].epochs}, the switch ends runs earlier)",
    )
    add_fc_units_argument(
        parser,
        default=None,
        help=f"widths of fc1 and fc2 (default {' '.join(map(str, defaults['init'].fc_units))})",
    )


def run(args, out):
    from keras_prelu.analysis import studies

    with user_errors("reproduce"):
        results = studies.reproduce(
            args.study,
            out_dir=args.out_dir,
            runs_dir=args.runs_dir,
            verbose=2,
            data=args.data,
            seeds=None if args.seeds is None else tuple(args.seeds),
            epochs=args.epochs,
            fc_units=None if args.fc_units is None else tuple(args.fc_units),
            activations=None if args.activations is None else tuple(args.activations),
        )
    for result in results.values():
        out.write(result.summary() + "\n")
    out.write(f"Numbers (JSON) and plots (PNG) in {args.out_dir}\n")


def _description():
    """What each study shows and how long it takes."""
    lines = textwrap.wrap(
        "Reproduces the paper's findings at CPU scale. Each run is trained like "
        "'keras-prelu train' (resumed when interrupted, reused when finished). The studies, "
        "with the time each took on a shared 2-core CPU:",
        width=78,
        break_on_hyphens=False,
    )
    for name, spec in STUDIES.items():
        lines.append("")
        lines += textwrap.wrap(
            f"{spec.about}; {spec.duration}.",
            width=78,
            break_on_hyphens=False,
            initial_indent=f"  {name:<12}",
            subsequent_indent=" " * 14,
        )
    lines += ["", "  all         the three in turn.", ""]
    lines += textwrap.wrap(
        "Writes <study>.json and PNG plots (with matplotlib) to --out-dir; the shipped "
        "results are in zoo/studies.",
        width=78,
        break_on_hyphens=False,
    )
    return "\n".join(lines)

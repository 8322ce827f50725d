"""`keras-prelu evaluate`: top-1/top-5 error of trained models, the paper's ways."""

import argparse

from keras_prelu.cli._common import check_output
from keras_prelu.cli._common import positive_int
from keras_prelu.cli._common import progress_verbosity
from keras_prelu.cli._common import user_errors
from keras_prelu.data.names import DEFAULT_SOURCE
from keras_prelu.paper import TEST_VIEWS

__all__ = ["HELP", "NEEDS_KERAS", "TAKES_BACKEND", "add_arguments", "run"]

HELP = "top-1/top-5 error of trained models: centre, 10-view, dense"
TAKES_BACKEND = True
NEEDS_KERAS = True
DESCRIPTION = (
    "Tests trained models the paper's ways over a whole split and prints a table like the "
    "paper's. Several models are an ensemble (scores averaged)."
)


def add_arguments(parser):
    parser.description = DESCRIPTION
    parser.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="a run folder of 'keras-prelu train', a preset folder or a .keras file",
    )
    parser.add_argument(
        "--data", default=None, help=f"the source (default: the run's, else {DEFAULT_SOURCE!r})"
    )
    parser.add_argument("--data-dir", default=None, help="the tensorflow-datasets data folder")
    parser.add_argument("--split", default="validation")
    parser.add_argument(
        "--views",
        nargs="+",
        choices=TEST_VIEWS,
        default=[TEST_VIEWS[0]],
        help=f"ways of testing, one table row each (default {TEST_VIEWS[0]})",
    )
    parser.add_argument(
        "--scales",
        type=positive_int,
        nargs="+",
        default=None,
        help="shorter sides, scores averaged (default: the "
        "smallest training scale; dense: the paper's "
        "224 256 384 480 640 relative to a 224 crop)",
    )
    parser.add_argument(
        "--crop-size",
        type=positive_int,
        default=None,
        help="crop side and training crop (default: the run's)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add flipped views to ten and dense (default: when "
        "the run trained on flipped images, and for models "
        "without a run)",
    )
    parser.add_argument(
        "--window",
        type=positive_int,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="dense window on the last conv map (default: "
        "the map of the training crop, 14 14 for model A)",
    )
    parser.add_argument("--json", default=None, help="also write the results here")


def run(args, out):
    from keras_prelu.evaluation import evaluate
    from keras_prelu.evaluation import results_table
    from keras_prelu.evaluation import write_results

    if args.json:
        check_output(args.json, "evaluate", "--json")
    results = []
    with user_errors("evaluate"):
        for views in args.views:
            results.append(
                evaluate(
                    args.models if len(args.models) > 1 else args.models[0],
                    args.data,
                    split=args.split,
                    views=views,
                    scales=args.scales,
                    crop_size=args.crop_size,
                    batch_size=args.batch_size,
                    window=tuple(args.window) if args.window else None,
                    data_dir=args.data_dir,
                    flip=args.flip,
                    verbose=progress_verbosity(),
                )
            )
        out.write(results_table(results) + "\n")
        if args.json:
            write_results(results, args.json)
            out.write(f"Results written to {args.json}\n")

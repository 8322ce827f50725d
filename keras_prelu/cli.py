"""The `keras-prelu` command: argument parsing only; every verb calls the library.

Its first stage, `keras_prelu_command`, has set the backend and TensorFlow's
C++ logging before this module imported Keras; `main` parses the whole command
line with every verb's options.
"""

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
import textwrap
import types
import typing
from pathlib import Path

import keras_prelu_command

# What a user's mistake or the environment raises: one line, never a traceback.
# (FloatingPointError: `NonFiniteError`, a run that diverged.)
_USER_ERRORS = (ValueError, OSError, ImportError, FloatingPointError)
# TensorFlow's errors of the environment: a file that vanished or cannot be read,
# memory exhausted.
_TENSORFLOW_ENVIRONMENT_ERRORS = (
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "DataLossError",
)
_INTERRUPTED_EXIT_CODE = 130
# The loggers of the libraries that log INFO lines a user did not ask for (TensorFlow's
# "Assets written to", tf2onnx's optimizer, JAX's "Unable to initialize backend").
_LIBRARY_LOGGERS = ("tensorflow", "absl", "tf2onnx", "jax")


@contextlib.contextmanager
def _user_errors(verb, interrupted=""):
    """Turns the errors of a user's mistake or of the environment into one line and exit 1.

    Ctrl-C exits 130 with one line, `interrupted` appended.
    """
    try:
        yield
    except KeyboardInterrupt:
        sys.stderr.write(f"keras-prelu {verb}: interrupted.{interrupted}\n")
        raise SystemExit(_INTERRUPTED_EXIT_CODE) from None
    except Exception as error:
        if not isinstance(error, _USER_ERRORS) and not _is_tensorflow_environment_error(error):
            raise
        message = getattr(error, "command_line_message", None)  # options, not arguments
        message = " ".join(str(message or getattr(error, "message", None) or error).split())
        raise SystemExit(f"keras-prelu {verb}: error: {message}") from None


def _is_tensorflow_environment_error(error):
    tensorflow = sys.modules.get("tensorflow")
    return (
        tensorflow is not None
        and isinstance(error, tensorflow.errors.OpError)
        and type(error).__name__ in _TENSORFLOW_ENVIRONMENT_ERRORS
    )


def _positive_int(text):
    """An argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def _non_negative_int(text):
    """An argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def _positive_float(text):
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0. Received: {value}")
    return value


def _int_at_least(text, minimum):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. Received: {value}")
    return value


def _check_output(path, verb, option, *, folder=False):
    """Exits with one line unless `path` can receive an output before any work is done.

    The folder that will hold it must exist and be writable (for a folder output,
    the nearest existing folder above it); an existing `path` must be a folder when
    `folder` (a SavedModel, a preset), a file otherwise.
    """
    path = Path(path)
    parent = path.absolute().parent
    if folder:  # a folder output is made with its missing parents
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    problem = None
    if folder and path.exists() and not path.is_dir():
        problem = f"{path} is an existing file, not a folder; remove it or choose another path"
    elif not folder and path.is_dir():
        problem = f"{path} is a folder; give a file path"
    elif not parent.is_dir():
        problem = f"the folder {parent} does not exist"
    elif not os.access(parent, os.W_OK | os.X_OK):
        problem = f"the folder {parent} is read-only"
    if problem:
        raise SystemExit(f"keras-prelu {verb}: error: argument {option}: {problem}.")


def _info(args, out):
    with _user_errors("info"):
        _describe(args, out)


def _describe(args, out):
    from keras_prelu.analysis import architecture_complexity
    from keras_prelu.zoo import list_models

    def complexity(name):
        return architecture_complexity(
            name,
            args.image_size,
            activation=args.activation,
            fc_units=tuple(args.fc_units),
            width_multiplier=args.width_multiplier,
            num_classes=args.num_classes,
        )

    if args.model is None:
        out.write(f"{'model':<10} {'params':>14} {'multiply-adds':>18}\n")
        for name in list_models():
            rows = complexity(name)
            params = sum(row.params for row in rows)
            madds = sum(row.multiply_adds for row in rows)
            out.write(f"{name:<10} {params:>14,} {madds:>18,}\n")
        return
    rows = complexity(args.model)
    out.write(f"{'layer':<12} {'output':>16} {'params':>14} {'multiply-adds':>16}\n")
    for row in rows:
        shape = "x".join(str(d) for d in row.output_shape)
        out.write(f"{row.name:<12} {shape:>16} {row.params:>14,} {row.multiply_adds:>16,}\n")
    params = sum(row.params for row in rows)
    madds = sum(row.multiply_adds for row in rows)
    out.write(f"{'total':<12} {'':>16} {params:>14,} {madds:>16,}\n")
    out.write(
        f"{args.model}: {params / 1e6:.2f}M parameters, "
        f"{madds / 1e9:.2f}G multiply-adds per "
        f"{args.image_size}x{args.image_size} image\n"
    )


def _train(args, out):
    from keras_prelu.training import Recipe
    from keras_prelu.training import default_recipe
    from keras_prelu.training import fit

    _join_processes(args)

    overrides = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Recipe)
        if hasattr(args, field.name)
    }
    with _user_errors("train"):
        recipe = dataclasses.replace(default_recipe(args.data), **overrides)
    augmentation = {}
    if args.scale_range is not None:
        augmentation["scale_range"] = tuple(args.scale_range)
    if args.crop_size is not None:
        augmentation["crop_size"] = args.crop_size
    model_kwargs = {}
    if args.activation is not None:
        model_kwargs["activation"] = args.activation
    if args.fc_units is not None:
        model_kwargs["fc_units"] = tuple(args.fc_units)
    with _user_errors("train", " Run the same command to resume after the last completed epoch."):
        result = fit(
            args.model,
            args.data,
            recipe=recipe,
            run_dir=args.run_dir,
            augmentation=augmentation or None,
            mean=args.mean,
            model_kwargs=model_kwargs or None,
            data_dir=args.data_dir,
            download=args.download,
            verbose=_progress_verbosity(),
        )
    out.write(result.summary() + "\n")


def _progress_verbosity():
    """Keras' progress bar on a terminal; a plain line per epoch in a file or a pipe."""
    return 1 if sys.stdout.isatty() else 2


def _join_processes(args):
    """Starts `keras.distribution` across processes when asked (JAX)."""
    import keras

    from keras_prelu.training import distribution

    settings = (args.coordinator, args.num_processes, args.process_id)
    with _user_errors("train"):
        wanted = distribution.wants_processes(*settings)
        if not wanted:
            return
        if keras.backend.backend() != "jax":
            raise ValueError(
                "training on several processes uses keras.distribution and "
                f"needs the JAX backend (the backend is "
                f"{keras.backend.backend()!r}; tf.distribute's "
                "MultiWorkerMirroredStrategy cannot run model.fit in Keras 3): "
                "add --backend jax."
            )
        distribution.initialize_processes(*settings, heartbeat_timeout=args.heartbeat_timeout)


def _evaluate(args, out):
    from keras_prelu.evaluation import evaluate
    from keras_prelu.evaluation import results_table
    from keras_prelu.evaluation import write_json

    if args.json:
        _check_output(args.json, "evaluate", "--json")
    results = []
    with _user_errors("evaluate"):
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
                    verbose=_progress_verbosity(),
                )
            )
        out.write(results_table(results) + "\n")
        if args.json:
            write_json(results, args.json)
            out.write(f"Results written to {args.json}\n")


def _export(args, out):
    from keras_prelu import export

    _check_output(args.output, "export", "OUTPUT", folder=args.format in ("saved_model", "preset"))
    with _user_errors("export"):
        if args.format == "preset":
            export.save_preset(args.model, args.output, mean=args.mean, overwrite=args.overwrite)
        elif args.format == "keras":
            export.serving_model(args.model, mean=args.mean).save(args.output)
        elif args.format == "onnx":
            export.export_onnx(args.model, args.output, mean=args.mean)
        else:
            export.export_saved_model(args.model, args.output, mean=args.mean)
    out.write(f"Exported {args.model} ({args.format}) to {args.output}\n")


def _parse_bool(text):
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise ValueError(text)


def _recipe_value_parser(field):
    """Parses the text of a `Recipe` field after its annotation (`int | None`...) and
    checks it against the field's rule."""
    from keras_prelu.training.recipe import check_field

    annotation = field.type
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = typing.get_args(annotation)
    else:
        kinds = (annotation,)

    def parse(text):
        for kind in kinds:
            try:
                if kind is type(None):
                    if text.strip().lower() == "none":
                        return None
                elif kind is bool:
                    return check(_parse_bool(text))
                else:
                    return check(kind(text))
            except ValueError:
                continue
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {' or '.join(k.__name__ for k in kinds)}"
        )

    def check(value):
        """The value, if valid for the field on its own (see `recipe.check_field`)."""
        try:
            check_field(field.name, value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value

    parse.__name__ = " or ".join(kind.__name__ for kind in kinds)
    return parse


def _reproduce(args, out):
    from keras_prelu.analysis import studies

    with _user_errors("reproduce"):
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


def _reproduce_description(studies):
    """The help of `reproduce`: what each study shows and how long it takes."""
    lines = textwrap.wrap(
        "Reproduces the paper's findings at CPU scale. Each run is trained like "
        "'keras-prelu train' (resumed when interrupted, reused when finished). The studies, "
        "with the time each took on a shared 2-core CPU:",
        width=78,
        break_on_hyphens=False,
    )
    for name, spec in studies.items():
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


def _add_recipe_arguments(parser):
    """One `--field-name` option per `Recipe` field, absent unless given."""
    from keras_prelu.training import BUNDLED_RECIPE
    from keras_prelu.training import Recipe
    from keras_prelu.training.recipe import FIELD_CHOICES

    group = parser.add_argument_group(
        "recipe",
        "Fields of keras_prelu.training.Recipe. Defaults: the paper's, except "
        "for the short run on the bundled data (shown as [bundled: ...]).",
    )
    paper = Recipe()
    for field in dataclasses.fields(Recipe):
        default = getattr(paper, field.name)
        bundled = getattr(BUNDLED_RECIPE, field.name)
        note = f" [bundled: {bundled}]" if bundled != default else ""
        group.add_argument(
            f"--{field.name.replace('_', '-')}",
            dest=field.name,
            type=_recipe_value_parser(field),
            default=argparse.SUPPRESS,
            metavar="{" + ",".join(FIELD_CHOICES[field.name]) + "}"
            if field.name in FIELD_CHOICES
            else field.name.upper(),
            help=f"default {default}{note}",
        )


def build_parser():
    from keras_prelu.paper import FC_UNITS
    from keras_prelu.zoo import list_models
    from keras_prelu.zoo.blocks import ACTIVATIONS

    parser, verbs = keras_prelu_command.command_parser()

    info = verbs["info"]
    info.add_argument(
        "model",
        nargs="?",
        choices=list_models(),
        help="a zoo model; all models in one table if omitted",
    )
    info.add_argument(
        "--image-size",
        type=_positive_int,
        default=224,
        help="side of the square input image (default 224)",
    )
    info.add_argument("--activation", choices=ACTIVATIONS, default="prelu")
    info.add_argument(
        "--fc-units",
        type=_positive_int,
        nargs=2,
        metavar=("FC1", "FC2"),
        default=FC_UNITS,
        help=f"widths of fc1 and fc2 (default {FC_UNITS[0]} {FC_UNITS[1]}, the paper's)",
    )
    info.add_argument(
        "--num-classes",
        type=_positive_int,
        default=1000,
        help="classes scored by fc3 (default 1000, ImageNet's)",
    )
    info.add_argument(
        "--width-multiplier",
        type=_positive_float,
        default=1.0,
        help="scales every convolution's width (default 1.0)",
    )
    info.set_defaults(run=_info)

    from keras_prelu.analysis import studies
    from keras_prelu.analysis.studies.activations import ACTIVATIONS as STUDY_ACTIVATIONS

    defaults = {name: spec.config() for name, spec in studies.STUDIES.items()}
    reproduce = verbs["reproduce"]
    reproduce.formatter_class = argparse.RawDescriptionHelpFormatter
    reproduce.description = _reproduce_description(studies.STUDIES)
    reproduce.add_argument("study", choices=[*studies.STUDIES, "all"])
    reproduce.add_argument(
        "--out-dir",
        default=studies.DEFAULT_OUT_DIR,
        help=f"where the JSON and PNG files go (default {studies.DEFAULT_OUT_DIR}; "
        "--out-dir zoo/studies replaces the shipped results)",
    )
    reproduce.add_argument(
        "--runs-dir",
        default=studies.DEFAULT_RUNS_DIR,
        help="where the studies' runs go, and are reused from "
        f"(default {studies.DEFAULT_RUNS_DIR})",
    )
    reproduce.add_argument(
        "--data",
        default=None,
        help=f"the source (default {defaults['init'].data} for init, "
        f"{defaults['activations'].data} for activations and slopes)",
    )
    reproduce.add_argument(
        "--activations",
        nargs="+",
        default=None,
        choices=STUDY_ACTIVATIONS,
        help="the rectifiers of activations and slopes (default: all four; relu is needed)",
    )
    reproduce.add_argument(
        "--seeds",
        type=_non_negative_int,
        nargs="+",
        default=None,
        help=f"the seeds (default {' '.join(map(str, defaults['init'].seeds))} for init, "
        f"{' '.join(map(str, defaults['activations'].seeds))} for activations)",
    )
    reproduce.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help=f"epochs of each run (default {defaults['init'].epochs} for init; the most for "
        f"activations, default {defaults['activations'].epochs}, the switch ends runs earlier)",
    )
    reproduce.add_argument(
        "--fc-units",
        type=_positive_int,
        nargs=2,
        metavar=("FC1", "FC2"),
        default=None,
        help=f"widths of fc1 and fc2 (default {' '.join(map(str, defaults['init'].fc_units))})",
    )
    reproduce.set_defaults(run=_reproduce)

    from keras_prelu.data import DEFAULT_SOURCE
    from keras_prelu.training.run import DEFAULT_MODEL

    train = verbs["train"]
    train.description = (
        "Trains a zoo model with the paper's recipe and evaluates it. "
        "Without arguments: the 14-layer model on the bundled digits, a "
        "few minutes on a CPU. Run the same command again to resume an "
        "interrupted run."
    )
    train.add_argument(
        "--model",
        choices=list_models(),
        default=DEFAULT_MODEL,
        help=f"the zoo model (default {DEFAULT_MODEL})",
    )
    train.add_argument(
        "--data",
        default=DEFAULT_SOURCE,
        help=f"{DEFAULT_SOURCE!r} (bundled, the default), a folder "
        "of class folders or a tensorflow-datasets name "
        "such as imagenet2012",
    )
    train.add_argument("--data-dir", default=None, help="the tensorflow-datasets data folder")
    train.add_argument(
        "--download",
        action="store_true",
        help="let tensorflow-datasets download and prepare the data",
    )
    train.add_argument(
        "--run-dir", default=None, help="the run's folder (default runs/<model>-<data>)"
    )
    train.add_argument(
        "--scale-range",
        type=_positive_int,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=None,
        help="shorter-side scale jitter range (default: the data's; the paper's 256 512)",
    )
    train.add_argument(
        "--crop-size",
        "--image-size",
        dest="crop_size",
        type=_positive_int,
        default=None,
        help="training crop side, the model's input size (default: the data's; the paper's 224)",
    )
    train.add_argument(
        "--mean",
        choices=("compute",),
        default=None,
        help="'compute': subtract the per-pixel mean of the "
        "training split (default: the data's mean)",
    )
    train.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default=None,
        help="the model's activation (default prelu)",
    )
    train.add_argument(
        "--fc-units",
        type=_positive_int,
        nargs=2,
        metavar=("FC1", "FC2"),
        default=None,
        help="widths of fc1 and fc2",
    )
    from keras_prelu.training.distribution import DEFAULT_HEARTBEAT_TIMEOUT

    processes = train.add_argument_group(
        "several processes",
        "Several processes (machines) train one model with keras.distribution "
        "on the JAX backend; each feeds its rows of every global batch, "
        "process 0 writes the run. Unset options are read from "
        "KERAS_DISTRIBUTION_JOB_ADDRESSES, "
        "KERAS_DISTRIBUTION_NUM_PROCESSES, KERAS_DISTRIBUTION_PROCESS_ID (or "
        "JAX_COORDINATOR_ADDRESS), else from a Slurm or Open MPI launcher.",
    )
    processes.add_argument(
        "--num-processes",
        type=_positive_int,
        default=None,
        metavar="N",
        help="the number of processes of the run",
    )
    processes.add_argument(
        "--process-id",
        type=_non_negative_int,
        default=None,
        metavar="I",
        help="this process' id in [0, N); 0 writes the run",
    )
    processes.add_argument(
        "--coordinator",
        default=None,
        metavar="HOST:PORT",
        help="address and free port of process 0's machine, the same for every process",
    )
    processes.add_argument(
        "--heartbeat-timeout",
        type=_positive_int,
        default=DEFAULT_HEARTBEAT_TIMEOUT,
        metavar="SECONDS",
        help="a process silent this long is declared dead and "
        "the others stop with an error (default "
        f"{DEFAULT_HEARTBEAT_TIMEOUT})",
    )
    _add_recipe_arguments(train)
    train.set_defaults(run=_train)

    evaluate = verbs["evaluate"]
    evaluate.description = (
        "Tests trained models the paper's ways over a whole split and prints "
        "a table like the paper's. Several models are an ensemble (scores "
        "averaged)."
    )
    evaluate.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="a run folder of 'keras-prelu train', a preset folder or a .keras file",
    )
    evaluate.add_argument(
        "--data", default=None, help=f"the source (default: the run's, else {DEFAULT_SOURCE!r})"
    )
    evaluate.add_argument("--data-dir", default=None, help="the tensorflow-datasets data folder")
    evaluate.add_argument("--split", default="validation")
    evaluate.add_argument(
        "--views",
        nargs="+",
        choices=("center", "ten", "dense"),
        default=["center"],
        help="ways of testing, one table row each (default center)",
    )
    evaluate.add_argument(
        "--scales",
        type=_positive_int,
        nargs="+",
        default=None,
        help="shorter sides, scores averaged (default: the "
        "smallest training scale; dense: the paper's "
        "224 256 384 480 640 relative to a 224 crop)",
    )
    evaluate.add_argument(
        "--crop-size",
        type=_positive_int,
        default=None,
        help="crop side and training crop (default: the run's)",
    )
    evaluate.add_argument("--batch-size", type=_positive_int, default=32)
    evaluate.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add flipped views to ten and dense (default: when "
        "the run trained on flipped images, and for models "
        "without a run)",
    )
    evaluate.add_argument(
        "--window",
        type=_positive_int,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="dense window on the last conv map (default: "
        "the map of the training crop, 14 14 for model A)",
    )
    evaluate.add_argument("--json", default=None, help="also write the results here")
    evaluate.set_defaults(run=_evaluate)

    export_ = verbs["export"]
    export_.description = (
        "Exports a model that takes RGB images in [0, 255] of any size, "
        "takes the centre view, subtracts the run's mean and returns class "
        "probabilities, with the class names and preprocessing recorded in the "
        "file; or a keras-hub preset folder that "
        "keras_hub.models.ImageClassifier.from_preset loads."
    )
    export_.add_argument("model", help="a run folder, a preset folder or a .keras file")
    export_.add_argument(
        "output", help="the SavedModel folder, the .onnx or .keras file, or the preset folder"
    )
    export_.add_argument(
        "--format", choices=("saved_model", "onnx", "keras", "preset"), default="saved_model"
    )
    export_.add_argument(
        "--mean",
        type=float,
        nargs=3,
        metavar=("R", "G", "B"),
        default=None,
        help="the mean subtracted (default: the run's mean.json)",
    )
    export_.add_argument(
        "--overwrite", action="store_true", help="replace an existing preset folder"
    )
    export_.set_defaults(run=_export)
    return parser


def main(argv=None, out=None):
    """Runs `keras-prelu` with `argv` (default: the command line), printing to `out`.

    Returns 0; a user's mistake exits with one line (`SystemExit`).
    """
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    _check_backend(args)
    args.run(args, sys.stdout if out is None else out)
    return 0


def _configure_logging(verbose):
    """keras-prelu's INFO lines; the other libraries' only with `--verbose`."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("keras_prelu").setLevel(logging.INFO)
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


def _check_backend(args):
    """Exits with one line if `--backend` differs from the backend Keras was imported with."""
    import keras

    wanted = getattr(args, "backend", None)
    if wanted is not None and wanted != keras.backend.backend():
        raise SystemExit(
            f"keras-prelu {args.verb}: error: argument --backend: Keras was imported with the "
            f"{keras.backend.backend()!r} backend before the command line was read; run the "
            f"keras-prelu command, or set KERAS_BACKEND={wanted} before importing keras_prelu."
        )


if __name__ == "__main__":
    sys.exit(keras_prelu_command.main())

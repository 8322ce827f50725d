"""`keras-prelu train`: a zoo model trained with the paper's recipe, resumably."""

import argparse
import dataclasses
import types
import typing

from keras_prelu.cli._common import add_fc_units_argument
from keras_prelu.cli._common import non_negative_int
from keras_prelu.cli._common import positive_int
from keras_prelu.cli._common import progress_verbosity
from keras_prelu.cli._common import user_errors
from keras_prelu.data.names import DEFAULT_SOURCE
from keras_prelu.errors import InvalidValueError
from keras_prelu.training.recipe import BUNDLED_RECIPE
from keras_prelu.training.recipe import DEFAULT_MODEL
from keras_prelu.training.recipe import FIELD_CHOICES
from keras_prelu.training.recipe import Recipe
from keras_prelu.training.recipe import check_field
from keras_prelu.zoo.architectures import ACTIVATIONS
from keras_prelu.zoo.architectures import ARCHITECTURES

__all__ = ["HELP", "NEEDS_KERAS", "TAKES_BACKEND", "add_arguments", "run"]

HELP = "train a zoo model with the paper's recipe (resumes a run)"
TAKES_BACKEND = True
NEEDS_KERAS = True
DESCRIPTION = (
    "Trains a zoo model with the paper's recipe and evaluates it. Without arguments: the "
    "14-layer model on the bundled digits, a few minutes on a CPU. Run the same command "
    "again to resume an interrupted run."
)


def add_arguments(parser):
    parser.description = DESCRIPTION
    parser.add_argument(
        "--model",
        choices=sorted(ARCHITECTURES),
        default=DEFAULT_MODEL,
        help=f"the zoo model (default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--data",
        default=DEFAULT_SOURCE,
        help=f"{DEFAULT_SOURCE!r} (bundled, the default), a folder "
        "of class folders or a tensorflow-datasets name "
        "such as imagenet2012",
    )
    parser.add_argument("--data-dir", default=None, help="the tensorflow-datasets data folder")
    parser.add_argument(
        "--download",
        action="store_true",
        help="let tensorflow-datasets download and prepare the data",
    )
    parser.add_argument(
        "--run-dir", default=None, help="the run's folder (default runs/<model>-<data>)"
    )
    parser.add_argument(
        "--scale-range",
        type=positive_int,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=None,
        help="shorter-side scale jitter range (default: the data's; the paper's 256 512)",
    )
    parser.add_argument(
        "--crop-size",
        "--image-size",
        dest="crop_size",
        type=positive_int,
        default=None,
        help="training crop side, the model's input size (default: the data's; the paper's 224)",
    )
    parser.add_argument(
        "--mean",
        choices=("compute",),
        default=None,
        help="'compute': subtract the per-pixel mean of the "
        "training split (default: the data's mean)",
    )
    parser.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default=None,
        help=f"the model's activation (default {ACTIVATIONS[0]})",
    )
    add_fc_units_argument(
        parser,
        default=None,
        help="widths of fc1 and fc2",
    )
    processes = parser.add_argument_group(
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
        type=positive_int,
        default=None,
        metavar="N",
        help="the number of processes of the run",
    )
    processes.add_argument(
        "--process-id",
        type=non_negative_int,
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
        type=positive_int,
        default=None,
        metavar="SECONDS",
        help="a process silent this long is declared dead and the others stop with an "
        "error (default: keras_prelu.training.distribution.DEFAULT_HEARTBEAT_TIMEOUT)",
    )
    _add_recipe_arguments(parser)


def run(args, out):
    from keras_prelu.training import default_recipe
    from keras_prelu.training import fit

    _join_processes(args)

    overrides = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Recipe)
        if hasattr(args, field.name)
    }
    with user_errors("train"):
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
    with user_errors("train", " Run the same command to resume after the last completed epoch."):
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
            verbose=progress_verbosity(),
        )
    out.write(result.summary() + "\n")


def _join_processes(args):
    """Starts `keras.distribution` across processes when asked (JAX)."""
    import keras

    from keras_prelu.training import distribution

    settings = (args.coordinator, args.num_processes, args.process_id)
    with user_errors("train"):
        wanted = distribution.wants_processes(*settings)
        if not wanted:
            return
        if keras.backend.backend() != "jax":
            raise InvalidValueError(
                "training on several processes uses keras.distribution and "
                f"needs the JAX backend (the backend is "
                f"{keras.backend.backend()!r}; tf.distribute's "
                "MultiWorkerMirroredStrategy cannot run model.fit in Keras 3): "
                "add --backend jax."
            )
        timeout = {}
        if args.heartbeat_timeout is not None:
            timeout["heartbeat_timeout"] = args.heartbeat_timeout
        distribution.initialize_processes(*settings, **timeout)


def _parse_bool(text):
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise InvalidValueError(text)


def _recipe_value_parser(field):
    """Parses the text of a `Recipe` field after its annotation (`int | None`...) and
    checks it against the field's rule."""
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


def _add_recipe_arguments(parser):
    """One `--field-name` option per `Recipe` field, absent unless given."""
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

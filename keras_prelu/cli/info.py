"""`keras-prelu info`: parameters and multiply-adds of zoo models, counted from shapes."""

from keras_prelu.analysis.complexity import architecture_complexity
from keras_prelu.analysis.complexity import format_complexity_table
from keras_prelu.analysis.complexity import format_models_table
from keras_prelu.cli._common import add_fc_units_argument
from keras_prelu.cli._common import positive_float
from keras_prelu.cli._common import positive_int
from keras_prelu.cli._common import user_errors
from keras_prelu.paper import FC_UNITS
from keras_prelu.zoo.architectures import ACTIVATIONS
from keras_prelu.zoo.architectures import ARCHITECTURES

__all__ = ["HELP", "NEEDS_KERAS", "TAKES_BACKEND", "add_arguments", "run"]

HELP = "parameters and multiply-adds of zoo models, per layer, from shapes"
TAKES_BACKEND = False
# Counted from the architectures' data: the command runs it without importing Keras.
NEEDS_KERAS = False


def add_arguments(parser):
    parser.add_argument(
        "model",
        nargs="?",
        choices=sorted(ARCHITECTURES),
        help="a zoo model; all models in one table if omitted",
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        default=224,
        help="side of the square input image (default 224)",
    )
    parser.add_argument("--activation", choices=ACTIVATIONS, default=ACTIVATIONS[0])
    add_fc_units_argument(
        parser,
        default=FC_UNITS,
        help=f"widths of fc1 and fc2 (default {FC_UNITS[0]} {FC_UNITS[1]}, the paper's)",
    )
    parser.add_argument(
        "--num-classes",
        type=positive_int,
        default=1000,
        help="classes scored by fc3 (default 1000, ImageNet's)",
    )
    parser.add_argument(
        "--width-multiplier",
        type=positive_float,
        default=1.0,
        help="scales every convolution's width (default 1.0)",
    )


def run(args, out):
    def complexity(name):
        return architecture_complexity(
            name,
            args.image_size,
            activation=args.activation,
            fc_units=tuple(args.fc_units),
            width_multiplier=args.width_multiplier,
            num_classes=args.num_classes,
        )

    with user_errors("info"):
        if args.model is None:
            table = format_models_table({name: complexity(name) for name in sorted(ARCHITECTURES)})
        else:
            table = format_complexity_table(complexity(args.model), args.model, args.image_size)
    out.write(table + "\n")

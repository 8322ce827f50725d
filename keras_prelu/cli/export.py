"""`keras-prelu export`: a trained model as SavedModel, ONNX, .keras or a preset."""

from keras_prelu.cli._common import check_output
from keras_prelu.cli._common import user_errors

__all__ = ["HELP", "NEEDS_KERAS", "TAKES_BACKEND", "add_arguments", "run"]

HELP = "export a trained model: SavedModel, ONNX, .keras or a preset, with its mean"
TAKES_BACKEND = True
NEEDS_KERAS = True
DESCRIPTION = (
    "Exports a model that takes RGB images in [0, 255] of any size, takes the centre view, "
    "subtracts the run's mean and returns class probabilities, with the class names and "
    "preprocessing recorded in the file; or a keras-hub preset folder that "
    "keras_hub.models.ImageClassifier.from_preset loads."
)
# The formats, each written by one function of the library (see `run`); those
# that are folders.
FORMATS = ("saved_model", "onnx", "keras", "preset")
FOLDER_FORMATS = ("saved_model", "preset")


def add_arguments(parser):
    parser.description = DESCRIPTION
    parser.add_argument("model", help="a run folder, a preset folder or a .keras file")
    parser.add_argument(
        "output", help="the SavedModel folder, the .onnx or .keras file, or the preset folder"
    )
    parser.add_argument("--format", choices=FORMATS, default=FORMATS[0])
    parser.add_argument(
        "--mean",
        type=float,
        nargs=3,
        metavar=("R", "G", "B"),
        default=None,
        help="the mean subtracted (default: the run's mean.json)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing preset folder"
    )


def run(args, out):
    from keras_prelu import export
    from keras_prelu.saving import atomic

    check_output(args.output, "export", "OUTPUT", folder=args.format in FOLDER_FORMATS)
    with user_errors("export"):
        if args.format == "preset":
            export.save_preset(args.model, args.output, mean=args.mean, overwrite=args.overwrite)
        elif args.format == "keras":
            serving = export.serving_model(args.model, mean=args.mean)
            atomic.write_file(args.output, serving.save)
        elif args.format == "onnx":
            export.export_onnx(args.model, args.output, mean=args.mean)
        else:
            export.export_saved_model(args.model, args.output, mean=args.mean)
    out.write(f"Exported {args.model} ({args.format}) to {args.output}\n")

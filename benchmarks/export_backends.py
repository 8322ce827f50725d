"""Export time per backend: a SavedModel and an ONNX file of one model, side by side.

For each Keras backend, in a fresh process, times `export_saved_model` and
`export_onnx` of the same run folder, preset folder or `.keras` file (the imports
of the process are not counted). On TensorFlow the files are written in that
process; on JAX and PyTorch the time includes what those backends add: the
temporary preset, the start of the TensorFlow process that writes the files and
its imports. The backends take turns round by round (other load on the machine
slows them alike); the table gives each backend's median and its extra seconds
over TensorFlow.

    python benchmarks/export_backends.py MODEL [--rounds 3] [--backends tensorflow jax torch]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BACKENDS = ("tensorflow", "jax", "torch")
FORMATS = ("saved_model", "onnx")


def measure(model, folder):
    """Seconds of each export of `model` into `folder`, in this process."""
    from keras_prelu import export

    seconds = {}
    for name, write, path in (
        ("saved_model", export.export_saved_model, os.path.join(folder, "saved")),
        ("onnx", export.export_onnx, os.path.join(folder, "model.onnx")),
    ):
        start = time.perf_counter()
        write(model, path)
        seconds[name] = time.perf_counter() - start
    return seconds


def measure_in_a_process(backend, model):
    with tempfile.TemporaryDirectory() as folder:
        finished = subprocess.run(
            [sys.executable, __file__, model, "--measure-here", folder],
            env=dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3"),
            capture_output=True,
            text=True,
            check=False,
        )
    if finished.returncode:
        raise SystemExit(f"{backend}: {finished.stderr[-2000:]}")
    return json.loads(finished.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a run folder, a preset folder or a .keras file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--measure-here", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    model = os.path.abspath(args.model)
    if args.measure_here:
        print(json.dumps(measure(model, args.measure_here)))
        return
    times = {backend: {name: [] for name in FORMATS} for backend in args.backends}
    for round_number in range(1, args.rounds + 1):
        for backend in args.backends:
            for name, seconds in measure_in_a_process(backend, model).items():
                times[backend][name].append(seconds)
                print(f"round {round_number} {backend} {name}: {seconds:.1f} s", flush=True)
    median = {
        backend: {name: statistics.median(values) for name, values in formats.items()}
        for backend, formats in times.items()
    }
    base = median.get("tensorflow")
    print(f"{args.model}, median of {args.rounds} rounds, seconds (extra over TensorFlow)")
    print(f"{'backend':<12}" + "".join(f"{name:>22}" for name in FORMATS))
    for backend, formats in median.items():
        cells = []
        for name in FORMATS:
            extra = f" ({formats[name] - base[name]:+.1f})" if base else ""
            cells.append(f"{formats[name]:.1f}{extra}")
        print(f"{backend:<12}" + "".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()

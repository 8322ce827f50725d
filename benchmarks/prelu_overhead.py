"""Training-step cost of PReLU against ReLU in model A (Table 3), per backend.

The paper promises PReLU at "nearly zero extra computational cost". This script
times one SGD training step of model A with ReLU, keras-prelu's channel-wise
and channel-shared PReLU, and `keras.layers.PReLU` (one slope per channel via
`shared_axes`) on each Keras backend, one child process per backend with the
same shapes. On TensorFlow it does so with XLA (Keras' default) and without;
on JAX everything is compiled by XLA; on PyTorch the steps run eagerly.
Variants are interleaved round by round and the median of each is reported as
a ratio to ReLU. Peak memory is measured for each variant in a fresh process:
the accelerator's peak when there is one, else the peak resident memory of the
training steps.

    python benchmarks/prelu_overhead.py [--image-size 64] [--batch-size 8] \
        [--backends tensorflow,jax,torch]
    python benchmarks/prelu_overhead.py --backends jax --image-size 224 \
        --batch-size 32    # on a GPU: the paper's 224x224, 128 over 4 GPUs
    python benchmarks/prelu_overhead.py --backends tensorflow \
        --dtype-policies mixed_bfloat16    # bfloat16 compute, float32 variables

By default one run measures float32 and mixed_bfloat16 (bfloat16 compute,
float32 variables). Each ratio comes with its spread: the lowest and highest
of the per-round ratios.

The defaults (64x64, batch 8) run in minutes per backend on a CPU.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_prelu import PReLU  # noqa: E402
from keras_prelu.zoo import ModelA  # noqa: E402

VARIANTS = ("relu", "prelu", "prelu_shared", "keras_prelu")
BACKENDS = ("tensorflow", "jax", "torch")
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def build(variant, image_size, jit_compile):
    """Model A with `variant`'s activation, compiled for SGD with momentum.

    Its layers take the global dtype policy (`--dtype-policies`); the slopes of
    keras-prelu's PReLU and their gradient stay float32 under a mixed one.
    """
    activation = "prelu" if variant == "keras_prelu" else variant
    model = ModelA(
        input_shape=(image_size, image_size, 3), num_classes=1000, activation=activation, seed=0
    )
    if variant == "keras_prelu":

        def replace(layer):
            if isinstance(layer, PReLU):
                rank = len(layer.input.shape)
                shared_axes = list(range(1, rank - 1)) or None
                return keras.layers.PReLU(
                    alpha_initializer=keras.initializers.Constant(0.25),
                    shared_axes=shared_axes,
                    name=layer.name,
                )
            return layer.__class__.from_config(layer.get_config())

        model = keras.models.clone_model(model, clone_function=replace)
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9),
        "sparse_categorical_crossentropy",
        jit_compile=jit_compile,
    )
    return model


def batch(image_size, batch_size):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(batch_size, image_size, image_size, 3))
    labels = rng.integers(0, 1000, size=(batch_size,))
    return images.astype("float32"), labels


def jit_modes():
    """XLA on and off on TensorFlow; JAX always compiles with XLA; PyTorch runs eagerly."""
    return {"tensorflow": (True, False), "jax": (True,), "torch": (False,)}[keras.backend.backend()]


def time_steps(args):
    images, labels = batch(args.image_size, args.batch_size)
    results = {}
    for jit_compile in jit_modes():
        models = {v: build(v, args.image_size, jit_compile) for v in VARIANTS}
        for model in models.values():  # compile and warm up
            model.train_on_batch(images, labels)
            model.train_on_batch(images, labels)
        times = {v: [] for v in VARIANTS}  # per round
        for _ in range(args.rounds):
            for variant, model in models.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    model.train_on_batch(images, labels)
                times[variant].append((time.perf_counter() - start) / args.steps)
        mode = "xla" if jit_compile else "eager" if keras.backend.backend() == "torch" else "no_xla"
        results[mode] = times
    return results


def run_child(backend, args, *options):
    """Runs this script on `backend` in a fresh process; returns its last line's JSON."""
    command = [sys.executable, __file__, "--image-size", str(args.image_size)]
    command += ["--batch-size", str(args.batch_size), "--rounds", str(args.rounds)]
    command += ["--steps", str(args.steps), "--dtype-policies", args.dtype_policy, *options]
    env = dict(os.environ, KERAS_BACKEND=backend)
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(output.stdout.strip().splitlines()[-1])


def measure_backend(backend, args):
    """Step times per mode, variant and round, and peak memory per variant, on `backend`."""
    memory = {}
    if not args.skip_memory:
        memory = {v: run_child(backend, args, "--measure-memory", v)["peak_mib"] for v in VARIANTS}
    return {"times": run_child(backend, args, "--time-steps"), "memory": memory}


def accelerator_peak_bytes():
    """Peak bytes in use on the first GPU (JAX backend), or None."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    device = jax.local_devices()[0]
    if device.platform == "cpu":
        return None
    return device.memory_stats()["peak_bytes_in_use"]


def measure_memory(args):
    """Peak memory of training steps, after building and compiling.

    On the CPU, writing 5 to /proc/self/clear_refs resets the peak resident
    memory (VmHWM), so model construction and compilation do not count.
    """
    images, labels = batch(args.image_size, args.batch_size)
    model = build(args.measure_memory, args.image_size, jit_compile=True)
    model.train_on_batch(images, labels)
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    for _ in range(3):
        model.train_on_batch(images, labels)
    peak_bytes = accelerator_peak_bytes()
    if peak_bytes is None:
        with open("/proc/self/status") as status:
            peak_bytes = 1024 * next(
                int(line.split()[1]) for line in status if line.startswith("VmHWM:")
            )
    sys.stdout.write(json.dumps({"peak_mib": peak_bytes / 2**20}) + "\n")


def print_table(results, args):
    print(
        f"model A, {args.image_size}x{args.image_size}, batch {args.batch_size}, median of "
        f"{args.rounds} interleaved rounds of {args.steps} steps, {args.dtype_policy}; "
        "ratios to ReLU"
    )
    columns = [(b, mode) for b, result in results.items() for mode in result["times"]]
    header = "".join(f" {f'{b} {mode}':>18}" for b, mode in columns)
    memory_header = "".join(f" {f'{b} MiB':>15}" for b, r in results.items() if r["memory"])
    print(f"{'variant':<14}{header}{memory_header}")
    for variant in VARIANTS:
        cells = ""
        for backend, mode in columns:
            times = results[backend]["times"][mode]
            if variant == "relu":
                cells += f" {statistics.median(times['relu']) * 1e3:>16.1f}ms"
            else:
                ratios = [t / relu for t, relu in zip(times[variant], times["relu"])]
                spread = f"({min(ratios):.2f}-{max(ratios):.2f})"
                cells += f" {statistics.median(ratios):>5.3f} {spread:>11}"
        memory = "".join(
            f" {result['memory'][variant]:>15.0f}"
            for result in results.values()
            if result["memory"]
        )
        print(f"{variant:<14}{cells}{memory}")


def list_argument(option, accepted):
    """An argparse type: a comma-separated list of `accepted` values for `option`."""

    def parse(value):
        values = value.split(",")
        if not all(v in accepted for v in values):
            raise argparse.ArgumentTypeError(
                f"Argument `{option}` must be a comma-separated list of {accepted}. "
                f"Received: {option}={value}"
            )
        return values

    return parse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument(
        "--backends",
        type=list_argument("--backends", BACKENDS),
        default=list(BACKENDS),
        help="comma-separated",
    )
    parser.add_argument(
        "--dtype-policies",
        type=list_argument("--dtype-policies", POLICIES),
        default=["float32", "mixed_bfloat16"],
        help="comma-separated",
    )
    parser.add_argument("--skip-memory", action="store_true", help="time the steps only")
    parser.add_argument("--time-steps", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure-memory", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_memory or args.time_steps:
        (args.dtype_policy,) = args.dtype_policies  # a child runs one policy
        keras.config.set_dtype_policy(args.dtype_policy)
        if args.measure_memory:
            measure_memory(args)
        else:
            sys.stdout.write(json.dumps(time_steps(args)) + "\n")
        return
    for policy in args.dtype_policies:
        args.dtype_policy = policy
        print_table({b: measure_backend(b, args) for b in args.backends}, args)


if __name__ == "__main__":
    main()

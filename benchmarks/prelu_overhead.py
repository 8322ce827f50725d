"""Training-step cost of PReLU against ReLU in model A (Table 3).

The paper promises PReLU at "nearly zero extra computational cost". This script
times one SGD training step of model A with ReLU, keras-prelu's channel-wise
and channel-shared PReLU, and `keras.layers.PReLU` (one slope per channel via
`shared_axes`). On TensorFlow it does so with XLA (Keras' default) and without;
on JAX everything is compiled by XLA. Variants are interleaved round by round
and the median of each is reported as a ratio to ReLU. Peak memory is measured
for each variant in a fresh process: the accelerator's peak when there is one,
else the peak resident memory of the training steps.

    python benchmarks/prelu_overhead.py [--image-size 64] [--batch-size 8]
    KERAS_BACKEND=jax python benchmarks/prelu_overhead.py --image-size 224 \
        --batch-size 32    # on a GPU: the paper's 224x224, 128 over 4 GPUs

The defaults (64x64, batch 8) run in minutes on a CPU.
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


def build(variant, image_size, jit_compile):
    """Model A with `variant`'s activation, compiled for SGD with momentum."""
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
    """XLA on and off on TensorFlow; JAX always compiles with XLA."""
    return (True, False) if keras.backend.backend() == "tensorflow" else (True,)


def time_steps(args):
    images, labels = batch(args.image_size, args.batch_size)
    results = {}
    for jit_compile in jit_modes():
        models = {v: build(v, args.image_size, jit_compile) for v in VARIANTS}
        for model in models.values():  # compile and warm up
            model.train_on_batch(images, labels)
            model.train_on_batch(images, labels)
        times = {v: [] for v in VARIANTS}
        for _ in range(args.rounds):
            for variant, model in models.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    model.train_on_batch(images, labels)
                times[variant].append((time.perf_counter() - start) / args.steps)
        results["xla" if jit_compile else "no_xla"] = {
            v: statistics.median(t) for v, t in times.items()
        }
    return results


def peak_memory(args, variant):
    """Peak resident memory (MiB) of a fresh process training `variant`."""
    command = [
        sys.executable,
        __file__,
        "--measure-memory",
        variant,
        "--image-size",
        str(args.image_size),
        "--batch-size",
        str(args.batch_size),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])["peak_mib"]


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--measure-memory", choices=VARIANTS)
    args = parser.parse_args()
    if args.measure_memory:
        measure_memory(args)
        return
    results = time_steps(args)
    memory = {v: peak_memory(args, v) for v in VARIANTS}
    print(
        f"model A on {keras.backend.backend()}, {args.image_size}x"
        f"{args.image_size}, batch {args.batch_size}, median of {args.rounds} "
        f"interleaved rounds of {args.steps} steps"
    )
    print(
        f"{'variant':<14}"
        + "".join(f" {mode + ' step':>13} {'ratio':>6}" for mode in results)
        + "  peak MiB"
    )
    for variant in VARIANTS:
        cells = "".join(
            f" {times[variant] * 1e3:>11.1f}ms {times[variant] / times['relu']:>6.3f}"
            for times in results.values()
        )
        print(f"{variant:<14}{cells} {memory[variant]:>9.0f}")


if __name__ == "__main__":
    main()

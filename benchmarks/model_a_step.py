"""A training step of model A's conv body on each Keras backend and in PyTorch.

Model A's conv layers (Table 3), each followed by a channel-wise PReLU, then a
global average pool and a 1000-way fc layer, trained by SGD with momentum on a
cross-entropy loss. The same network is timed on keras-prelu with the
TensorFlow, JAX and PyTorch backends, and as a PyTorch `nn.Module` with
`nn.PReLU` built from the same architecture table, in float32 and in bfloat16
(Keras' `mixed_bfloat16` policy; `torch.autocast` for PyTorch), the slopes and
all weights staying float32. Each runs in its own worker process; the workers
take turns, one round of steps each, and the median time per step of each is
reported with its ratio to PyTorch's in the same precision and its speed-up
from float32 to bfloat16.

    python benchmarks/model_a_step.py [--image-size 96] [--batch-size 8] [--rounds 5] \
        [--runners tensorflow,jax,torch,pytorch] [--precisions float32,bfloat16]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

RUNNERS = ("tensorflow", "jax", "torch", "pytorch")
PRECISIONS = ("float32", "bfloat16")
NUM_CLASSES = 1000


def keras_step(image_size, batch_size, precision):
    """`step()`: one `train_on_batch` of keras-prelu's model A body."""
    import keras
    import numpy as np

    from keras_prelu.zoo import ModelA

    if precision == "bfloat16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    body = ModelA(input_shape=(image_size, image_size, 3), include_top=False, pooling="avg", seed=0)
    logits = keras.layers.Dense(NUM_CLASSES, dtype="float32")(body.output)
    model = keras.Model(body.input, logits)
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    images = rng.normal(size=(batch_size, image_size, image_size, 3)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, size=batch_size)
    return lambda: model.train_on_batch(images, labels)


def pytorch_step(image_size, batch_size, precision):
    """`step()`: one SGD step of the same network written with `torch.nn`."""
    import torch
    from torch import nn

    from keras_prelu.zoo.architectures import ARCHITECTURES

    layers, channels = [], 3
    for stage in ARCHITECTURES["model_a"].stages:
        for index in range(stage.depth):
            strides = stage.strides if index == 0 else 1
            padding = stage.kernel_size // 2 if stage.padding == "same" or index else 0
            layers += [
                nn.Conv2d(channels, stage.filters, stage.kernel_size, strides, padding),
                nn.PReLU(stage.filters, init=0.25),
            ]
            channels = stage.filters
        if stage.pool is not None:
            layers.append(nn.MaxPool2d(*stage.pool))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, NUM_CLASSES)]
    model = nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch_size, 3, image_size, image_size, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (batch_size,), generator=generator)

    dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32

    def step():
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=dtype, enabled=precision == "bfloat16"):
            logits = model(images)
        loss = nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()

    return step


def work(runner, precision, image_size, batch_size, steps):
    """A worker: warms up, then times `steps` steps each time a line comes in."""
    make_step = pytorch_step if runner == "pytorch" else keras_step
    step = make_step(image_size, batch_size, precision)
    step()
    step()
    print("ready", flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        print(json.dumps((time.perf_counter() - start) / steps), flush=True)


def start_worker(runner, precision, args):
    backend = "torch" if runner == "pytorch" else runner
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, __file__, "--worker", runner, "--precisions", precision]
    command += ["--image-size", str(args.image_size), "--batch-size", str(args.batch_size)]
    command += ["--steps", str(args.steps)]
    worker = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    if worker.stdout.readline().strip() != "ready":
        raise RuntimeError(
            f"The {runner} {precision} worker did not start (exit code {worker.wait()})."
        )
    return worker


def names_argument(choices, option):
    """An argparse type: a comma-separated list of `choices`."""

    def parse(value):
        names = value.split(",")
        if not all(name in choices for name in names):
            raise argparse.ArgumentTypeError(
                f"Argument `{option}` must be a comma-separated list of {choices}. "
                f"Received: {option}={value}"
            )
        return names

    return parse


def print_table(medians, args):
    print(
        f"model A body, {args.image_size}x{args.image_size}, batch {args.batch_size}, "
        f"median of {args.rounds} interleaved rounds of {args.steps} steps"
    )
    print(f"{'runner':28s}" + "".join(f" {p + ' ms':>13} {'/PyTorch':>8}" for p in args.precisions))
    for runner in args.runners:
        name = "PyTorch nn.PReLU" if runner == "pytorch" else f"keras-prelu on {runner}"
        cells = ""
        for precision in args.precisions:
            median = medians[runner, precision]
            reference = medians.get(("pytorch", precision))
            ratio = f"{median / reference:.2f}" if reference else "-"
            cells += f" {median * 1e3:>13.0f} {ratio:>8}"
        if set(PRECISIONS) <= set(args.precisions):
            speedup = medians[runner, "float32"] / medians[runner, "bfloat16"]
            cells += f"  float32/bfloat16 {speedup:.2f}"
        print(f"{name:28s}{cells}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per round")
    parser.add_argument(
        "--runners", type=names_argument(RUNNERS, "--runners"), default=list(RUNNERS)
    )
    parser.add_argument(
        "--precisions", type=names_argument(PRECISIONS, "--precisions"), default=list(PRECISIONS)
    )
    parser.add_argument("--worker", choices=RUNNERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work(args.worker, args.precisions[0], args.image_size, args.batch_size, args.steps)
        return
    keys = [(runner, precision) for runner in args.runners for precision in args.precisions]
    workers = {key: start_worker(*key, args) for key in keys}
    times = {key: [] for key in keys}
    for _ in range(args.rounds):
        for key, worker in workers.items():
            worker.stdin.write("go\n")
            worker.stdin.flush()
            times[key].append(json.loads(worker.stdout.readline()))
    for worker in workers.values():
        worker.stdin.close()
        worker.wait()
    print_table({key: statistics.median(values) for key, values in times.items()}, args)


if __name__ == "__main__":
    main()

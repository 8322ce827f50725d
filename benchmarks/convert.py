"""`to_prelu` on keras.applications networks: ReLUs converted, time taken, step cost.

For each network (`weights=None`, 10 classes, small inputs) prints its number of
layers, the ReLUs that `to_prelu` turns into PReLUs, the PReLU parameters added,
and the best of `--rounds` conversion times with and without re-initializing the
kernels. Then, for `--step-model`, the median time of one SGD training step of the
converted network over that of the ReLU original, the two interleaved round by
round (other load on the machine slows both alike).

    python benchmarks/convert.py [--rounds 3] [--step-model ResNet50] [--batch-size 16]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_prelu import PReLU  # noqa: E402
from keras_prelu import to_prelu  # noqa: E402

# (network, input side): the smallest inputs the networks accept, about.
NETWORKS = (
    ("VGG16", 32),
    ("ResNet50", 32),
    ("ResNet50V2", 32),
    ("DenseNet121", 32),
    ("InceptionV3", 75),
    ("Xception", 71),
    ("NASNetMobile", 32),
    ("MobileNetV3Small", 32),
    ("MobileNet", 32),
)


def build(name, side):
    return getattr(keras.applications, name)(weights=None, input_shape=(side, side, 3), classes=10)


def best_time(rounds, function, *args, **kwargs):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times)


def prelu_layers(model):
    found = []
    for layer in model.layers:
        found += prelu_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return [layer for layer in found if isinstance(layer, PReLU)]


def conversions(rounds):
    print("| network | input | layers | ReLUs -> PReLUs | slopes added | convert | + re-init |")
    print("|---|---|---|---|---|---|---|")
    for name, side in NETWORKS:
        model = build(name, side)
        prelus = prelu_layers(to_prelu(model))
        copy_time = best_time(rounds, to_prelu, model, reinitialize=False)
        init_time = best_time(rounds, to_prelu, model)
        slopes = sum(int(np.prod(layer.alpha.shape)) for layer in prelus)
        print(
            f"| {name} | {side}x{side} | {len(model.layers)} | {len(prelus)} | {slopes:,} "
            f"| {copy_time:.2f} s | {init_time:.2f} s |"
        )


def step_ratio(name, side, batch_size, rounds):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (batch_size, side, side, 3)).astype("float32")
    labels = rng.integers(0, 10, batch_size)
    relu_net = build(name, side)
    models = {"relu": relu_net, "prelu": to_prelu(relu_net, seed=0)}
    for model in models.values():
        model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
        model.train_on_batch(images, labels)  # compile
    times = {kind: [] for kind in models}
    for _ in range(rounds):
        for kind, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(images, labels)
            times[kind].append(time.perf_counter() - start)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    print(
        f"{name} {side}x{side}, batch {batch_size}: training step ReLU "
        f"{medians['relu'] * 1000:.0f} ms, PReLU {medians['prelu'] * 1000:.0f} ms, "
        f"ratio {medians['prelu'] / medians['relu']:.2f} (medians of {rounds})"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--step-model", default="ResNet50")
    parser.add_argument("--step-side", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--step-rounds", type=int, default=20)
    args = parser.parse_args()
    conversions(args.rounds)
    step_ratio(args.step_model, args.step_side, args.batch_size, args.step_rounds)


if __name__ == "__main__":
    main()

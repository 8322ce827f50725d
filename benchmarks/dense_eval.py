"""Dense testing on feature maps: `DenseScorer` against the per-window reference.

Both score every window of the last conv map of the same images (and their
flips), as the paper's dense multi-view testing does. The reference cuts each
window out of the map and runs the SPP layer and the fc layers on it, one window
at a time (compiled once, as a graph); `DenseScorer` pools all windows from
stride-1 poolings of the whole map and scores them in chunks. The conv layers run
once per image and flip in both, and are timed apart. Each method runs in a fresh
process, which reports its time, its peak resident memory (or the accelerator's
peak) and its scores; the script prints both side by side, the speed ratio and
the largest score difference.

    python benchmarks/dense_eval.py                 # model A, fc 4096, scale 384
    python benchmarks/dense_eval.py --fc-units 256 256 --images 1   # a quick look
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_prelu.evaluation import DenseScorer  # noqa: E402
from keras_prelu.zoo import get_model  # noqa: E402

METHODS = ("dense", "reference")


def build(args):
    model = get_model(
        args.model,
        input_shape=(None, None, 3),
        fc_units=tuple(args.fc_units),
        num_classes=args.num_classes,
        seed=0,
    )
    return DenseScorer(model, crop_size=args.crop_size)


def images(args):
    """`args.images` random images at shorter side `scale`, 4:3, with their flips."""
    width = round(args.scale * 4 / 3)
    pixels = np.random.default_rng(0).uniform(-128, 128, size=(args.images, args.scale, width, 3))
    pixels = pixels.astype("float32")
    return np.concatenate([pixels, pixels[:, :, ::-1]])


def reference_scorer(scorer):
    """Scores of every window, cut out of the map one at a time (compiled once)."""
    import tensorflow as tf

    score_window = tf.function(lambda window: scorer.head(scorer.spp(window), training=False))

    def window_scores(feature_map):
        win_h, win_w = scorer.window_shape(*feature_map.shape[1:3])
        return np.concatenate(
            [
                np.asarray(score_window(feature_map[:, top : top + win_h, left : left + win_w]))
                for top in range(feature_map.shape[1] - win_h + 1)
                for left in range(feature_map.shape[2] - win_w + 1)
            ]
        )

    return window_scores


def run_method(args):
    """One method in this process: scores, times and peak memory, as JSON."""
    scorer = build(args)
    batch = images(args)
    score = scorer.window_scores if args.method == "dense" else reference_scorer(scorer)
    score(np.asarray(scorer.features(batch[:1], training=False)))  # warm-up: traces
    start = time.perf_counter()
    maps = [
        np.asarray(scorer.features(batch[i : i + 1], training=False)) for i in range(len(batch))
    ]
    conv_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = [score(feature_map) for feature_map in maps]
    window_seconds = time.perf_counter() - start
    np.save(args.scores, np.concatenate(scores))
    print(
        json.dumps(
            {
                "conv_seconds": conv_seconds,
                "window_seconds": window_seconds,
                "windows": sum(len(s) for s in scores),
                "map": list(maps[0].shape[1:3]),
                "window": list(scorer.window),
                "peak_bytes": peak_bytes(),
            }
        )
    )


def peak_bytes():
    """The accelerator's peak memory if there is one, else the peak resident memory."""
    try:
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["peak"]
    except (ImportError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="model_a")
    parser.add_argument("--fc-units", type=int, nargs=2, default=(4096, 4096))
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--crop-size", type=int, default=224, help="sets the window")
    parser.add_argument("--scale", type=int, default=384, help="shorter side of the images")
    parser.add_argument("--images", type=int, default=2, help="images (each also flipped)")
    parser.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--scores", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        run_method(args)
        return
    results, scores = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for method in METHODS:
            path = os.path.join(folder, f"{method}.npy")
            command = [
                sys.executable,
                __file__,
                *sys.argv[1:],
                "--method",
                method,
                "--scores",
                path,
            ]
            output = subprocess.run(command, check=True, capture_output=True, text=True)
            results[method] = json.loads(output.stdout.strip().splitlines()[-1])
            scores[method] = np.load(path)
    dense, reference = results["dense"], results["reference"]
    print(
        f"{args.model}, fc {args.fc_units[0]}x{args.fc_units[1]}, scale {args.scale}: "
        f"map {dense['map'][0]}x{dense['map'][1]}, window {dense['window'][0]}x"
        f"{dense['window'][1]}, {dense['windows']} windows over {2 * args.images} images "
        f"(with flips), on {keras.backend.backend()}"
    )
    print(f"{'method':<10} {'conv s':>8} {'windows s':>10} {'ms/window':>10} {'peak MB':>9}")
    for method, result in results.items():
        print(
            f"{method:<10} {result['conv_seconds']:>8.2f} {result['window_seconds']:>10.2f} "
            f"{1000 * result['window_seconds'] / result['windows']:>10.2f} "
            f"{result['peak_bytes'] / 2**20:>9.0f}"
        )
    ratio = reference["window_seconds"] / dense["window_seconds"]
    total_ratio = (reference["conv_seconds"] + reference["window_seconds"]) / (
        dense["conv_seconds"] + dense["window_seconds"]
    )
    difference = np.abs(scores["dense"] - scores["reference"]).max()
    print(
        f"speed-up of dense over the reference: {ratio:.1f}x on the windows, "
        f"{total_ratio:.1f}x with the conv layers"
    )
    print(
        f"largest score difference: {difference:.2e} (scores up to {scores['reference'].max():.2e})"
    )


if __name__ == "__main__":
    main()

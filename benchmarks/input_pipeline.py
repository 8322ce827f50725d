"""Images per second per CPU core of the paper's training transform, from JPEG files.

Measures `keras_prelu.data.training_dataset` (tf.data, crop fused into JPEG decoding)
side by side with a straightforward PIL + NumPy implementation of the same transform
(decode, resize the shorter side to s ~ U[256, 512], random 224 crop, flip, PCA colour
noise, mean subtraction), on 500x375 JPEGs cut from the photographs that ship with
scikit-learn. Each is pinned to the same number of cores, in alternating rounds (the best
round of each counts, as other load on the machine only slows rounds down); then
the resident memory is sampled over one long run to show that it stays flat. Last, the
global batches per second of one process of two (`num_shards=2`, which decodes only its
half of each batch) over those of one process alone.

    python benchmarks/input_pipeline.py [--rounds 5] [--images 2048] [--cores 1]
"""

import argparse
import glob
import io
import itertools
import logging
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.datasets import load_sample_images  # noqa: E402

from keras_prelu import data  # noqa: E402

logger = logging.getLogger("input_pipeline")

IMAGE_SIZE = (500, 375)  # (width, height): a typical ImageNet photograph.
JPEG_QUALITY = 90


def write_jpegs(folder, count, seed=0):
    """Writes `count` 500x375 JPEGs, random crops of scikit-learn's sample photographs,
    in one class folder per photograph."""
    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    width, height = IMAGE_SIZE
    for index in range(count):
        photo = photos[index % len(photos)]
        class_folder = os.path.join(folder, f"photo{index % len(photos)}")
        os.makedirs(class_folder, exist_ok=True)
        top = rng.integers(photo.shape[0] - height + 1)
        left = rng.integers(photo.shape[1] - width + 1)
        Image.fromarray(photo[top : top + height, left : left + width]).save(
            os.path.join(class_folder, f"{index:05d}.jpg"), quality=JPEG_QUALITY
        )


class PILTrainingTransform:
    """The paper's training transform as a PyTorch user would write it with PIL."""

    def __init__(self, augmentation, seed=0):
        self.augmentation = augmentation
        self.rng = np.random.default_rng(seed)
        self.colour_basis = augmentation.pca_eigenvectors * augmentation.pca_eigenvalues * 255.0

    def __call__(self, path):
        augmentation, rng = self.augmentation, self.rng
        with open(path, "rb") as file:
            image = Image.open(io.BytesIO(file.read())).convert("RGB")
        scale = rng.uniform(*augmentation.scale_range)
        factor = scale / min(image.size)
        image = image.resize(
            (round(image.width * factor), round(image.height * factor)), Image.BILINEAR
        )
        crop = augmentation.crop_size
        left = rng.integers(image.width - crop + 1)
        top = rng.integers(image.height - crop + 1)
        image = image.crop((left, top, left + crop, top + crop))
        if augmentation.flip and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        pixels = np.asarray(image, dtype=np.float32)
        alpha = rng.normal(0.0, augmentation.pca_std, 3)
        return pixels + self.colour_basis @ alpha - augmentation.mean


def resident_memory_mib():
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def images_per_second(next_batch, num_batches, batch_size):
    start = time.perf_counter()
    for _ in range(num_batches):
        next_batch()
    return num_batches * batch_size / (time.perf_counter() - start)


def started(dataset):
    """An iterator over `dataset` that has built its pipeline and produced a batch."""
    iterator = iter(dataset)
    next(iterator)
    return iterator


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2048, help="images per round and pipeline")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the best counts")
    parser.add_argument("--memory-images", type=int, default=20480, help="images of the memory run")
    parser.add_argument("--files", type=int, default=256, help="distinct JPEG files")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cores", type=int, default=1, help="CPU cores to pin to")
    args = parser.parse_args()
    if args.files < args.batch_size:
        parser.error("--files must be at least --batch-size (training drops the remainder)")
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    cores = sorted(os.sched_getaffinity(0))[: args.cores]
    os.sched_setaffinity(0, cores)
    num_batches = args.images // args.batch_size
    with tempfile.TemporaryDirectory() as folder:
        write_jpegs(folder, args.files)
        source = data.get_source(folder, validation_fraction=0.0)
        batches = data.training_dataset(source, args.batch_size, seed=0).repeat()
        paths = itertools.cycle(sorted(glob.glob(os.path.join(folder, "*", "*.jpg"))))
        pil_transform = PILTrainingTransform(data.Augmentation())
        rates = {"PIL + NumPy": [], "keras_prelu.data": []}
        for _ in range(args.rounds):
            rates["PIL + NumPy"].append(
                images_per_second(
                    lambda: np.stack([pil_transform(next(paths)) for _ in range(args.batch_size)]),
                    num_batches,
                    args.batch_size,
                )
            )
            # A new iterator each round: no batch is prepared while PIL is timed.
            iterator = started(batches)
            rates["keras_prelu.data"].append(
                images_per_second(iterator.__next__, num_batches, args.batch_size)
            )
            del iterator

        shard = data.training_dataset(
            source, args.batch_size, seed=0, num_shards=2, shard_index=0
        ).repeat()
        shard_rates = {"one process": [], "one of two processes": []}
        for _ in range(args.rounds):
            for name, dataset in zip(shard_rates, (batches, shard)):
                iterator = started(dataset)
                shard_rates[name].append(
                    images_per_second(iterator.__next__, num_batches, args.batch_size)
                )
                del iterator

        iterator = started(batches)
        memory = []
        for _ in range(args.memory_images // args.images):
            images_per_second(iterator.__next__, num_batches, args.batch_size)
            memory.append(resident_memory_mib())

    # The PIL loop runs in one thread, on one core, whatever --cores is.
    cores_used = {"PIL + NumPy": 1, "keras_prelu.data": len(cores)}
    per_core = {name: max(values) / cores_used[name] for name, values in rates.items()}
    logger.info(
        "Training transform from %d %dx%d JPEG files, pinned to %d core(s), TensorFlow %s, "
        "best of %d rounds of %d images:",
        args.files,
        *IMAGE_SIZE,
        len(cores),
        tf.__version__,
        args.rounds,
        num_batches * args.batch_size,
    )
    for name, rate in per_core.items():
        logger.info("  %-17s %7.1f images/s per core (%d core(s))", name, rate, cores_used[name])
    logger.info("  ratio per core: %.2fx", per_core["keras_prelu.data"] / per_core["PIL + NumPy"])
    logger.info(
        "  global batches/s of one of two processes over one process: %.2fx",
        max(shard_rates["one of two processes"]) / max(shard_rates["one process"]),
    )
    logger.info(
        "  keras_prelu.data resident memory over %d images, MiB, every %d: %s",
        len(memory) * num_batches * args.batch_size,
        num_batches * args.batch_size,
        " ".join(f"{value:.0f}" for value in memory),
    )


if __name__ == "__main__":
    main()

"""Image files for the data tests, written with PIL."""

import io
import os

import numpy as np
from PIL import Image

# The files an image folder test writes into each class folder: (rows, cols), mode, format.
FOLDER_IMAGE_KINDS = {
    "rgb.jpg": ((24, 32), "RGB", "JPEG"),
    "gray.png": ((30, 20), "L", "PNG"),
    "cmyk.jpg": ((26, 26), "CMYK", "JPEG"),
    "rgba.png": ((20, 28), "RGBA", "PNG"),
    "upper.JPEG": ((22, 30), "RGB", "JPEG"),
}


def smooth_pixels(rng, size, channels):
    """Random linear gradients: smooth like photographs, so JPEG decoders agree closely."""
    rows, cols = np.meshgrid(np.linspace(0, 1, size[0]), np.linspace(0, 1, size[1]), indexing="ij")
    slopes = rng.uniform(-100, 100, (2, channels))
    pixels = 128 + rows[..., None] * slopes[0] + cols[..., None] * slopes[1]
    return (
        np.squeeze(pixels, axis=-1).astype(np.uint8) if channels == 1 else pixels.astype(np.uint8)
    )


def encode(pixels, mode, image_format):
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode).save(buffer, image_format, quality=95)
    return buffer.getvalue()


def write_image(path, pixels, mode, image_format):
    with open(path, "wb") as file:
        file.write(encode(pixels, mode, image_format))


def write_class_folders(root, class_names, rng):
    """Writes every kind of FOLDER_IMAGE_KINDS into each class folder; returns the paths."""
    paths = []
    for name in class_names:
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for file_name, (size, mode, image_format) in FOLDER_IMAGE_KINDS.items():
            path = os.path.join(root, name, file_name)
            write_image(path, smooth_pixels(rng, size, len(mode)), mode, image_format)
            paths.append(path)
    return paths

import io
import struct

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from PIL import ImageOps

from keras_prelu.data import Augmentation
from keras_prelu.data import transforms
from tests.data.image_files import encode
from tests.data.image_files import smooth_pixels

# Runs in the TensorFlow session only: the data pipeline is TensorFlow's.
pytestmark = pytest.mark.backend("tensorflow")

# A 64x64 image whose red channel is 4 * column and green channel 4 * row: the slope of
# the red channel after the transform gives the scale and the flip, the green and red
# values of the top-left pixel give the crop location.
RAMP_SIZE = 64
RAMP_STEP = 4
RAMP = np.stack(
    [*np.meshgrid(np.arange(RAMP_SIZE) * RAMP_STEP, np.arange(RAMP_SIZE) * RAMP_STEP)]
    + [np.zeros((RAMP_SIZE, RAMP_SIZE))],
    axis=-1,
).astype(np.uint8)
NO_COLOUR_NO_MEAN = dict(pca_std=0.0, mean=(0.0, 0.0, 0.0))


def augment_many(image, augmentation, count):
    """`count` augmentations of one image, with seeds 0..count-1."""
    seeds = tf.stack([tf.range(count, dtype=tf.int64), tf.zeros(count, tf.int64)], axis=1)
    augmented = tf.data.Dataset.from_tensor_slices(seeds).map(
        lambda seed: transforms.augment(tf.constant(image), seed, augmentation)
    )
    return np.stack(list(augmented.as_numpy_iterator()))


def test_scale_jitter_crop_and_flip_statistics():
    augmentation = Augmentation(scale_range=(16, 48), crop_size=16, **NO_COLOUR_NO_MEAN)
    crops = augment_many(RAMP, augmentation, 400)
    assert crops.shape == (400, 16, 16, 3)

    # Interior slope of the red ramp: RAMP_STEP * RAMP_SIZE / s, negative when flipped.
    slopes = np.diff(crops[:, 4:12, 4:12, 0], axis=2).mean(axis=(1, 2))
    scales = RAMP_STEP * RAMP_SIZE / np.abs(slopes)
    # The crop window has a whole number of pixels (21 to 64 here): s is exact to 3%.
    assert scales.min() >= 16 * 0.97 and scales.max() <= 48 * 1.03
    assert scales.min() < 18 and scales.max() > 46
    assert abs(scales.mean() - 32) < 2  # s ~ U[16, 48]
    assert abs((slopes < 0).mean() - 0.5) < 0.1

    # Crop locations are drawn per image and cover the image.
    tops = crops[:, 0, 0, 1] / RAMP_STEP
    assert len(np.unique(np.round(tops))) > 20
    assert tops.min() < 2 and tops.max() > RAMP_SIZE - 24


def test_no_flip_keeps_orientation():
    augmentation = Augmentation(scale_range=(16, 48), crop_size=16, flip=False, **NO_COLOUR_NO_MEAN)
    crops = augment_many(RAMP, augmentation, 50)
    assert (np.diff(crops[:, 4:12, 4:12, 0], axis=2).mean(axis=(1, 2)) > 0).all()


def test_pca_colour_noise_has_the_paper_distribution():
    # PITFALLS.md, "Data": AlexNet's eigenvalues (pixels in [0, 1]) and eigenvectors.
    eigenvalues = np.array([0.2175, 0.0188, 0.0045]) * 255
    eigenvectors = np.array(
        [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]]
    )
    augmentation = Augmentation(scale_range=(8, 8), crop_size=8, flip=False, mean=(0.0, 0.0, 0.0))
    crops = augment_many(np.zeros((8, 8, 3), np.uint8), augmentation, 2000)

    offsets = crops[:, 0, 0]
    np.testing.assert_allclose(
        crops, np.broadcast_to(offsets[:, None, None], crops.shape), atol=1e-4
    )
    alphas = np.linalg.solve(eigenvectors, offsets.T).T / eigenvalues
    np.testing.assert_allclose(alphas.std(axis=0), 0.1, atol=0.01)
    np.testing.assert_allclose(alphas.mean(axis=0), 0.0, atol=0.01)
    assert abs(np.corrcoef(alphas.T)[0, 1]) < 0.1


@pytest.mark.parametrize("per_pixel", [False, True])
def test_mean_is_subtracted(rng, per_pixel):
    mean = rng.uniform(0, 255, (8, 8, 3) if per_pixel else (3,)).astype(np.float32)
    augmentation = Augmentation(scale_range=(8, 8), crop_size=8, flip=False, pca_std=0.0, mean=mean)
    crops = augment_many(np.full((8, 8, 3), 100, np.uint8), augmentation, 3)
    np.testing.assert_allclose(crops, np.broadcast_to(100.0 - mean, crops.shape), atol=1e-3)


def test_same_seed_same_augmentation_other_seed_other():
    augmentation = Augmentation(scale_range=(16, 48), crop_size=16)
    seeds = [
        tf.constant([7, 0], tf.int64),
        tf.constant([7, 0], tf.int64),
        tf.constant([8, 0], tf.int64),
    ]
    first, again, other = (
        transforms.augment(tf.constant(RAMP), seed, augmentation) for seed in seeds
    )
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1


def test_ten_views_are_the_corner_and_centre_crops_and_their_flips(rng):
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    mean = np.array([10.0, 20.0, 30.0], np.float32)
    views = transforms.ten_views(tf.constant(image), 20, 12, mean).numpy()  # scale 20: no resize
    pixels = image.astype(np.float32) - mean
    expected = [
        pixels[:12, :12],
        pixels[:12, 18:],
        pixels[8:, :12],
        pixels[8:, 18:],
        pixels[4:16, 9:21],
    ]
    expected += [crop[:, ::-1] for crop in expected]
    np.testing.assert_array_equal(views, np.stack(expected))


def test_center_view_without_resizing_is_the_centre_crop(rng):
    image = rng.integers(0, 256, (21, 30, 3), dtype=np.uint8)
    view = transforms.center_view(tf.constant(image), 21, 11, np.zeros(3, np.float32)).numpy()
    np.testing.assert_array_equal(view, image[5:16, 9:20])


def test_center_view_crops_before_resizing_like_after(rng):
    # The fused window (crop, then resize) matches resizing the whole image, then cropping.
    image = smooth_pixels(rng, (90, 120), 3)
    view = transforms.center_view(tf.constant(image), 40, 32, np.zeros(3, np.float32)).numpy()
    resized = np.asarray(Image.fromarray(image).resize((53, 40), Image.BILINEAR), np.float32)
    np.testing.assert_allclose(view, resized[4:36, 10:42], atol=4)


def test_full_view_keeps_the_aspect_ratio(rng):
    image = encode(smooth_pixels(rng, (30, 45), 3), "RGB", "PNG")
    view = transforms.full_view(tf.constant(image), 20, np.zeros(3, np.float32))
    assert view.shape == (20, 30, 3)


@pytest.mark.parametrize(
    "mode, image_format", [("RGB", "JPEG"), ("L", "JPEG"), ("RGBA", "PNG"), ("L", "PNG")]
)
def test_decode_window_matches_pil(rng, mode, image_format):
    pixels = smooth_pixels(rng, (40, 56), len(mode))
    contents = encode(pixels, mode, image_format)
    window = transforms.decode_window(tf.constant(contents), lambda height, width: (8, 16, 24, 24))
    reference = np.asarray(Image.open(io.BytesIO(contents)).convert("RGB"), np.float32)
    # Only the window's border may differ a little (chroma upsampling at its edges).
    difference = np.abs(window.numpy() - reference[8:32, 16:40])
    assert window.shape == (24, 24, 3)
    assert difference[1:-1, 1:-1].max() <= 1 and difference.max() <= 8


def test_is_complete_image_rejects_truncated_and_foreign_files(rng):
    jpeg = encode(smooth_pixels(rng, (16, 16), 3), "RGB", "JPEG")
    png = encode(smooth_pixels(rng, (16, 16), 3), "RGB", "PNG")
    candidates = [jpeg, png, jpeg[: len(jpeg) // 2], png[:-20], b"not an image", b""]
    complete = [bool(transforms.is_complete_image(tf.constant(data))) for data in candidates]
    assert complete == [True, True, False, False, False, False]


def jpeg_with_a_thumbnail(image, thumbnail):
    """`image` with an APP1 segment holding the JPEG `thumbnail` (frame header included),
    where EXIF keeps thumbnails: before the image's own frame header."""
    segment = b"Exif\0\0" + thumbnail
    return image[:2] + b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment + image[2:]


def test_encoded_size_reads_the_header_of_every_kind(rng):
    pixels = smooth_pixels(rng, (37, 53), 3)
    thumbnail = encode(smooth_pixels(rng, (8, 9), 3), "RGB", "JPEG")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", progressive=True)
    files = {
        "png": encode(pixels, "RGB", "PNG"),
        "grey png": encode(pixels[..., 0], "L", "PNG"),
        "jpeg": encode(pixels, "RGB", "JPEG"),
        "cmyk jpeg": encode(np.dstack([pixels, pixels[..., :1]]), "CMYK", "JPEG"),
        "progressive jpeg": buffer.getvalue(),
        "jpeg with a thumbnail": jpeg_with_a_thumbnail(encode(pixels, "RGB", "JPEG"), thumbnail),
    }
    for name, contents in files.items():
        assert transforms.encoded_size(tf.constant(contents)).numpy().tolist() == [37, 53], name
        np.testing.assert_array_equal(
            transforms.decode(tf.constant(contents)).shape[:2], (37, 53), err_msg=name
        )


def test_encoded_size_of_other_contents_is_zero():
    for contents in (b"", b"\x89PNG", b"GIF89a" + bytes(32), bytes(64)):
        assert transforms.encoded_size(tf.constant(contents)).numpy().tolist() == [0, 0]


# EXIF orientations written by cameras and phones: upright, upside down, and turned
# a quarter either way (height and width swapped).
EXIF_ORIENTATIONS = (1, 3, 6, 8)


def with_orientation(jpeg, orientation, byte_order):
    """`jpeg` with an APP1 "Exif" segment holding `orientation`, in `byte_order` ("<" or ">"),
    spliced in after a JFIF APP0 segment, as a camera writes it."""
    order = b"II" if byte_order == "<" else b"MM"
    tiff = order + struct.pack(f"{byte_order}HI", 42, 8)
    tiff += struct.pack(f"{byte_order}H", 2)  # two entries: another tag first, then 274
    tiff += struct.pack(f"{byte_order}HHIHH", 0x010F, 3, 1, 7, 0)  # "Make", a stand-in
    tiff += struct.pack(f"{byte_order}HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(f"{byte_order}I", 0)
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\x00\x00" + tiff
    app0_end = 4 + struct.unpack(">H", jpeg[4:6])[0]  # JFIF APP0 follows SOI
    return jpeg[:app0_end] + app1 + jpeg[app0_end:]


def as_seen(jpeg):
    """PIL's decoding of `jpeg`, turned upright by its EXIF orientation."""
    return np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(jpeg))).convert("RGB"))


@pytest.mark.parametrize("byte_order", ["<", ">"])
@pytest.mark.parametrize("orientation", EXIF_ORIENTATIONS)
def test_jpegs_are_decoded_and_sized_as_seen(rng, orientation, byte_order):
    pixels = smooth_pixels(rng, (60, 40), 3)  # stored 40 wide and 60 high
    jpeg = with_orientation(encode(pixels, "RGB", "JPEG"), orientation, byte_order)
    seen = as_seen(jpeg)
    assert seen.shape[:2] == ((40, 60) if orientation in (6, 8) else (60, 40))
    assert int(transforms.jpeg_orientation(tf.constant(jpeg))) == orientation
    decoded = transforms.decode(tf.constant(jpeg)).numpy()
    np.testing.assert_allclose(decoded, seen, atol=1)
    np.testing.assert_array_equal(transforms.encoded_size(tf.constant(jpeg)), seen.shape[:2])


@pytest.mark.parametrize("orientation", EXIF_ORIENTATIONS)
def test_training_and_evaluation_views_of_a_turned_jpeg_are_those_of_its_upright_pixels(
    rng, orientation
):
    jpeg = with_orientation(
        encode(smooth_pixels(rng, (60, 40), 3), "RGB", "JPEG"), orientation, ">"
    )
    seen = tf.constant(as_seen(jpeg))
    # Upright JPEGs are cropped while decoded: libjpeg's upsampling differs by up to
    # 3 levels at the window's border; a wrong turn, by a hundred.
    mean = np.zeros(3, np.float32)
    np.testing.assert_allclose(
        transforms.center_view(tf.constant(jpeg), 36, 32, mean),
        transforms.center_view(seen, 36, 32, mean),
        atol=4,
    )
    augmentation = Augmentation(scale_range=(36, 48), crop_size=32, **NO_COLOUR_NO_MEAN)
    seed = tf.constant([3, 0], tf.int64)
    np.testing.assert_allclose(
        transforms.augment(tf.constant(jpeg), seed, augmentation),
        transforms.augment(seen, seed, augmentation),
        atol=4,
    )


def test_an_orientation_outside_1_to_8_or_a_jpeg_without_exif_is_upright(rng):
    jpeg = encode(smooth_pixels(rng, (20, 10), 3), "RGB", "JPEG")
    for contents in (jpeg, with_orientation(jpeg, 9, "<"), with_orientation(jpeg, 0, ">")):
        assert int(transforms.jpeg_orientation(tf.constant(contents))) == 1
        np.testing.assert_array_equal(transforms.encoded_size(tf.constant(contents)), (20, 10))

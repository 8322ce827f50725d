"""The paper's image transforms as TensorFlow functions for `tf.data` maps.

Every function takes one example's image: encoded bytes (JPEG, PNG, BMP or GIF; a
scalar `tf.string`) or decoded pixels of shape (height, width, channels), `uint8`
or `float32` in [0, 255].
Images come out as float32 RGB in [0, 255] units, minus the mean.
"""

import tensorflow as tf

__all__ = [
    "EVALUATION_VIEWS",
    "augment",
    "center_view",
    "decode",
    "decode_window",
    "encoded_size",
    "full_view",
    "is_complete_image",
    "jpeg_orientation",
    "pca_colour_noise",
    "resize_shorter_side",
    "ten_views",
]

EVALUATION_VIEWS = ("center", "ten", "full")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"  # The IEND chunk and its CRC close every PNG.
# The IHDR chunk comes first; its width and height are at bytes 16-23 (big-endian).
_PNG_HEADER = b"IHDR"
_PNG_HEADER_OFFSET = 12
_PNG_IHDR_END = _PNG_HEADER_OFFSET + len(_PNG_HEADER) + 8
_JPEG_END = (0xFF, 0xD9)  # The EOI marker, followed at most by a little padding.
_JPEG_END_SEARCH_BYTES = 4096
# libjpeg's accurate integer IDCT: the pixels that PIL (and so torchvision) decodes.
_JPEG_DCT_METHOD = "INTEGER_ACCURATE"
# EXIF orientation (TIFF tag 274): how the stored pixels are turned to be seen upright.
# It is read from the APP1 segment, "\xff\xe1", two length bytes, "Exif\0\0", then a
# TIFF header and its first IFD, within the first 64 KiB (one segment's largest size).
_EXIF_MARKER = (0xFF, 0xE1)
_EXIF_IDENTIFIER = b"Exif\x00\x00"
_EXIF_SEARCH_BYTES = 1 << 16
_EXIF_ORIENTATION_TAG = 0x0112
_EXIF_MAX_IFD_ENTRIES = 64
_UPRIGHT = 1
# Orientations 5-8 swap height and width; 2, 3, 6, 7 mirror the columns (after the
# transposition), 3, 4, 7, 8 the rows: `PIL.ImageOps.exif_transpose`'s turns.
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)
_COLUMNS_FLIPPED_ORIENTATIONS = (2, 3, 6, 7)
_ROWS_FLIPPED_ORIENTATIONS = (3, 4, 7, 8)


def decode_window(image, window_fn):
    """Decodes the window `window_fn(height, width) -> (top, left, rows, cols)` of `image`.

    The window is of the image as people see it: a JPEG's EXIF orientation is
    applied first (`jpeg_orientation`). Upright JPEGs are cropped while they are
    decoded (`tf.io.decode_and_crop_jpeg`), so the rows below the window and the
    blocks beside it are never converted to RGB, with the accurate IDCT, so the
    pixels are PIL's. Grayscale, RGBA and CMYK images come out as RGB `uint8`.
    """
    if image.dtype != tf.string:
        return _crop(_to_rgb(image), window_fn)

    def decode_jpeg_window():
        orientation = jpeg_orientation(image)

        def decode_upright_window():
            shape = tf.image.extract_jpeg_shape(image)
            window = tf.stack(window_fn(shape[0], shape[1]))
            return tf.io.decode_and_crop_jpeg(
                image, window, channels=3, dct_method=_JPEG_DCT_METHOD
            )

        def decode_turned_window():
            decoded = tf.io.decode_jpeg(image, channels=3, dct_method=_JPEG_DCT_METHOD)
            return _crop(apply_orientation(decoded, orientation), window_fn)

        return tf.cond(tf.equal(orientation, _UPRIGHT), decode_upright_window, decode_turned_window)

    def decode_other_window():
        decoded = tf.io.decode_image(image, channels=3, expand_animations=False)
        return _crop(decoded, window_fn)

    window = tf.cond(tf.io.is_jpeg(image), decode_jpeg_window, decode_other_window)
    window.set_shape([None, None, 3])
    return window


def is_complete_image(contents):
    """Whether the encoded `contents` is a whole JPEG or PNG: its signature and end marker.

    A truncated download lacks the end marker; a file of another kind, the signature.
    """
    length = tf.strings.length(contents)
    png_end = tf.strings.substr(contents, tf.maximum(length - len(_PNG_END), 0), len(_PNG_END))
    is_png = tf.logical_and(
        tf.equal(tf.strings.substr(contents, 0, len(_PNG_SIGNATURE)), _PNG_SIGNATURE),
        tf.equal(png_end, _PNG_END),
    )
    tail_start = tf.maximum(length - _JPEG_END_SEARCH_BYTES, 0)
    tail = tf.io.decode_raw(tf.strings.substr(contents, tail_start, length - tail_start), tf.uint8)
    has_jpeg_end = tf.reduce_any(
        tf.logical_and(tf.equal(tail[:-1], _JPEG_END[0]), tf.equal(tail[1:], _JPEG_END[1]))
    )
    return tf.logical_or(is_png, tf.logical_and(tf.io.is_jpeg(contents), has_jpeg_end))


def encoded_size(contents):
    """`(height, width)` of an encoded JPEG or PNG, int64, read from its header.

    Nothing is decoded: PNG's IHDR chunk, or libjpeg's reading of a JPEG's header
    (`tf.image.extract_jpeg_shape`, which raises `InvalidArgumentError` when that
    header is broken), the size as seen: height and width swapped for EXIF
    orientations 5-8. `(0, 0)` for other contents.
    """
    # The first bytes, padded with zeros: a PNG's signature and IHDR chunk.
    padded = tf.strings.join([tf.strings.substr(contents, 0, _PNG_IHDR_END), bytes(_PNG_IHDR_END)])
    head = tf.io.decode_raw(tf.strings.substr(padded, 0, _PNG_IHDR_END), tf.uint8)
    is_png = tf.reduce_all(
        tf.equal(
            tf.concat(
                [head[: len(_PNG_SIGNATURE)], head[_PNG_HEADER_OFFSET : _PNG_HEADER_OFFSET + 4]], 0
            ),
            list(_PNG_SIGNATURE + _PNG_HEADER),
        )
    )

    def png_size():
        # Width then height, big-endian, after the chunk type.
        values = tf.reshape(tf.cast(head[_PNG_HEADER_OFFSET + 4 :], tf.int64), [2, 4])
        return tf.reverse(tf.reduce_sum(values * [256**3, 256**2, 256, 1], axis=1), [0])

    def jpeg_size():
        size = tf.cast(tf.image.extract_jpeg_shape(contents)[:2], tf.int64)
        return tf.cond(_is_transposed(jpeg_orientation(contents)), lambda: size[::-1], lambda: size)

    return tf.case(
        [
            (is_png, png_size),
            (tf.io.is_jpeg(contents), jpeg_size),
        ],
        default=lambda: tf.zeros([2], tf.int64),
    )


def jpeg_orientation(contents):
    """The EXIF orientation of encoded `contents`, int32 in 1-8; 1 (upright) without one.

    Read from the first APP1 "Exif" segment: its TIFF header's byte order, then the
    orientation entry (tag 274) of its first IFD. Nothing is decoded.
    """
    padded = tf.strings.join([tf.strings.substr(contents, 0, _EXIF_SEARCH_BYTES), bytes(16)])
    head = tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64)
    last = tf.size(head, out_type=tf.int64) - 1
    pattern = [*_EXIF_MARKER, None, None, *_EXIF_IDENTIFIER]
    positions = tf.size(head, out_type=tf.int64) - len(pattern)
    matches = tf.ones([positions], tf.bool)
    for offset, byte in enumerate(pattern):
        if byte is not None:
            matches &= tf.equal(head[offset : offset + positions], byte)
    tiff = tf.argmax(tf.cast(matches, tf.int32), output_type=tf.int64) + len(pattern)
    little_endian = tf.equal(head[tiff], ord("I"))

    def number(start, size):
        """The unsigned integer of `size` bytes at `start`(s) past the TIFF header."""
        offsets = tf.range(size, dtype=tf.int64)
        places = tf.where(little_endian, offsets, size - 1 - offsets)
        indices = tf.clip_by_value(tiff + start[..., tf.newaxis] + offsets, 0, last)
        return tf.reduce_sum(tf.gather(head, indices) * 256**places, axis=-1)

    ifd = number(tf.constant(4, tf.int64), 4)
    entries = ifd + 2 + 12 * tf.range(_EXIF_MAX_IFD_ENTRIES, dtype=tf.int64)
    is_orientation = tf.logical_and(
        tf.equal(number(entries, 2), _EXIF_ORIENTATION_TAG),
        tf.range(_EXIF_MAX_IFD_ENTRIES, dtype=tf.int64) < number(ifd, 2),
    )
    value = number(entries + 8, 2)
    orientation = tf.reduce_max(tf.where(is_orientation, value, 0))
    is_known = tf.reduce_any(matches) & tf.io.is_jpeg(contents) & (orientation >= 1)
    return tf.cast(tf.where(is_known & (orientation <= 8), orientation, _UPRIGHT), tf.int32)


def apply_orientation(image, orientation):
    """`image` (height, width, channels) turned as its EXIF `orientation` says, upright."""
    image = tf.cond(
        _is_transposed(orientation), lambda: tf.transpose(image, [1, 0, 2]), lambda: image
    )
    for axis, orientations in ((0, _ROWS_FLIPPED_ORIENTATIONS), (1, _COLUMNS_FLIPPED_ORIENTATIONS)):
        flipped = tf.reduce_any(tf.equal(orientation, orientations))
        image = tf.cond(
            flipped,
            lambda image=image, axis=axis: tf.reverse(image, [axis]),
            lambda image=image: image,
        )
    return image


def _is_transposed(orientation):
    return tf.reduce_any(tf.equal(orientation, _TRANSPOSED_ORIENTATIONS))


def decode(image):
    """Decodes the whole of `image` to RGB `uint8`."""
    return decode_window(image, lambda height, width: (0, 0, height, width))


def resize_shorter_side(image, scale):
    """Resizes `image` so that its shorter side is `scale`, keeping the aspect ratio."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    size = tf.cast(tf.round(shape * (scale / tf.reduce_min(shape))), tf.int32)
    return _resize(image, size)


def augment(image, seed, augmentation):
    """The training transform of `augmentation` (a `keras_prelu.data.Augmentation`).

    `seed` is a shape-(2,) integer tensor: the same image and seed give the same
    output, so a seeded pipeline is reproducible whatever its parallelism.
    """
    scale_seed, crop_seed, flip_seed, colour_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=4)
    )
    crop_size = augmentation.crop_size
    min_scale, max_scale = augmentation.scale_range

    def random_window(height, width):
        # The crop of the image resized to shorter side s, in original pixels.
        scale = tf.random.stateless_uniform([], scale_seed, min_scale, max_scale)
        side = _window_side(height, width, crop_size, scale)
        free = tf.cast(tf.stack([height - side, width - side]), tf.float32)
        position = tf.random.stateless_uniform([2], crop_seed) * (free + 1.0)
        top, left = tf.unstack(tf.minimum(tf.cast(position, tf.int32), tf.cast(free, tf.int32)))
        return top, left, side, side

    crop = _resize(decode_window(image, random_window), [crop_size, crop_size])
    if augmentation.flip:
        flipped = tf.random.stateless_uniform([], flip_seed) < 0.5
        crop = tf.cond(flipped, lambda: tf.reverse(crop, axis=[1]), lambda: crop)
    if augmentation.pca_std > 0:
        crop += pca_colour_noise(colour_seed, augmentation)
    return crop - augmentation.mean


def pca_colour_noise(seed, augmentation):
    """AlexNet's colour altering: `sum_i alpha_i * lambda_i * p_i`, `alpha_i ~ N(0, std)`.

    The eigenvalues are for pixels in [0, 1]; the offset returned is in [0, 255] units.
    """
    alpha = tf.random.stateless_normal([3], seed, stddev=augmentation.pca_std)
    return tf.linalg.matvec(
        augmentation.pca_eigenvectors, alpha * augmentation.pca_eigenvalues * 255.0
    )


def center_view(image, scale, crop_size, mean):
    """The centre `crop_size` crop of `image` resized to shorter side `scale`, minus `mean`."""

    def center_window(height, width):
        side = _window_side(height, width, crop_size, scale)
        return (height - side) // 2, (width - side) // 2, side, side

    return _resize(decode_window(image, center_window), [crop_size, crop_size]) - mean


def ten_views(image, scale, crop_size, mean):
    """The paper's 10 views (Sec. 3) of `image` at shorter side `scale`.

    Shape (10, crop_size, crop_size, 3): the top-left, top-right, bottom-left,
    bottom-right and centre crops, then the horizontal flips of the same five.
    """
    resized = resize_shorter_side(decode(image), scale)
    height, width = tf.unstack(tf.shape(resized)[:2])
    bottom, right = height - crop_size, width - crop_size
    corners = [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]
    crops = tf.stack(
        [resized[top : top + crop_size, left : left + crop_size] for top, left in corners]
    )
    return tf.concat([crops, tf.reverse(crops, axis=[2])], axis=0) - mean


def full_view(image, scale, mean):
    """The whole `image` resized to shorter side `scale`, minus a per-channel `mean`."""
    return resize_shorter_side(decode(image), scale) - mean


def _window_side(height, width, crop_size, scale):
    """Side, in original pixels, of a `crop_size` crop of the image at shorter side `scale`."""
    shorter = tf.minimum(height, width)
    side = tf.cast(tf.round(crop_size * tf.cast(shorter, tf.float32) / scale), tf.int32)
    return tf.clip_by_value(side, 1, shorter)


def _crop(image, window_fn):
    shape = tf.shape(image)
    top, left, rows, cols = window_fn(shape[0], shape[1])
    return image[top : top + rows, left : left + cols]


def _resize(image, size):
    """Bilinear resizing, antialiased when it shrinks (as PIL does); float32 out.

    When enlarging, the antialiasing kernel is plain bilinear interpolation, so the
    faster `ResizeBilinear` kernel gives the same pixels.
    """
    shrinks = tf.reduce_any(tf.shape(image)[:2] > size)
    return tf.cond(
        shrinks,
        lambda: tf.image.resize(image, size, antialias=True),
        lambda: tf.image.resize(image, size),
    )


def _to_rgb(image):
    if image.shape.rank == 2:
        image = image[..., tf.newaxis]
    channels = image.shape[-1]
    if channels == 1:
        return tf.image.grayscale_to_rgb(image)
    if channels == 4:
        return image[..., :3]
    return image

"""Top-1 / top-5 error of a model or an ensemble, tested the paper's ways (Sec. 3-4)."""

import dataclasses
import functools
import logging

import keras
import numpy as np

from keras_prelu import paper
from keras_prelu.errors import InvalidValueError
from keras_prelu.evaluation.dense import DEFAULT_MAX_WINDOWS
from keras_prelu.evaluation.dense import DenseScorer
from keras_prelu.evaluation.trained import load_trained
from keras_prelu.evaluation.trained import with_probabilities
from keras_prelu.saving import atomic
from keras_prelu.zoo import ANY_SIZE
from keras_prelu.zoo import with_input_shape

__all__ = [
    "VIEWS",
    "EvaluationResult",
    "dense_scales",
    "evaluate",
    "results_table",
    "top_k_error",
    "write_results",
]

logger = logging.getLogger(__name__)

VIEWS = paper.TEST_VIEWS
_VIEW_NAMES = {"center": "centre", "ten": "10-view", "dense": "dense"}
_VIEW_NAMES_WITHOUT_FLIPS = {"center": "centre", "ten": "5-view", "dense": "dense, no flips"}


def top_k_error(scores, labels, k):
    """The fraction of rows of `scores` whose label is not among the `k` highest.

    A label tied with the k-th highest score counts as in the top k (as
    `tf.math.in_top_k`): the error is `mean(#{scores > score of the label} >= k)`.
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise InvalidValueError(
            "`scores` must be (examples, classes) and `labels` (examples,). Received: "
            f"scores.shape={scores.shape}, labels.shape={labels.shape}"
        )
    if not len(labels):
        raise InvalidValueError("No examples to measure the error on.")
    broken = int((~np.isfinite(scores)).any(axis=1).sum())
    if broken:
        raise InvalidValueError(
            f"`scores` must be finite: {broken} of {len(scores)} rows hold NaN or infinite "
            "values (a model whose training diverged?)."
        )
    label_scores = scores[np.arange(len(labels)), labels]
    higher = (scores > label_scores[:, None]).sum(axis=1)
    return float(np.mean(higher >= k))


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """The error of one model or ensemble under one way of testing.

    Attributes:
        model: the model's name, or the ensemble's names joined by "+".
        views: "center", "ten" or "dense".
        scales: the shorter sides tested (their scores averaged).
        top1_error, top5_error: fractions in [0, 1].
        num_images: images in the split, each counted once.
        split, data: what was tested.
        flip: whether the views included horizontal flips.
        scores: `(num_images, classes)` averaged scores (not written to JSON).
        labels: `(num_images,)` labels (not written to JSON).
    """

    model: str
    views: str
    scales: tuple
    top1_error: float
    top5_error: float
    num_images: int
    split: str
    data: str
    flip: bool = True
    scores: np.ndarray = dataclasses.field(repr=False, compare=False, default=None)
    labels: np.ndarray = dataclasses.field(repr=False, compare=False, default=None)

    def to_dict(self):
        """The result without the per-image arrays, for JSON."""
        return {
            "model": self.model,
            "views": self.views,
            "scales": list(self.scales),
            "top1_error": self.top1_error,
            "top5_error": self.top5_error,
            "num_images": self.num_images,
            "split": self.split,
            "data": self.data,
            "flip": self.flip,
        }


def results_table(results):
    """The results as a table like the paper's Tables 5-7 (errors in %)."""
    rows = [("model", "views", "scales", "top-1 error %", "top-5 error %", "images")]
    for result in results:
        rows.append(
            (
                result.model,
                (_VIEW_NAMES if result.flip else _VIEW_NAMES_WITHOUT_FLIPS)[result.views],
                ",".join(str(s) for s in result.scales),
                f"{100 * result.top1_error:.2f}",
                f"{100 * result.top5_error:.2f}",
                str(result.num_images),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(width) if i < 3 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def write_results(results, path):
    """Writes `[result.to_dict(), ...]` to `path` as JSON, atomically."""
    atomic.write_json(path, [result.to_dict() for result in results])


def evaluate(
    models,
    data=None,
    *,
    split="validation",
    views="center",
    scales=None,
    crop_size=None,
    mean=None,
    batch_size=32,
    window=None,
    max_windows=DEFAULT_MAX_WINDOWS,
    data_dir=None,
    flip=None,
    verbose=0,
):
    """Top-1 and top-5 error of a model, or an ensemble, over a whole split.

    Every image of the split is scored once per model and scale, and counted
    once. The ways of testing of the paper (Sec. 3, Sec. 4):

    - "center": the centre crop of the image resized to shorter side `scale`;
    - "ten": the 4 corner crops and the centre crop and their flips, scores
      averaged (5 views without flips);
    - "dense": the conv layers run once on the whole image resized to shorter
      side `scale` and once on its flip (if `flip`); every window of the last
      conv map of the size the training crop gives (14x14 for models A, B, C
      at 224) is pooled by SPP and scored by the fc layers (`DenseScorer`),
      all windows' scores averaged.

    Scores (softmax probabilities: a model that outputs logits gets a softmax) are
    averaged over `scales` with equal weights, then over the models of an
    ensemble (the paper's multi-model results).

    Args:
        models: a model, a `.keras` file, a run folder of
            `keras_prelu.training.fit`, or a list of these (an ensemble).
        data: a source name for `keras_prelu.data.get_source`, or a `Source`;
            defaults to the run's data (and `data_dir`), else the bundled
            `DEFAULT_SOURCE`; required for a run on data given as a `Source`. Its
            number of classes must be the models'.
        split: the split to test.
        views: "center", "ten" or "dense".
        scales: the shorter sides, averaged. Default: the smallest training scale
            for "center" and "ten" (256 for the paper); for "dense", the paper's
            scales in proportion to the training scales (`dense_scales`),
            {224, 256, 384, 480, 640} for the paper's. The training scales are
            the run's, else the source's when its crop is the model's, else the
            paper's in proportion to the crop.
        crop_size: the crop side (and the training crop that sets the dense
            window); default: the run's, the model's fixed input size, or the
            source's.
        mean: the mean subtracted; default: the run's `mean.json`, else the
            source's. A per-pixel mean is reduced to per channel for "dense".
        batch_size: images per batch for "center" and "ten" (dense: 1).
        window: the dense window `(height, width)` on the feature map, instead of
            the one derived from the crop.
        max_windows: dense windows scored by the fc layers at once.
        data_dir: tensorflow-datasets' data folder.
        flip: whether "ten" and "dense" add horizontally flipped views, as the
            paper does for models trained on flipped images. Default: True
            unless every model's run trained without flips (the bundled
            digits): a model never shown a mirrored digit only loses on one.
        verbose: 0 silent, 1 a progress bar per model and scale, 2 a line at the
            end of each (Keras' `Progbar`).

    Returns:
        An `EvaluationResult`.
    """
    if views not in VIEWS:
        raise InvalidValueError(f"`views` must be one of {VIEWS}. Received: views={views!r}")
    if flip is not None and not isinstance(flip, bool):
        raise InvalidValueError(f"`flip` must be True, False or None. Received: flip={flip!r}")
    specs = list(models) if isinstance(models, (list, tuple)) else [models]
    if not specs:
        raise InvalidValueError("`models` must name at least one model.")
    # TensorFlow's data pipeline, imported here: loading and exporting need no TensorFlow.
    from keras_prelu import data as data_lib

    trained = [load_trained(spec) for spec in specs]
    if data is None:
        if trained[0].data_given:
            raise InvalidValueError(
                f"Argument `data` is required for {trained[0].name!r}: it was trained on "
                f"{trained[0].data!r}, a source given as arrays or a dataset, which its "
                "run folder cannot rebuild. Pass that source again as `data`."
            )
        data = trained[0].data or data_lib.DEFAULT_SOURCE
        data_dir = data_dir or trained[0].data_dir
    source = data_lib.get_source(data, data_dir=data_dir)
    for member in trained:
        classes = member.model.output_shape[-1]
        if classes != source.num_classes:
            raise InvalidValueError(
                f"Argument `data` ({data}) has {source.num_classes} classes, but model "
                f"{member.name!r} scores {classes}: test a model on data with its classes "
                f"(the run's data is {member.data or 'not recorded'})."
            )
    defaults = source.default_augmentation()
    if flip is None:
        flip = any(member.flip for member in trained)

    total_scores, labels, used_scales = 0.0, None, None
    for member in trained:
        crop = crop_size or member.crop_size or defaults.crop_size
        member_scales = _scales(
            scales,
            views,
            member.scale or defaults.scale_range[0],
            _scale_range(member, defaults, crop),
            crop,
        )
        member_mean = mean if mean is not None else member.mean
        scores, member_labels = _model_scores(
            member,
            source,
            split,
            views,
            member_scales,
            crop,
            member_mean,
            batch_size,
            window,
            max_windows,
            flip,
            verbose,
        )
        if labels is not None and not np.array_equal(labels, member_labels):
            raise InvalidValueError(
                "The models of the ensemble saw the images in different orders."
            )
        labels, used_scales = member_labels, member_scales
        total_scores = total_scores + scores
        logger.info(
            "%s, %s, scales %s: top-1 error %.2f%%",
            member.name,
            views,
            member_scales,
            100 * top_k_error(scores, labels, 1),
        )
    scores = total_scores / len(trained)
    return EvaluationResult(
        model="+".join(member.name for member in trained),
        views=views,
        scales=tuple(used_scales),
        top1_error=top_k_error(scores, labels, 1),
        top5_error=top_k_error(scores, labels, 5),
        num_images=len(labels),
        split=split,
        data=str(data),
        flip=bool(flip),
        scores=scores,
        labels=labels,
    )


def dense_scales(scale_range, crop_size):
    """The paper's dense testing scales in proportion to a run's training scales.

    The paper trains at shorter sides `s ~ U[256, 512]` and tests densely at
    {224, 256, 384, 480, 640} (Sec. 4, Table 6): at `t = (s - 256) / 256` =
    {-0.125, 0, 0.5, 0.875, 1.5} of its training range. A run trained at
    `[low, high]` is tested at `round(low + t * (high - low))`, each scale
    once, those below the crop left out: the paper's own range and 224 crop
    give its five scales; the bundled digits' [32, 40] with 32x32 crops give
    (32, 36, 39, 44).
    """
    low, high = scale_range
    paper_low, paper_high = paper.SCALE_RANGE
    positions = [(s - paper_low) / (paper_high - paper_low) for s in paper.DENSE_SCALES]
    scales = (round(low + t * (high - low)) for t in positions)
    return tuple(dict.fromkeys(s for s in scales if s >= crop_size))


def _scales(scales, views, single_scale, scale_range, crop):
    if scales is None:
        if views == "dense":
            return dense_scales(scale_range, crop)
        return (single_scale,)
    scales = (scales,) if isinstance(scales, int) else tuple(scales)
    if not scales or not all(isinstance(s, int) and s >= crop for s in scales):
        raise InvalidValueError(
            f"`scales` must be shorter sides (ints) of at least the crop size {crop}. "
            f"Received: scales={scales!r}"
        )
    return scales


def _scale_range(member, defaults, crop):
    """The training scales of a model: its run's, else the source's if they fit
    its crop, else the paper's in proportion to the crop."""
    if member.scale_range is not None:
        return member.scale_range
    if defaults.crop_size == crop:
        return defaults.scale_range
    return tuple(round(s * crop / paper.CROP_SIZE) for s in paper.SCALE_RANGE)


def _model_scores(
    member, source, split, views, scales, crop, mean, batch_size, window, max_windows, flip, verbose
):
    """`(scores, labels)` of one model, scores averaged over `scales`."""
    from keras_prelu import data as data_lib

    if views == "dense":
        scorer = DenseScorer(
            with_probabilities(with_input_shape(member.model, ANY_SIZE)),
            crop_size=crop,
            window=window,
            max_windows=max_windows,
        )
        predict = functools.partial(scorer, flip=flip)
        batch_size = 1
    else:
        model = member.model
        if tuple(model.input.shape[1:3]) not in ((crop, crop), (None, None)):
            model = with_input_shape(model, ANY_SIZE)
        predict = with_probabilities(model).predict_on_batch
    data_views = {"center": "center", "ten": "ten", "dense": "full"}[views]
    total, labels = 0.0, None
    for scale in scales:
        dataset = data_lib.evaluation_dataset(
            source,
            batch_size,
            split=split,
            views=data_views,
            scale=scale,
            crop_size=crop,
            mean=mean,
        )
        batches, scale_labels = [], []
        steps = int(dataset.cardinality())
        progress = keras.utils.Progbar(
            steps if steps >= 0 else None, verbose=verbose, unit_name="batch"
        )
        if verbose:
            print(f"{member.name}, {views}, scale {scale}:", flush=True)
        # NumPy batches: every backend's predict takes them (JAX's no TF tensors).
        for images, batch_labels in dataset.as_numpy_iterator():
            if views == "ten":
                # Views 5-9 are the flips of views 0-4 (`transforms.ten_views`).
                images = images[:, : 10 if flip else 5]
                per_view = np.asarray(predict(images.reshape(-1, *images.shape[2:])))
                batches.append(per_view.reshape(len(images), -1, per_view.shape[-1]).mean(1))
            else:
                batches.append(np.asarray(predict(images)))
            scale_labels.append(batch_labels)
            progress.add(1)
        scale_labels = np.concatenate(scale_labels)
        if labels is not None and not np.array_equal(labels, scale_labels):
            raise InvalidValueError(f"Scale {scale} read the images in another order.")
        labels = scale_labels
        total = total + np.concatenate(batches).astype(np.float64)
    broken = int((~np.isfinite(total)).any(axis=1).sum())
    if broken:
        raise InvalidValueError(
            f"Argument `model` ({member.name!r}) gives NaN or infinite scores for {broken} of "
            f"{len(total)} images: its weights are broken (a training that diverged?)."
        )
    return total / len(scales), labels

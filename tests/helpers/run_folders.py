"""Run folders for the tests, read and written through `keras_prelu.saving.run_folder` only."""

import numpy as np

from keras_prelu.saving import run_folder


def write_run_folder(
    path,
    model,
    *,
    mean=(0.0, 0.0, 0.0),
    data="digits",
    scale_range=(32, 40),
    crop_size=32,
    flip=False,
):
    """The run folder `fit` would leave for `model` (a finished run), at `path`."""
    folder = run_folder.RunFolder(path)
    mean = np.asarray(mean, dtype=np.float32)
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.write_run(
        run_folder.RunRecord(
            model="model_14",
            model_kwargs={},
            data=data,
            data_dir=None,
            class_names=[str(index) for index in range(model.output_shape[-1])],
            scale_range=scale_range,
            crop_size=crop_size,
            flip=flip,
            pca_std=0.0,
            mean_rgb=mean.reshape(-1, 3).mean(axis=0),
            mean_kind="given",
            evaluation_scale=scale_range[0],
            version="test",
        )
    )
    folder.write_mean(mean)
    folder.save_model(model)
    folder.write_evaluation({"loss": 1.0, "top1_error": 0.5, "top5_error": 0.1})
    return folder.path


def epochs_completed(run_dir):
    """The epochs the checkpoint of `run_dir` holds (0 without a checkpoint)."""
    state = run_folder.RunFolder(run_dir).checkpoint.read_state(verify_weights=False)
    return 0 if state is None else state["epochs_completed"]


def log_epochs(run_dir):
    """The epoch numbers of the rows of `log.csv`."""
    return [row["epoch"] for row in run_folder.RunFolder(run_dir).read_log()]

import math

import keras

from keras_prelu.errors import InvalidValueError
from keras_prelu.paper import INITIAL_SLOPE

__all__ = ["PReLUHeNormal"]

FAN_MODES = ("fan_in", "fan_out")


@keras.saving.register_keras_serializable(package="keras_prelu")
class PReLUHeNormal(keras.initializers.VarianceScaling):
    """He et al.'s rectifier-aware initialization, with the PReLU slope term.

    Draws from a zero-mean Gaussian (plain, not truncated) with

    ```
    std = sqrt(2 / ((1 + a^2) * n))
    ```

    where `a` is the initial slope of the rectifier that follows the layer and
    `n` is the fan-in `k * k * c` (Eqn. 12, the forward case) or the fan-out
    `k * k * d` (Eqn. 16, the backward case, which the paper trains with). This
    keeps `1/2 * (1 + a^2) * n * Var[w] = 1`, so the variance of the responses
    (forward) or of the gradients (backward) stays constant with depth.
    `slope=0` is the ReLU case (`torch.nn.init.kaiming_normal_`, Caffe's
    `MSRAFiller`) and `slope=1` the linear case of Glorot and Bengio.

    Unlike `keras.initializers.HeNormal`, the Gaussian is not truncated, as
    in the paper.

    Args:
        slope: the rectifier's negative slope `a` at initialization. Defaults
            to 0.25, the paper's initial PReLU slope; use 0 for ReLU.
        mode: `"fan_out"` (Eqn. 16, default) or `"fan_in"` (Eqn. 12).
        seed: a Python int or a `keras.random.SeedGenerator`, as for Keras'
            own initializers.

    Raises:
        ValueError: `slope` is not a finite real number, or `mode` is not
            `"fan_in"` or `"fan_out"`.

    Examples:
        >>> import keras
        >>> from keras_prelu import PReLUHeNormal
        >>> init = PReLUHeNormal(slope=0.25, mode="fan_in", seed=1)
        >>> kernel = init((3, 3, 64, 128))  # n = 3 * 3 * 64 inputs per response
        >>> round(float(keras.ops.std(kernel)), 3)  # sqrt(2 / ((1 + 0.25**2) * 576))
        0.057

    Reference:
        K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers", ICCV
        2015, Sec. 2.2, arXiv:1502.01852.
    """

    def __init__(self, slope=INITIAL_SLOPE, mode="fan_out", seed=None):
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise InvalidValueError(
                f"Argument `slope` must be a real number. Received: slope={slope!r}"
            )
        if not math.isfinite(slope):
            raise InvalidValueError(f"Argument `slope` must be finite. Received: slope={slope!r}")
        if mode not in FAN_MODES:
            raise InvalidValueError(
                f"Argument `mode` must be one of {FAN_MODES}. Received: mode={mode!r}"
            )
        self.slope = float(slope)
        super().__init__(
            scale=2.0 / (1.0 + self.slope**2),
            mode=mode,
            distribution="untruncated_normal",
            seed=seed,
        )

    def get_config(self):
        seed = super().get_config()["seed"]
        return {"slope": self.slope, "mode": self.mode, "seed": seed}

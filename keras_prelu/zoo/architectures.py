"""The paper's architectures as data: Table 1, Table 3 and Sec. 2.2.

Each architecture is a list of stages. A stage is `depth` convolutions with the
same kernel size and width, every one followed by the activation, then an
optional max pooling. The first convolution of a stage may be strided. After the
last stage come either spatial pyramid pooling (models A, B, C and the 14-layer
model) or VGG's flattening, then the fc layers.
"""

import dataclasses

from keras_prelu.paper import FC_UNITS
from keras_prelu.paper import LARGE_MODEL_LEVELS
from keras_prelu.paper import SMALL_MODEL_LEVELS

__all__ = ["ACTIVATIONS", "ARCHITECTURES", "Architecture", "Stage", "conv_name"]

# The rectifiers a model can be built with: PReLU channel-wise and channel-shared
# (Sec. 2.1), ReLU and the leaky ReLU of Maas et al. (Table 2).
ACTIVATIONS = ("prelu", "prelu_shared", "relu", "leaky_relu")


@dataclasses.dataclass(frozen=True)
class Stage:
    """`depth` convolutions `kernel_size x kernel_size, filters`, then a pool.

    `strides` and `padding` apply to the first convolution of the stage; the
    others are stride 1, "same". `pool` is `(pool_size, pool_strides)` or None.
    """

    kernel_size: int
    filters: int
    depth: int = 1
    strides: int = 1
    padding: str = "same"
    pool: tuple = None


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A model of the paper: its stages, head and where it comes from."""

    name: str
    stages: tuple
    spp_levels: tuple = None  # None: VGG's pool + flatten, fixed input size.
    reference: str = ""

    @property
    def depth(self):
        """Weight layers: convolutions plus the three fc layers."""
        return sum(stage.depth for stage in self.stages) + len(FC_UNITS) + 1

    def output_side(self, side):
        """The side of the last feature map for an input of side `side` (0: none left)."""
        for stage in self.stages:
            # The first convolution may be strided or unpadded; the others keep the size.
            if stage.padding == "valid":
                side = max(0, (side - stage.kernel_size) // stage.strides + 1)
            else:
                side = (side + stage.strides - 1) // stage.strides
            if stage.pool is not None:
                pool_size, pool_strides = stage.pool
                side = max(0, (side - pool_size) // pool_strides + 1)
        return side

    @property
    def min_input_size(self):
        """The smallest input side that leaves a feature map: 17 for the 14-layer model."""
        side = 1
        while self.output_side(side) < 1:
            side += 1
        return side


_POOL_2 = (2, 2)

# Table 1: the 14-layer model ("model E" of arXiv:1412.1710). conv1 is
# unpadded and pool1 is 3x3 /3, so that a 224x224 image gives 36x36 maps in
# stage 2 and 18x18 in stage 3, as that paper states; SPP {6, 3, 2, 1}.
_MODEL_14_STEM = Stage(7, 64, strides=2, padding="valid", pool=(3, 3))
_MODEL_14_STAGE_2 = Stage(2, 128, depth=4, pool=_POOL_2)

# Table 3, models A, B and C: conv1 7x7, 96, /2 and a 2x2 /2 pool, then three
# stages of 3x3 convolutions at 56, 28 and 14 pixels: (model, the stages'
# widths, convolutions per stage).
_TABLE_3_MODELS = (
    ("a", (256, 512, 512), 5),
    ("b", (256, 512, 512), 6),
    ("c", (384, 768, 896), 6),
)


def _table_3_stages(widths, depth):
    first, second, third = widths
    return (
        Stage(7, 96, strides=2, pool=_POOL_2),
        Stage(3, first, depth=depth, pool=_POOL_2),
        Stage(3, second, depth=depth, pool=_POOL_2),
        Stage(3, third, depth=depth),
    )


def conv_name(stage_index, stage, layer_index):
    """`conv{s}` for a one-layer stage, else `conv{s}_{i}` (1-based)."""
    if stage.depth == 1:
        return f"conv{stage_index}"
    return f"conv{stage_index}_{layer_index}"


ARCHITECTURES = {
    arch.name: arch
    for arch in (
        Architecture(
            "model_14",
            (_MODEL_14_STEM, _MODEL_14_STAGE_2, Stage(2, 256, depth=6)),
            spp_levels=SMALL_MODEL_LEVELS,
            reference="Table 1: the 14-layer model of Table 2's study",
        ),
        Architecture(
            "model_30",
            (_MODEL_14_STEM, _MODEL_14_STAGE_2, Stage(2, 256, depth=22)),
            spp_levels=SMALL_MODEL_LEVELS,
            reference=(
                "Sec. 2.2 / Fig. 3: the 14-layer model plus sixteen "
                "conv 2x2, 256 layers (27 conv + 3 fc)"
            ),
        ),
        # Table 3. Every conv is "same"-padded, stride 1, unless marked.
        Architecture(
            "vgg19",
            (
                Stage(3, 64, depth=2, pool=_POOL_2),
                Stage(3, 128, depth=2, pool=_POOL_2),
                Stage(3, 256, depth=4, pool=_POOL_2),
                Stage(3, 512, depth=4, pool=_POOL_2),
                Stage(3, 512, depth=4, pool=_POOL_2),
            ),
            reference="Table 3: VGG-19, the paper's baseline",
        ),
        *(
            Architecture(
                f"model_{letter}",
                _table_3_stages(widths, depth),
                spp_levels=LARGE_MODEL_LEVELS,
                reference=f"Table 3: model {letter.upper()}",
            )
            for letter, widths, depth in _TABLE_3_MODELS
        ),
    )
}

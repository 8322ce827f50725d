"""The numbers of the paper, each written once, named, beside its reference.

K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers: Surpassing
Human-Level Performance on ImageNet Classification", ICCV 2015
(arXiv:1502.01852); the pyramid levels and the 14-layer model's head come from
SPP-net (arXiv:1406.4729) and arXiv:1412.1710, as the paper uses them.

Every module that needs one of these numbers imports it from here, so that the
code and `PAPER.md` cannot drift apart.
"""

__all__ = [
    "BATCH_SIZE",
    "CROP_SIZE",
    "DENSE_SCALES",
    "DENSE_WINDOW",
    "DROPOUT_RATE",
    "EPOCHS",
    "FC_STDDEVS",
    "FC_UNITS",
    "INITIAL_SLOPE",
    "LARGE_MODEL_LEVELS",
    "LEAKY_SLOPE",
    "LEARNING_RATE",
    "LEARNING_RATE_FACTOR",
    "MIN_LEARNING_RATE",
    "MOMENTUM",
    "PCA_STD",
    "SCALE_RANGE",
    "SMALL_MODEL_LEVELS",
    "TABLE_1",
    "TABLE_2",
    "TABLE_3_COMPLEXITY",
    "TABLE_5",
    "TABLE_6",
    "TEN_VIEW_SCALE",
    "TEST_VIEWS",
    "WEIGHT_DECAY",
]

# === PReLU (Sec. 2.1) ===

# "We use a_i = 0.25 as the initialization" (Sec. 2.1).
INITIAL_SLOPE = 0.25
# Table 2's fixed-slope control: LReLU with a = 0.25.
LEAKY_SLOPE = 0.25

# === Spatial pyramid pooling (Table 1, Table 3) ===

# Models A, B and C: a {7, 3, 2, 1} pyramid, 63 bins (Table 3).
LARGE_MODEL_LEVELS = (7, 3, 2, 1)
# The 14-layer model: a {6, 3, 2, 1} pyramid, 50 bins (Table 1).
SMALL_MODEL_LEVELS = (6, 3, 2, 1)

# === Architectures (Table 1, Table 3, Sec. 2.2) ===

# fc1 and fc2 have 4096 units in every model (Table 1, Table 3).
FC_UNITS = (4096, 4096)
# Gaussian stds of fc1, fc2 and fc3 of the large models (Sec. 2.2).
FC_STDDEVS = (0.01, 0.01, 0.001)
# Dropout after fc1 and fc2 (Sec. 3).
DROPOUT_RATE = 0.5

# === Training (Sec. 3) ===

# The learning rate starts at 1e-2 and is divided by 10 when the error
# plateaus, down to 1e-4 (Sec. 3; Fig. 4 switches model A at epochs 20 and 65).
LEARNING_RATE = 1e-2
LEARNING_RATE_FACTOR = 0.1
MIN_LEARNING_RATE = 1e-4
MOMENTUM = 0.9
# Caffe's L2 weight decay, added to the gradient before the momentum (Sec. 3).
WEIGHT_DECAY = 0.0005
# One mini-batch of 128, split across the GPUs (Sec. 3).
BATCH_SIZE = 128
# "About 80 epochs" (Sec. 3).
EPOCHS = 80
# Scale jitter: shorter side s ~ U[256, 512], then a random 224x224 crop (Sec. 3).
SCALE_RANGE = (256, 512)
CROP_SIZE = 224
# AlexNet's colour altering: alpha_i ~ N(0, 0.1) (Sec. 3).
PCA_STD = 0.1

# === Testing (Sec. 3, Sec. 4) ===

# 10-view testing crops the image resized to shorter side 256 (Sec. 3).
TEN_VIEW_SCALE = 256
# Dense testing averages these scales with equal weights (Sec. 4, Table 6).
DENSE_SCALES = (224, 256, 384, 480, 640)
# The window of dense testing on the last conv map of models A, B, C (Sec. 4).
DENSE_WINDOW = 14
# The ways of testing: a centre crop, 10 views (Sec. 3), dense multi-scale (Sec. 4).
TEST_VIEWS = ("center", "ten", "dense")

# === Results to compare with ===

# Table 1: learned slopes of the 14-layer model, `{layer: (channel-shared,
# channel-wise mean)}`.
TABLE_1 = {
    "conv1": (0.681, 0.596),
    "fc1": (0.063, 0.074),
    "fc2": (0.031, 0.075),
}
# Table 2: top-1 / top-5 error (%) of the 14-layer model on ImageNet, 10-view,
# 75 epochs, by activation.
TABLE_2 = {
    "relu": (33.82, 13.34),
    "leaky_relu": (33.80, 13.56),
    "prelu_shared": (32.71, 12.87),
    "prelu": (32.64, 12.75),
}
# Table 5 (10-view) and Table 6 (dense multi-scale): top-1 / top-5 error (%).
TABLE_5 = {
    "model_a/relu": (26.48, 8.59),
    "model_a/prelu": (25.59, 8.23),
    "model_b/prelu": (25.53, 8.13),
    "model_c/prelu": (24.27, 7.38),
}
TABLE_6 = {
    "model_a/relu": (24.02, 6.51),
    "model_a/prelu": (22.97, 6.28),
    "model_b/prelu": (22.85, 6.27),
    "model_c/prelu": (21.59, 5.71),
}
# Table 3: complexity of each model per 224x224 image, in units of 1e10.
TABLE_3_COMPLEXITY = {"vgg19": 1.96, "model_a": 1.90, "model_b": 2.32, "model_c": 5.30}

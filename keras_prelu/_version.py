"""keras-prelu's version, in the one place that the package, the build and the
command's first stage read it from."""

__version__ = "0.1.0"

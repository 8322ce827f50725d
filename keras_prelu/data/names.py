"""The names of the built-in sources, in a module that imports neither TensorFlow nor
Keras: the command's first stage reads them for `--help`."""

__all__ = ["DEFAULT_SOURCE", "DIGITS", "FASHION_MNIST"]

# The bundled 8x8 handwritten digits (see `DigitsSource`): offline, small and real.
DIGITS = "digits"
# The source used when none is named.
DEFAULT_SOURCE = DIGITS
# Fashion-MNIST by its tensorflow-datasets name.
FASHION_MNIST = "fashion_mnist"

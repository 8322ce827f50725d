"""The parallel setup of a run: its devices, its processes, the scope of its model.

One `Parallel` is made per run from `Recipe.strategy`. It hides which
backend's machinery spreads the run: a `tf.distribute` strategy on
TensorFlow (`keras_prelu.training.strategy`), `keras.distribution` over the
devices of one or several processes on JAX
(`keras_prelu.training.distribution`).
"""

import contextlib

import keras

from keras_prelu.errors import InvalidValueError
from keras_prelu.training import distribution as distribution_lib
from keras_prelu.training.strategy import get_strategy

__all__ = ["Parallel"]


class Parallel:
    """How a run is spread over devices and processes.

    As in the paper (Sec. 3), the global mini-batch is split evenly among
    the replicas, whatever their number; with several processes, each feeds
    its share of every global batch.

    Args:
        strategy: `Recipe.strategy`: "auto", "mirrored" or "none" (see
            `get_strategy` and `distribution.get_distribution`).

    Attributes:
        strategy: the `tf.distribute.Strategy` (the default one on JAX).
        distribution: the `keras.distribution.DataParallel`, or None (one
            device, or a backend other than JAX).
        num_replicas: the devices that share each global batch.
        process_id: this process's index; process 0 writes the run's files.
        num_processes: the processes of the run.
    """

    def __init__(self, strategy="auto"):
        self.process_id, self.num_processes = distribution_lib.process_position()
        if keras.backend.backend() == "jax":
            import tensorflow as tf

            self.strategy = tf.distribute.get_strategy()
            self.distribution = distribution_lib.get_distribution(strategy)
        else:
            self.strategy = get_strategy(strategy)
            self.distribution = None
        self.num_replicas = (
            self.strategy.num_replicas_in_sync
            if self.distribution is None
            else distribution_lib.num_replicas(self.distribution)
        )

    @property
    def writes(self):
        """Whether this process writes the run's files (process 0)."""
        return self.process_id == 0

    @property
    def pads_evaluation(self):
        """Whether evaluation batches must be full: several devices share each."""
        return self.distribution is not None

    def per_replica_batch_size(self, batch_size):
        """`batch_size / num_replicas`; raises unless the replicas share it evenly.

        The replicas are those of all the processes, so that each process
        also reads the same number of rows, `process_batch_size`.
        """
        if batch_size % self.num_replicas:
            processes = f" in {self.num_processes} processes" if self.num_processes > 1 else ""
            raise InvalidValueError(
                f"Recipe field `batch_size` ({batch_size}, the global batch) must be "
                f"divisible by the {self.num_replicas} replicas of the strategy{processes}, "
                f"so that each replica gets the same share; choose a multiple of "
                f"{self.num_replicas}."
            )
        return batch_size // self.num_replicas

    def process_batch_size(self, batch_size):
        """The rows of each global batch that this process reads."""
        return batch_size // self.num_processes

    @contextlib.contextmanager
    def build_scope(self):
        """The scope to create the model, its optimizer and metrics in: the
        strategy's, and the distribution's where there is one."""
        with self.strategy.scope(), self.training_scope():
            yield

    def training_scope(self):
        """The scope of `model.fit` and `model.evaluate`: the distribution's, if any."""
        if self.distribution is None:
            return contextlib.nullcontext()
        return self.distribution.scope()

    def broadcast(self, value):
        """Process 0's int `value` in every process."""
        return distribution_lib.broadcast_from_first_process(value)

    def check_same(self, value, what):
        """Raises unless every process has the same int `value` (`what` it is)."""
        distribution_lib.check_same_in_all_processes(value, what)

    def barrier(self, name):
        """Waits until every process reaches this point."""
        distribution_lib.barrier(name)

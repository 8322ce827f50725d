"""Data-parallel training on the JAX backend with `keras.distribution`.

One process with several devices, or several processes (machines), each with
its devices: the model is replicated on every device, each process feeds its
own share of the global batch, and the gradients are summed across all
devices by XLA collectives. This is Keras 3's own multi-host path; on the
TensorFlow backend `MultiWorkerMirroredStrategy` cannot run `model.fit` (see
`keras_prelu.training.strategy`).

Each process calls `training.initialize_processes("10.0.0.1:1234", num_processes=2,
process_id=i)` (the coordinator's address, the number of processes, its own id),
then `training.fit(...)` with the same arguments.
"""

import logging
import os

import keras
import numpy as np

from keras_prelu.errors import InvalidValueError

__all__ = [
    "DEFAULT_HEARTBEAT_TIMEOUT",
    "DEFAULT_INITIALIZATION_TIMEOUT",
    "barrier",
    "broadcast_from_first_process",
    "check_same_in_all_processes",
    "get_distribution",
    "initialize_processes",
    "num_replicas",
    "process_position",
    "wants_processes",
]

logger = logging.getLogger(__name__)

# The variables that `keras.distribution.initialize` reads itself (Keras
# 3.15): the coordinator's address (or all the addresses, comma-separated:
# the first one is the coordinator), the number of processes and this one's.
ENV_JOB_ADDRESSES = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
ENV_NUM_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"
# The coordinator variable that `jax.distributed.initialize` reads itself.
ENV_JAX_COORDINATOR = "JAX_COORDINATOR_ADDRESS"
# The schedulers whose variables `jax.distributed.initialize` reads when no
# address, count or id is given (jax._src.clusters): Slurm (`srun`: SLURM_JOB_ID,
# SLURM_NTASKS, SLURM_PROCID, SLURM_STEP_NODELIST...), Open MPI (`mpirun`:
# OMPI_MCA_orte_hnp_uri, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_RANK), Cloud TPU.
ENV_SLURM = "SLURM_JOB_ID"
ENV_OMPI = "OMPI_MCA_orte_hnp_uri"

# A process that has sent no heartbeat to the coordinator for this long is
# declared dead and every other process stops with an error, instead of
# waiting forever in a collective (JAX's default is 100 s).
DEFAULT_HEARTBEAT_TIMEOUT = 60
# How long the processes wait for each other when they start (JAX: 300 s).
DEFAULT_INITIALIZATION_TIMEOUT = 300


def process_settings(coordinator=None, num_processes=None, process_id=None):
    """The `(coordinator, num_processes, process_id)` to start processes with.

    Each argument left `None` is read from Keras' variables
    (`KERAS_DISTRIBUTION_JOB_ADDRESSES`, `..._NUM_PROCESSES`,
    `..._PROCESS_ID`, as `keras.distribution.initialize` does), the
    coordinator also from `JAX_COORDINATOR_ADDRESS`. What is still `None` is
    left to JAX's detection of the scheduler (Slurm, Open MPI, Cloud TPU).
    """
    if coordinator is None:
        addresses = os.environ.get(ENV_JOB_ADDRESSES) or os.environ.get(ENV_JAX_COORDINATOR)
        coordinator = addresses.split(",")[0] if addresses else None
    if num_processes is None and os.environ.get(ENV_NUM_PROCESSES):
        num_processes = _env_int(ENV_NUM_PROCESSES)
    if process_id is None and os.environ.get(ENV_PROCESS_ID):
        process_id = _env_int(ENV_PROCESS_ID)
    if num_processes is not None and (not isinstance(num_processes, int) or num_processes < 1):
        raise InvalidValueError(
            "Argument `num_processes` must be an int >= 1. "
            f"Received: num_processes={num_processes!r}"
        )
    if process_id is not None and (
        not isinstance(process_id, int)
        or process_id < 0
        or (num_processes is not None and process_id >= num_processes)
    ):
        raise InvalidValueError(
            f"Argument `process_id` must be an int in [0, num_processes="
            f"{num_processes}). Received: process_id={process_id!r}"
        )
    if coordinator is not None and (not isinstance(coordinator, str) or ":" not in coordinator):
        raise InvalidValueError(
            "Argument `coordinator` must be 'HOST:PORT', the address of "
            f"process 0. Received: coordinator={coordinator!r}"
        )
    return coordinator, num_processes, process_id


def wants_processes(coordinator=None, num_processes=None, process_id=None):
    """Whether the arguments or the environment ask for several processes."""
    coordinator, num_processes, process_id = process_settings(
        coordinator, num_processes, process_id
    )
    if num_processes is not None:
        return num_processes > 1
    return coordinator is not None or any(os.environ.get(name) for name in (ENV_SLURM, ENV_OMPI))


def initialize_processes(
    coordinator=None,
    num_processes=None,
    process_id=None,
    *,
    heartbeat_timeout=DEFAULT_HEARTBEAT_TIMEOUT,
    initialization_timeout=DEFAULT_INITIALIZATION_TIMEOUT,
):
    """Joins this process to a multi-process run on the JAX backend.

    What `keras.distribution.initialize(job_addresses, num_processes,
    process_id)` does, reading the same environment variables (see
    `process_settings`) and seeding Keras' random numbers the same in all
    the processes (`keras.utils.set_random_seed`), with the failure timeouts of
    `jax.distributed.initialize` that Keras does not pass on: a process that
    dies is detected within `heartbeat_timeout` seconds and the others stop
    with an error instead of hanging in a collective. Call it in every
    process, before any other JAX computation; then `fit` trains over all the
    devices of all the processes.

    Args:
        coordinator: "HOST:PORT" of process 0, where it listens (every
            process gives the same one).
        num_processes: the number of processes.
        process_id: this process's id, in `[0, num_processes)`; process 0
            writes the run's files.
        heartbeat_timeout: seconds without a heartbeat after which a process
            is declared dead.
        initialization_timeout: seconds to wait for all processes to join.

    Returns:
        `(process_id, num_processes)` as JAX sees them.
    """
    _check_jax("initialize_processes")
    import jax

    coordinator, num_processes, process_id = process_settings(
        coordinator, num_processes, process_id
    )
    for name, value in (
        ("heartbeat_timeout", heartbeat_timeout),
        ("initialization_timeout", initialization_timeout),
    ):
        if not isinstance(value, int) or value < 1:
            raise InvalidValueError(
                f"Argument `{name}` must be an int >= 1 (seconds). Received: {name}={value!r}"
            )
    logger.info(
        "Joining %s processes as process %s (coordinator %s).",
        "the" if num_processes is None else num_processes,
        "?" if process_id is None else process_id,
        coordinator or "from the scheduler",
    )
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=initialization_timeout,
        heartbeat_timeout_seconds=heartbeat_timeout,
        # How long a process that ends waits for the others to end too.
        shutdown_timeout_seconds=max(heartbeat_timeout, 30),
    )
    # As keras.distribution.initialize does: one random seed in all the
    # processes, so that they create the same initial variables.
    keras.utils.set_random_seed(
        broadcast_from_first_process(int(np.random.SeedSequence().entropy % 2**31))
    )
    logger.info(
        "Process %d of %d: %d local devices, %d in all.",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )
    return jax.process_index(), jax.process_count()


def process_position():
    """`(process_id, num_processes)`; `(0, 1)` off the JAX backend."""
    if keras.backend.backend() != "jax":
        return 0, 1
    import jax

    return jax.process_index(), jax.process_count()


def get_distribution(name="auto"):
    """The `keras.distribution.DataParallel` that `fit` trains under on JAX.

    - `"auto"`: data parallel over all the devices of all the processes when
      there are several, none (one device) otherwise;
    - `"none"`: no distribution (one device); raises in a multi-process run;
    - `"mirrored"` is `tf.distribute` and raises.

    Each process feeds its own part of the global batch
    (`auto_shard_dataset=False`); `fit` gives each its rows of every global batch.

    Returns:
        A `DataParallel`, or `None`.
    """
    _check_jax("get_distribution")
    import jax

    processes = jax.process_count()
    if name == "mirrored":
        raise InvalidValueError(
            "strategy='mirrored' is tf.distribute and needs the TensorFlow "
            "backend. On JAX use strategy='auto' (keras.distribution "
            "DataParallel over all devices) or 'none'."
        )
    if name == "none" and processes > 1:
        raise InvalidValueError(
            f"strategy='none' trains on one device, but this process is one "
            f"of {processes}: use strategy='auto'."
        )
    if name == "none" or (name == "auto" and jax.device_count() == 1):
        return None
    return keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=False
    )


def num_replicas(distribution):
    """The number of devices that share the global batch."""
    if distribution is None:
        return 1
    return int(np.prod(distribution.device_mesh.shape))


def broadcast_from_first_process(value):
    """Process 0's `value` (an int32-sized int) in every process."""
    if process_position()[1] == 1:
        return value
    from jax.experimental import multihost_utils

    return int(multihost_utils.broadcast_one_to_all(np.int32(value)))


def check_same_in_all_processes(value, what):
    """Raises unless every process has the same int `value`."""
    if process_position()[1] == 1:
        return
    from jax.experimental import multihost_utils

    values = np.asarray(multihost_utils.process_allgather(np.int32(value)))
    if len(set(values.tolist())) > 1:
        raise InvalidValueError(
            f"The processes disagree on {what}: {values.tolist()} (process 0 "
            "first). Give every process the same arguments and a run_dir on "
            "storage they all see (the same path on a shared filesystem)."
        )


def barrier(name):
    """Waits until every process reaches this point."""
    if process_position()[1] == 1:
        return
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices(name)


def _check_jax(function):
    backend = keras.backend.backend()
    if backend != "jax":
        raise InvalidValueError(
            f"{function} is for the JAX backend (keras.distribution); the "
            f"Keras backend is {backend!r}. Set KERAS_BACKEND=jax before "
            "Keras is imported (or `keras-prelu train --backend jax`)."
        )


def _env_int(name):
    text = os.environ[name]
    try:
        return int(text)
    except ValueError:
        raise InvalidValueError(
            f"Environment variable {name} must be an integer. Received: {name}={text!r}"
        ) from None

"""Training steps per second in two processes over one process, on one machine.

Runs `keras_prelu.training.fit` on the JAX backend (the 14-layer model on the bundled
digits, the main job's model) side by side: one process on all the cores given, then
two processes on 127.0.0.1 joined by `keras.distribution`, each pinned to its half of
those cores (or, with `--share-cores`, both on all of them) and fed its half of every
global batch. Rounds alternate; the best round
of each counts, as other load on the machine only slows rounds down. A step's time is
read between the ends of consecutive training batches, after the first epoch
(compilation), so validation and checkpoints are left out.

    python benchmarks/multiprocess_training.py [--rounds 2] [--cores 0 1] [--batch 128]
                                               [--share-cores]

The two processes do what the one does, plus an all-reduce of the gradients over
loopback and each its own input pipeline: the ratio is the cost of going
multi-process at equal hardware, not a speed-up (that needs more machines).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap

EPOCHS = 4

WORKER = """
import dataclasses, json, os, sys, time
import keras
from keras_prelu.training import BUNDLED_RECIPE, distribution, fit

cores, batch, epochs, run_dir, out = sys.argv[1:6]
os.sched_setaffinity(0, [int(core) for core in cores.split(",")])
if len(sys.argv) > 6:
    port, process_id = sys.argv[6:8]
    distribution.initialize_processes(f"127.0.0.1:{port}", 2, int(process_id))

class StepTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.ends = []
    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())
    def on_epoch_end(self, epoch, logs=None):
        if epoch > 0:
            seconds.append((self.ends[-1] - self.ends[0]) / (len(self.ends) - 1))

seconds = []
recipe = dataclasses.replace(BUNDLED_RECIPE, epochs=int(epochs), batch_size=int(batch))
fit(run_dir=run_dir, recipe=recipe, callbacks=[StepTimes()], verbose=0)
with open(out, "w") as file:
    json.dump(seconds, file)
"""


def run_round(processes, cores, batch, folder, share_cores=False):
    """Seconds per step (the median over epochs 2+) of one run in `processes` processes."""
    run_dir = tempfile.mkdtemp(dir=folder)
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    shares = [cores if share_cores else cores[index::processes] for index in range(processes)]
    extra = [[]] * processes
    if processes > 1:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        extra = [[str(port), str(index)] for index in range(processes)]
    outputs = [os.path.join(run_dir, f"seconds-{index}.json") for index in range(processes)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(WORKER),
                ",".join(map(str, share)),
                str(batch),
                str(EPOCHS),
                os.path.join(run_dir, "run"),
                output,
                *arguments,
            ],
            env=env,
        )
        for share, output, arguments in zip(shares, outputs, extra)
    ]
    for worker in workers:
        if worker.wait(timeout=1800):
            raise RuntimeError(f"A worker failed with exit status {worker.returncode}")
    # A step ends when the slowest process ends it: process 0's times are the run's.
    with open(outputs[0]) as file:
        seconds = sorted(json.load(file))
    return seconds[len(seconds) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cores", type=int, nargs="+", default=sorted(os.sched_getaffinity(0)))
    parser.add_argument("--batch", type=int, default=128, help="the global batch")
    parser.add_argument(
        "--share-cores",
        action="store_true",
        help="run both processes on all the cores instead of half each",
    )
    args = parser.parse_args()
    if len(args.cores) < 2:
        parser.error("--cores needs at least two cores, one per process")
    best = {1: float("inf"), 2: float("inf")}
    with tempfile.TemporaryDirectory() as folder:
        for round_index in range(args.rounds):
            for processes in best:
                seconds = run_round(processes, args.cores, args.batch, folder, args.share_cores)
                best[processes] = min(best[processes], seconds)
                print(
                    f"round {round_index}: {processes} process(es): {1 / seconds:.2f} steps/s",
                    flush=True,
                )
    print(
        json.dumps(
            {
                "global_batch": args.batch,
                "cores": len(args.cores),
                "cores_per_process_of_two": len(args.cores)
                if args.share_cores
                else len(args.cores) // 2,
                "one_process_steps_per_second": 1 / best[1],
                "two_processes_steps_per_second": 1 / best[2],
                "two_over_one": best[1] / best[2],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

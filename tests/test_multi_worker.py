"""Training past one machine: two worker processes on this one, joined by
``MultiWorkerMirroredStrategy`` over 127.0.0.1, each running the same
script on the same data with its own ``TF_CONFIG``, as README.md says to
run it on a cluster."""
import json
import os
import socket
import tempfile
import time
import unittest

import numpy as np

from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from tests.helpers import (
    QUICK_MANUAL, ROOT, expression_table, start_fresh_interpreter)

N_WORKERS = 2
# s; the workers take well under a minute. A worker whose peer is gone
# waits in its next collective operation for good, so it is killed then.
WORKERS_HUNG = 240

TRAINING_DATA = dict(n_samples=120, shift=1.5)
HELD_OUT_DATA = dict(n_samples=150, shift=1.5, seed=1)
FITS = {
    # the defaults' dropout, and early stopping that stops
    "with dropout": dict(QUICK_MANUAL, epochs=50, patience=2,
                         learning_rate=0.03),
    # nothing random but the shuffle, which every process draws alike, so
    # the two workers' fit is the one-process fit up to rounding
    "without dropout": dict(QUICK_MANUAL, dropout=0.0, learning_rate=0.01),
}

WORKER = """
    import json, os, sys
    from orangecontrib.neuralgene.tensorflow_startup import import_keras
    import_keras()
    import tensorflow as tf
    # two workers share this machine's cores
    tf.config.threading.set_intra_op_parallelism_threads(1)
    # first, before any other TensorFlow operation, as TensorFlow requires
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    from unittest import mock
    import numpy as np
    import orangecontrib.neuralgene.distributed as distributed
    from orangecontrib.neuralgene import NeuralGeneClassifierLearner
    from tests.helpers import expression_table

    out, plan = sys.argv[1], json.loads(sys.argv[2])
    worker = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    data = expression_table(**plan["training"])
    held_out = expression_table(**plan["held_out"])
    real = distributed.train_distributed
    results = {}
    for name, settings in plan["fits"].items():
        replicas = []

        def spy(strategy, *args):
            replicas.append(strategy.num_replicas_in_sync)
            return real(strategy, *args)

        with mock.patch.object(distributed, "train_distributed", spy), \\
                strategy.scope():
            model = NeuralGeneClassifierLearner(**settings)(data)
        np.savez(os.path.join(out, f"{name} {worker}.npz"),
                 *model.network.weights)
        results[name] = dict(
            replicas=replicas, history=model.history,
            best_epoch=model.best_epoch,
            accuracy=float(np.mean(model(held_out) == held_out.Y)))
    print(json.dumps(results))
"""


def free_ports(n):
    """n ports that were free a moment ago on 127.0.0.1."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:  # all bound at once, so they differ
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports, worker):
    return json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
        "task": {"type": "worker", "index": worker}})


def run_workers(test, folder, plan):
    """Run ``WORKER`` in ``N_WORKERS`` processes of one cluster, and each
    one's standard output. Fail ``test`` with the standard error of a worker
    that failed, or of one killed: once another has failed, or after
    ``WORKERS_HUNG`` seconds."""
    ports = free_ports(N_WORKERS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    workers, killed = [], []
    try:
        for worker in range(N_WORKERS):
            with open(worker_file(folder, worker, "out"), "w") as stdout, \
                    open(worker_file(folder, worker, "err"), "w") as stderr:
                workers.append(start_fresh_interpreter(
                    WORKER, folder, json.dumps(plan), stdout=stdout,
                    stderr=stderr,
                    env=dict(env, TF_CONFIG=tf_config(ports, worker))))
        give_up = time.monotonic() + WORKERS_HUNG
        while (any(worker.poll() is None for worker in workers)
               and not any(worker.poll() for worker in workers)
               and time.monotonic() < give_up):
            time.sleep(0.2)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                killed.append(worker)
            worker.wait()
    failed = [worker for worker in workers
              if worker.returncode and worker not in killed] + killed
    if failed:
        index = workers.index(failed[0])
        with open(worker_file(folder, index, "err")) as stderr:
            test.fail(f"worker {index} "
                      + ("was killed" if failed[0] in killed else "failed")
                      + f" ({len(failed)} of {N_WORKERS} did not finish):\n"
                      + stderr.read()[-3000:])
    results = []
    for worker in range(N_WORKERS):
        with open(worker_file(folder, worker, "out")) as stdout:
            results.append(json.loads(stdout.read().strip().splitlines()[-1]))
    return results


def worker_file(folder, worker, stream):
    return os.path.join(folder, f"worker {worker}.{stream}")


def saved_weights(folder, name, worker):
    with np.load(os.path.join(folder, f"{name} {worker}.npz")) as saved:
        return [saved[key] for key in sorted(saved, key=lambda key: int(
            key.split("_")[1]))]


class TestTwoWorkers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        folder = tempfile.TemporaryDirectory()
        cls.addClassCleanup(folder.cleanup)
        plan = dict(training=TRAINING_DATA, held_out=HELD_OUT_DATA,
                    fits=FITS)
        cls.workers = run_workers(cls(), folder.name, plan)
        cls.weights = {name: [saved_weights(folder.name, name, worker)
                              for worker in range(N_WORKERS)]
                       for name in FITS}
        data = expression_table(**TRAINING_DATA)
        held_out = expression_table(**HELD_OUT_DATA)
        cls.one_process = {}
        for name, settings in FITS.items():
            model = NeuralGeneClassifierLearner(**settings)(data)
            cls.one_process[name] = dict(
                history=model.history, best_epoch=model.best_epoch,
                accuracy=float(np.mean(model(held_out) == held_out.Y)))

    def test_each_worker_trains_over_the_replicas_of_both(self):
        for result in self.workers:
            for name in FITS:
                self.assertEqual(result[name]["replicas"], [N_WORKERS])

    def test_both_workers_end_with_the_same_weights(self):
        for name, (first, second) in self.weights.items():
            with self.subTest(name):
                self.assertEqual(len(first), len(second))
                for ours, theirs in zip(first, second):
                    np.testing.assert_allclose(ours, theirs, rtol=1e-6,
                                               atol=1e-7)

    def test_both_workers_report_and_stop_alike(self):
        first, second = self.workers
        for name in FITS:
            with self.subTest(name):
                self.assertEqual(first[name]["history"],
                                 second[name]["history"])
                self.assertEqual(first[name]["best_epoch"],
                                 second[name]["best_epoch"])
        # early stopping did stop, and kept an earlier epoch's weights
        stopped = first["with dropout"]
        self.assertLess(len(stopped["history"]["loss"]),
                        FITS["with dropout"]["epochs"])
        self.assertLess(stopped["best_epoch"], len(stopped["history"]["loss"]))

    def test_accuracy_is_that_of_one_process(self):
        for name in FITS:
            with self.subTest(name):
                one_process = self.one_process[name]["accuracy"]
                self.assertGreater(one_process, 0.8)
                for result in self.workers:
                    self.assertAlmostEqual(result[name]["accuracy"],
                                           one_process, delta=0.1)

    def test_every_batch_is_split_between_the_workers(self):
        # a batch seen whole by each worker, or rows seen by neither, would
        # take other steps than one process takes
        result = self.workers[0]["without dropout"]
        one_process = self.one_process["without dropout"]
        self.assertEqual(result["best_epoch"], one_process["best_epoch"])
        for key, values in one_process["history"].items():
            np.testing.assert_allclose(result["history"][key], values,
                                       rtol=1e-3, err_msg=key)


if __name__ == "__main__":
    unittest.main()

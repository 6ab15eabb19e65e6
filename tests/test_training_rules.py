"""One set of training rules: the add-on's own loop on one device and its
replicated steps over several devices report the same losses and stop at
the same rule."""
import json
import math
import textwrap
import unittest

import numpy as np

from orangecontrib.neuralgene.training_rules import (
    EarlyStopping, TrainingDiverged, check_not_diverged, sample_weights)
from tests.helpers import run_in_fresh_interpreter


class TestEarlyStopping(unittest.TestCase):
    def test_best_is_the_first_lowest_and_stops_after_patience(self):
        stopping = EarlyStopping(patience=2)
        losses = [3.0, 2.0, 2.0, 2.5, 1.0]
        verdicts = []
        for epoch, loss in enumerate(losses, start=1):
            best = stopping.is_best(epoch, loss)
            verdicts.append((best, not best and stopping.should_stop(epoch)))
            if verdicts[-1][1]:
                break
        self.assertEqual(verdicts, [(True, False), (True, False),
                                    (False, False), (False, True)])
        self.assertEqual(stopping.best_epoch, 2)

    def test_an_undefined_loss_is_never_best(self):
        stopping = EarlyStopping(patience=1)
        self.assertFalse(stopping.is_best(1, math.nan))
        self.assertEqual(stopping.best_epoch, 0)
        self.assertTrue(stopping.should_stop(1))


class TestWeightsAndDivergence(unittest.TestCase):
    def test_missing_weights_are_ones(self):
        np.testing.assert_array_equal(sample_weights(None, 3), [1, 1, 1])
        self.assertEqual(sample_weights([1, 2], 2).dtype, np.float32)

    def test_an_infinite_or_undefined_loss_diverges(self):
        check_not_diverged(1e30)
        for loss in (math.inf, math.nan):
            with self.assertRaisesRegex(TrainingDiverged, "learning rate"):
                check_not_diverged(loss)


# TensorFlow's devices are fixed when it starts: the CPU is split into two
# logical devices before, standing in for two GPUs
BOTH_PATHS = textwrap.dedent("""
    import contextlib, json
    from unittest import mock
    import numpy as np
    from orangecontrib.neuralgene.tensorflow_startup import import_keras
    import_keras()
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from tests.helpers import expression_arrays
    from orangecontrib.neuralgene import distributed
    from orangecontrib.neuralgene.network import NetworkSpec, TrainingConfig
    from orangecontrib.neuralgene.tensors import float32_copy
    from orangecontrib.neuralgene.training import train_network

    X, y = expression_arrays(n_samples=90, n_genes=20, seed=1, shift=1.0)
    X = float32_copy(X)
    # unequal weights and a penalty, which a loss of another kind would show
    w = np.where(y == 0, 2.0, 0.5).astype(np.float32)
    train_rows, validation_rows = np.arange(60), np.arange(60, 90)
    spec = NetworkSpec(20, 3, (16,), "relu", 0.0, 0.01)

    def recomputed(network, rows):
        probs = network.predict_proba(X[rows])
        picked = np.clip(probs[np.arange(len(rows)), y[rows]], 1e-7, 1)
        return float(np.sum(-np.log(picked) * w[rows]) / np.sum(w[rows]))

    replicas = []
    real = distributed.train_distributed

    def spy(strategy, *args):
        replicas.append(strategy.num_replicas_in_sync)
        return real(strategy, *args)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {}
    with mock.patch.object(distributed, "train_distributed", spy):
        for path, scope in (("one device", contextlib.nullcontext),
                            ("two replicas", strategy.scope)):
            with scope():
                # learning rate 0 keeps the weights as the seed made them, so
                # the losses met in an epoch are the returned network's
                still = train_network(
                    X, y, spec, TrainingConfig(2, 16, 0.0, 4, 0), w,
                    train_rows, validation_rows)
                moving = train_network(
                    X, y, spec, TrainingConfig(80, 16, 0.03, 4, 0), w,
                    train_rows, validation_rows)
            results[path] = dict(
                keys=sorted(still.history),
                still=still.history,
                still_recomputed=[recomputed(still.network, train_rows),
                                  recomputed(still.network, validation_rows)],
                val_loss=moving.history["val_loss"],
                best_epoch=moving.best_epoch,
                best_recomputed=recomputed(moving.network, validation_rows))
    results["replicas"] = replicas
    print(json.dumps(results))
""")

PATHS = ("one device", "two replicas")


class TestBothPathsReportAlike(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        done = run_in_fresh_interpreter(cls(), BOTH_PATHS)
        cls.results = json.loads(done.stdout.strip().splitlines()[-1])

    def test_only_the_strategy_scope_trains_with_replicated_steps(self):
        self.assertEqual(self.results["replicas"], [2, 2])

    def test_losses_are_weighted_cross_entropy_without_penalty(self):
        for path in PATHS:
            with self.subTest(path):
                result = self.results[path]
                self.assertEqual(result["keys"], ["accuracy", "loss",
                                                  "val_accuracy", "val_loss"])
                train, validation = result["still_recomputed"]
                np.testing.assert_allclose(result["still"]["loss"],
                                           [train] * 2, rtol=1e-4)
                np.testing.assert_allclose(result["still"]["val_loss"],
                                           [validation] * 2, rtol=1e-4)
        # the same seed makes the same first weights on either path
        np.testing.assert_allclose(
            self.results[PATHS[0]]["still"]["loss"],
            self.results[PATHS[1]]["still"]["loss"], rtol=1e-5)

    def test_early_stopping_keeps_the_lowest_validation_loss(self):
        for path in PATHS:
            with self.subTest(path):
                result = self.results[path]
                val_loss = result["val_loss"]
                best = result["best_epoch"]
                self.assertEqual(best, int(np.argmin(val_loss)) + 1)
                self.assertEqual(len(val_loss), best + 4)  # patience 4
                self.assertAlmostEqual(val_loss[best - 1],
                                       result["best_recomputed"], places=4)


if __name__ == "__main__":
    unittest.main()

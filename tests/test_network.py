import unittest
from unittest import mock

import numpy as np
import scipy.sparse as sp

from orangecontrib.neuralgene import distributed, network, sparse_batches
from orangecontrib.neuralgene.network import (
    NetworkSpec, ScaledSparseExpression, TrainingConfig, TrainingDiverged,
    clear_trainer_pool)
from orangecontrib.neuralgene.tensorflow_startup import import_keras
from orangecontrib.neuralgene.tensors import (
    MAPPED_BYTES, as_tensor, float32_copy)
from orangecontrib.neuralgene.training import train_network
from tests.helpers import expression_arrays


class TestFloat32Copy(unittest.TestCase):
    def test_copies_dense_and_sparse_values_into_aligned_float32(self):
        X = np.random.RandomState(0).normal(size=(2500, 7))
        X[X < 0.5] = 0
        for source in (X, sp.csr_matrix(X)):
            copy = float32_copy(source)
            self.assertEqual(copy.dtype, np.float32)
            self.assertTrue(copy.flags.c_contiguous)
            self.assertEqual(copy.ctypes.data % 64, 0)
            np.testing.assert_array_equal(copy, X.astype(np.float32))
        self.assertFalse(np.shares_memory(float32_copy(X), X))

    def test_large_copies_are_handed_to_tensorflow_without_copying(self):
        X = np.random.RandomState(0).normal(size=(1100, 1000))
        copy = float32_copy(X)
        self.assertGreaterEqual(copy.nbytes, MAPPED_BYTES)
        np.testing.assert_array_equal(copy, X.astype(np.float32))
        tensor = as_tensor(copy)
        copy[3, 4] = 42  # seen through the tensor only if memory is shared
        self.assertEqual(float(tensor[3, 4]), 42)


class TestTrainNetwork(unittest.TestCase):
    def test_trains_on_the_given_rows_only(self):
        X, y = expression_arrays(40, 5, n_classes=2, informative=2)
        X = float32_copy(X)
        spec = NetworkSpec(5, 2, (8,), "relu", 0.0, 0.0)
        config = TrainingConfig(epochs=3, batch_size=8, learning_rate=0.01,
                                patience=5, seed=1)
        # rows 30.. are poisoned; training on rows 0..29 must not see them
        poisoned = X.copy()
        poisoned[30:] = 1e6
        rows = np.arange(30)
        clean = train_network(X, y, spec, config, train_rows=rows)
        dirty = train_network(poisoned, y, spec, config, train_rows=rows)
        for a, b in zip(clean.network.weights, dirty.network.weights):
            np.testing.assert_array_equal(a, b)

    def test_fused_update_is_kerass_adam(self):
        X, y = expression_arrays(60, 30)
        X = float32_copy(X)
        spec = NetworkSpec(30, 3, (16,), "relu", 0.2, 1e-3)
        config = TrainingConfig(epochs=5, batch_size=16, learning_rate=0.01,
                                patience=5, seed=2)
        with mock.patch.object(network._Trainer, "fuse_from_weights", 0):
            fused = network._Trainer(spec).train(
                X, y, config, None, np.arange(60), None, None)
        with mock.patch.object(network._Trainer, "fuse_update", False):
            plain = network._Trainer(spec).train(
                X, y, config, None, np.arange(60), None, None)
        for a, b in zip(fused.network.weights, plain.network.weights):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)

    def test_divergence_is_a_value_error_that_says_what_to_do(self):
        y = np.arange(20) % 2
        X = float32_copy(np.full((20, 3), 1e20) * (1 + y[:, None]))
        spec = NetworkSpec(3, 2, (4,), "relu", 0.0, 0.0)
        config = TrainingConfig(epochs=5, batch_size=4, learning_rate=1e6,
                                patience=5, seed=0)
        with self.assertRaisesRegex(ValueError, "learning rate") as raised:
            train_network(X, y, spec, config)
        self.assertIsInstance(raised.exception, TrainingDiverged)


def sparse_expression(n_samples=60, n_genes=30):
    """Sparse expression scaled by a scale of 0.5 and clipped at 1.5, which
    clips many values; and its classes."""
    X, y = expression_arrays(n_samples, n_genes)
    X[X < 0.5] = 0
    X = sp.csr_matrix(X.astype(np.float32))
    center = np.asarray(X.mean(axis=0)).ravel()
    return ScaledSparseExpression(X, center, np.full(n_genes, 0.5), 1.5), y


class TestScaledSparseExpression(unittest.TestCase):
    spec = NetworkSpec(30, 3, (16,), "relu", 0.3, 1e-3)
    config = TrainingConfig(epochs=6, batch_size=8, learning_rate=0.01,
                            patience=3, seed=4)
    weights = np.linspace(0.5, 2, 60)
    rows = np.arange(45), np.arange(45, 60)

    def assert_same_training(self, got, expected):
        self.assertEqual(got.history.keys(), expected.history.keys())
        for key, values in expected.history.items():
            np.testing.assert_allclose(got.history[key], values, rtol=1e-5)
        self.assertEqual(got.best_epoch, expected.best_epoch)
        for a, b in zip(got.network.weights, expected.network.weights):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)

    def test_reads_as_an_array_dense_scaled_and_clipped(self):
        X, _ = sparse_expression()
        values = X.X.toarray()
        np.testing.assert_allclose(
            np.asarray(X), np.clip((values - X.center) / 0.5, -1.5, 1.5),
            rtol=1e-6)
        self.assertEqual(np.asarray(X, np.float64).dtype, np.float64)

    def test_trains_as_its_dense_values_a_batch_at_a_time(self):
        X, y = sparse_expression()
        # validation rows evaluated four at a time
        with mock.patch.object(sparse_batches, "BLOCK_ELEMENTS", 4 * 30):
            sparse = train_network(X, y, self.spec, self.config,
                                   self.weights, *self.rows)
        dense = train_network(float32_copy(np.asarray(X)), y, self.spec,
                              self.config, self.weights, *self.rows)
        self.assert_same_training(sparse, dense)

    def test_replicated_steps_read_it_whole_and_dense(self):
        import_keras()
        import tensorflow as tf

        X, y = sparse_expression()
        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
        sparse, dense = [distributed.train_distributed(
            strategy, inputs, y, self.spec, self.config, self.weights,
            *self.rows, None) for inputs in (X, np.asarray(X))]
        self.assert_same_training(sparse, dense)


class TestTrainerPool(unittest.TestCase):
    def test_clearing_drops_idle_trainers_and_training_goes_on_alike(self):
        X, y = expression_arrays(30, 6, informative=2)
        X = float32_copy(X)
        spec = NetworkSpec(6, 3, (5,), "relu", 0.0, 0.0)
        config = TrainingConfig(epochs=4, batch_size=8, learning_rate=0.01,
                                patience=5, seed=3)
        before = train_network(X, y, spec, config)
        self.assertGreaterEqual(clear_trainer_pool(), 1)
        self.assertEqual(clear_trainer_pool(), 0)
        after = train_network(X, y, spec, config)  # on a new trainer
        for a, b in zip(before.network.weights, after.network.weights):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


if __name__ == "__main__":
    unittest.main()

import unittest

import numpy as np
import scipy.sparse as sp

from orangecontrib.neuralgene.network import (
    NetworkSpec, TrainingConfig, TrainingDiverged, float32_copy,
    train_network)


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


class TestTrainNetwork(unittest.TestCase):
    def test_trains_on_the_given_rows_only(self):
        rng = np.random.RandomState(0)
        y = np.arange(40) % 2
        X = float32_copy(rng.normal(size=(40, 5)) + y[:, None])
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

    def test_divergence_is_a_value_error_that_says_what_to_do(self):
        y = np.arange(20) % 2
        X = float32_copy(np.full((20, 3), 1e20) * (1 + y[:, None]))
        spec = NetworkSpec(3, 2, (4,), "relu", 0.0, 0.0)
        config = TrainingConfig(epochs=5, batch_size=4, learning_rate=1e6,
                                patience=5, seed=0)
        with self.assertRaisesRegex(ValueError, "learning rate"):
            train_network(X, y, spec, config)
        self.assertTrue(issubclass(TrainingDiverged, ValueError))


if __name__ == "__main__":
    unittest.main()

# pylint: disable=missing-docstring
import unittest

import numpy as np

from orangecontrib.neuralgene.attribution import (
    class_importances, integrated_gradients)
from orangecontrib.neuralgene.network import (
    NetworkSpec, TrainedNetwork, TrainingConfig, build_network)
from orangecontrib.neuralgene.training import train_network
from tests.helpers import expression_arrays, run_in_fresh_interpreter


def trained_network(n_samples=90, n_inputs=12, n_classes=3, seed=0):
    """A network whose class c is carried by input c; the data it saw."""
    X, y = expression_arrays(n_samples, n_inputs, n_classes, informative=1,
                             seed=seed, shift=3.0)
    X = X.astype(np.float32)
    spec = NetworkSpec(n_inputs=n_inputs, n_classes=n_classes,
                       hidden_layers=(16,), activation="relu", dropout=0.0,
                       l2=1e-4)
    config = TrainingConfig(epochs=60, batch_size=16, learning_rate=1e-2,
                            patience=10, seed=seed)
    return train_network(X, y, spec, config).network, X, y


def integrated_gradients_by_definition(network, X, classes, n_steps):
    """The gradient taken at every point of the path, in the input."""
    import tensorflow as tf

    model = build_network(network.spec)
    model.set_weights(network.weights)
    total = np.zeros_like(X)
    for alpha in (np.arange(n_steps) + 0.5) / n_steps:
        path = tf.constant(alpha * X)
        with tf.GradientTape() as tape:
            tape.watch(path)
            probs = model(path, training=False)
            target = tf.gather(probs, classes[:, None], batch_dims=1)
        total += tape.gradient(target, path).numpy()
    return X * total / n_steps


class TestIntegratedGradients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.network, cls.X, cls.y = trained_network()

    def test_attributions_add_up_to_the_change_in_probability(self):
        attributions = integrated_gradients(self.network, self.X, self.y)
        rows = np.arange(len(self.y))
        probability = self.network.predict_proba(self.X)[rows, self.y]
        at_baseline = self.network.predict_proba(
            np.zeros((1, self.X.shape[1])))[0, self.y]
        np.testing.assert_allclose(attributions.sum(axis=1),
                                   probability - at_baseline, atol=0.02)

    def test_equal_to_the_gradient_taken_along_the_input_path(self):
        rng = np.random.RandomState(1)
        spec = NetworkSpec(n_inputs=7, n_classes=3, hidden_layers=(9, 5),
                           activation="tanh", dropout=0.3, l2=0.0)
        network = TrainedNetwork(spec, [
            rng.normal(size=w.shape).astype(np.float32)
            for w in build_network(spec).get_weights()])
        X = rng.normal(size=(6, 7)).astype(np.float32)
        classes = np.array([0, 1, 2, 2, 1, 0], dtype=np.int32)
        np.testing.assert_allclose(
            integrated_gradients(network, X, classes, n_steps=20),
            integrated_gradients_by_definition(network, X, classes, 20),
            rtol=1e-4, atol=1e-6)

    def test_an_input_at_the_baseline_gets_no_attribution(self):
        X = self.X.copy()
        X[:, 5] = 0
        attributions = integrated_gradients(self.network, X, self.y)
        np.testing.assert_array_equal(attributions[:, 5], 0)

    def test_results_do_not_depend_on_how_rows_are_batched(self):
        whole = integrated_gradients(self.network, self.X, self.y)
        one_by_one = np.vstack([
            integrated_gradients(self.network, self.X[i:i + 1],
                                 self.y[i:i + 1])
            for i in range(5)])
        np.testing.assert_allclose(one_by_one, whole[:5], rtol=1e-4,
                                   atol=1e-6)

    def test_no_rows_give_no_attributions(self):
        attributions = integrated_gradients(
            self.network, np.zeros((0, 12)), np.zeros(0, int))
        self.assertEqual(attributions.shape, (0, 12))

    def test_each_class_is_driven_by_its_own_input(self):
        importances = class_importances(self.network, self.X, self.y)
        self.assertEqual(importances.shape, (3, 12))
        np.testing.assert_array_equal(importances.argmax(axis=1), [0, 1, 2])

    def test_classes_without_rows_have_no_importance(self):
        importances = class_importances(
            self.network, self.X[self.y < 2], self.y[self.y < 2])
        self.assertTrue(np.isnan(importances[2]).all())
        self.assertFalse(np.isnan(importances[:2]).any())

    def test_module_does_not_import_tensorflow(self):
        run_in_fresh_interpreter(self, """
            import sys, orangecontrib.neuralgene.attribution
            assert 'tensorflow' not in sys.modules
            assert 'keras' not in sys.modules
        """)


if __name__ == "__main__":
    unittest.main()

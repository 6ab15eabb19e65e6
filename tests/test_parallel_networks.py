"""Networks trained side by side in one graph (``train_stack``): each sees
only its own genes and rows, and is kept at its own epoch."""
# pylint: disable=missing-docstring
import unittest

import numpy as np
import scipy.sparse as sp

from orangecontrib.neuralgene.network import build_network
from orangecontrib.neuralgene.parallel_networks import (
    EPOCHS_PER_CALL, KeepBest, StackLayout, held_out_groups, train_stack)
from orangecontrib.neuralgene.tensorflow_startup import import_keras
from tests.helpers import expression_arrays, keras_best_epoch

X, Y = expression_arrays(n_samples=40, n_genes=10, n_classes=3,
                         informative=2)
X = X.astype(np.float32)
CENTER = X.mean(axis=0)  # of these data, whatever rows a test changes
N_CLASSES = 3
# with dropout, so that its random draws are part of what must repeat
HIDDEN = StackLayout(N_CLASSES, hidden=8, dropout=0.5)


def stack(X=X, y=Y, scale=None, train_weight=None, layout=HIDDEN,
          n_networks=2, **kwargs):
    """Train a stack on X, y, centred on CENTER: every network on every gene
    and row unless ``scale`` or ``train_weight`` say otherwise."""
    shape = (n_networks, X.shape[1])
    scale = np.ones(shape, np.float32) if scale is None else scale
    train_weight = (np.ones((n_networks, len(y)), np.float32)
                    if train_weight is None else train_weight)
    parameters = dict(epochs=6, batch_size=16, learning_rate=0.01, seed=0)
    parameters.update(kwargs)
    return train_stack(
        X, y, layout, np.tile(CENTER, (n_networks, 1)), scale,
        np.full(n_networks, 1e-3, np.float32), train_weight, **parameters)


def network_input(X, scale):
    """What a network that ``train_stack`` returned takes: its used genes,
    centred and scaled as in the stack."""
    used = scale != 0
    return ((X - CENTER) * scale)[:, used]


class TestEachNetworkSeesItsOwn(unittest.TestCase):
    def test_genes_of_scale_zero_do_not_reach_a_network(self):
        scale = np.ones((2, 10), np.float32)
        scale[0, 5:] = 0  # the first network reads genes 0-4
        poisoned = X.copy()
        poisoned[:, 5:] = np.random.RandomState(1).normal(
            scale=100, size=(len(X), 5))
        clean, _ = stack(scale=scale)
        dirty, _ = stack(X=poisoned, scale=scale)
        np.testing.assert_allclose(dirty.loss[:, 0], clean.loss[:, 0],
                                   rtol=1e-6)
        self.assertFalse(np.allclose(dirty.loss[:, 1], clean.loss[:, 1]))

    def test_rows_of_weight_zero_do_not_reach_a_network(self):
        train = np.ones((2, 40), np.float32)
        held_out = np.zeros((2, 40), np.float32)
        train[0, 30:] = 0  # the first network trains on rows 0-29
        held_out[0, 30:35] = 1  # holds out 30-34, and ignores 35-39
        poisoned_X, poisoned_y = X.copy(), Y.copy()
        poisoned_X[35:] *= 100
        poisoned_y[35:] = (poisoned_y[35:] + 1) % N_CLASSES
        clean, _ = stack(train_weight=train, held_out_weight=held_out)
        dirty, _ = stack(X=poisoned_X, y=poisoned_y, train_weight=train,
                         held_out_weight=held_out)
        for curve in ("loss", "held_out_loss", "held_out_accuracy"):
            np.testing.assert_allclose(getattr(dirty, curve)[:, 0],
                                       getattr(clean, curve)[:, 0],
                                       rtol=1e-6, err_msg=curve)
        self.assertFalse(np.allclose(dirty.loss[:, 1], clean.loss[:, 1]))

    def test_each_network_trains_at_its_own_learning_rate(self):
        # all rows held out: their losses are measured after each epoch
        curves, _ = stack(learning_rate=np.array([0, 0.05], np.float32),
                          held_out_weight=np.ones((2, len(Y)), np.float32))
        self.assertEqual(len(np.unique(curves.held_out_loss[:, 0])), 1)
        self.assertLess(curves.held_out_loss[-1, 1],
                        curves.held_out_loss[0, 1])


class TestCurves(unittest.TestCase):
    def test_the_loss_is_the_epochs_batches_the_held_out_after_it(self):
        # one epoch of one full batch, no dropout: the loss met in the batch
        # is the loss of the starting weights, not of those after the step
        layout = StackLayout(N_CLASSES, hidden=0)
        met, _ = stack(layout=layout, epochs=1, batch_size=len(Y))
        curves, _ = stack(layout=layout, epochs=1, batch_size=len(Y),
                          held_out_weight=np.ones((2, len(Y)), np.float32))
        np.testing.assert_array_equal(curves.loss, met.loss)
        self.assertTrue(np.all(met.loss[0] > curves.held_out_loss[0]))

    def test_one_row_per_epoch(self):
        curves, _ = stack(epochs=13)
        self.assertEqual(curves.loss.shape, (13, 2))
        self.assertEqual(curves.accuracy.shape, (13, 2))

    def test_held_out_curves_only_where_rows_are_held_out(self):
        without, _ = stack()
        self.assertIsNone(without.held_out_loss)
        held_out = np.zeros((2, 40), np.float32)
        held_out[:, ::4] = 1
        with_rows, _ = stack(held_out_weight=held_out)
        self.assertEqual(with_rows.held_out_loss.shape, (6, 2))
        self.assertTrue(np.all((0 <= with_rows.held_out_accuracy)
                               & (with_rows.held_out_accuracy <= 1)))

    def test_training_stops_after_the_call_whose_callback_says_so(self):
        seen = []

        def enough(done, curves):
            seen.append((done, len(curves.loss)))
            return done >= 2 * EPOCHS_PER_CALL

        curves, _ = stack(epochs=100, chunk_callback=enough)
        self.assertEqual(seen, [(EPOCHS_PER_CALL, EPOCHS_PER_CALL),
                                (2 * EPOCHS_PER_CALL, 2 * EPOCHS_PER_CALL)])
        self.assertEqual(len(curves.loss), 2 * EPOCHS_PER_CALL)


class TestRowsPerEpoch(unittest.TestCase):
    STILL = dict(layout=StackLayout(N_CLASSES, hidden=0), epochs=20,
                 batch_size=5, learning_rate=0.0)  # the weights never move

    def test_an_epoch_of_some_rows_draws_them_anew_every_epoch(self):
        every_row, _ = stack(**self.STILL)
        five_rows, _ = stack(rows_per_epoch=5, **self.STILL)
        np.testing.assert_allclose(every_row.loss, every_row.loss[[0] * 20],
                                   rtol=1e-5)
        self.assertGreater(np.ptp(five_rows.loss[:, 0]), 0.01)
        # drawn from all rows: on average about the loss of all of them
        self.assertAlmostEqual(five_rows.loss[:, 0].mean(),
                               every_row.loss[0, 0], delta=0.15)

    def test_all_rows_per_epoch_is_the_default(self):
        default, _ = stack()
        all_rows, _ = stack(rows_per_epoch=len(Y))
        np.testing.assert_array_equal(default.loss, all_rows.loss)


class TestKeptNetworks(unittest.TestCase):
    def test_a_kept_network_is_the_network_at_its_epoch(self):
        epoch = 3
        _, kept = stack(epochs=14, keep_epoch=np.array([epoch, 14]))
        _, stopped = stack(epochs=epoch, keep_epoch=np.array([epoch, epoch]))
        _, last = stack(epochs=14, keep_epoch=np.array([14, 14]))
        inputs = network_input(X, np.ones(10, np.float32))
        np.testing.assert_allclose(kept[0].predict_proba(inputs),
                                   stopped[0].predict_proba(inputs),
                                   rtol=1e-5, atol=1e-7)
        self.assertFalse(np.allclose(kept[0].predict_proba(inputs),
                                     last[0].predict_proba(inputs)))

    def test_a_kept_networks_loss_is_the_curves_loss_at_its_epoch(self):
        # a network of some genes, scaled apart, and trained on some rows
        scale = np.ones((2, 10), np.float32)
        scale[0, ::3] = 0
        scale[0, 1] = 2.5
        train = np.ones((2, 40), np.float32)
        train[0, :8] = 0
        for layout in (HIDDEN, StackLayout(N_CLASSES, hidden=0)):
            with self.subTest(hidden=layout.hidden):
                curves, networks = stack(
                    scale=scale, train_weight=train, layout=layout,
                    epochs=9, keep_epoch=np.array([4, 9]),
                    held_out_weight=train)  # measured after every epoch
                probs = networks[0].predict_proba(network_input(X, scale[0]))
                rows = train[0] > 0
                loss = -np.mean(np.log(probs[rows, Y[rows]]))
                accuracy = np.mean(probs[rows].argmax(axis=1) == Y[rows])
                self.assertAlmostEqual(loss, curves.held_out_loss[3, 0],
                                       places=5)
                self.assertAlmostEqual(accuracy,
                                       curves.held_out_accuracy[3, 0])
                self.assertEqual(networks[0].spec.n_inputs, 6)


class TestGradient(unittest.TestCase):
    """The stack writes its gradient out by hand: its networks must train
    as the same networks do under TensorFlow's own gradient and Keras's
    Adam."""

    def test_a_network_trains_as_keras_trains_it(self):
        keras = import_keras()
        import tensorflow as tf

        # two networks with their own centres, sample weights (the first
        # without rows 30-39), penalties and learning rates; one step per
        # epoch; no dropout (the two draw it differently)
        rng = np.random.default_rng(0)
        center = np.stack([CENTER, CENTER + 0.5]).astype(np.float32)
        train = rng.uniform(0.5, 2, (2, len(Y))).astype(np.float32)
        train[0, 30:] = 0
        l2, rates = np.array([1e-3, 1e-2]), np.array([0.05, 0.02])
        for layout, sparse in ((StackLayout(N_CLASSES, hidden=0), False),
                               (StackLayout(N_CLASSES, hidden=8), False),
                               (StackLayout(N_CLASSES, hidden=8), True)):
            with self.subTest(hidden=layout.hidden, sparse=sparse):
                def networks_after(epochs):
                    return train_stack(
                        sp.csr_matrix(X) if sparse else X, Y, layout, center,
                        np.ones_like(center), l2, train,
                        keep_epoch=np.full(2, epochs), epochs=max(epochs, 1),
                        batch_size=len(Y), learning_rate=rates, seed=0)[1]

                start, trained = networks_after(0), networks_after(8)
                for m in range(2):
                    model = build_network(start[m].spec)
                    model.set_weights(start[m].weights)
                    adam = keras.optimizers.Adam(rates[m], epsilon=1e-7)
                    for _ in range(8):
                        with tf.GradientTape() as tape:
                            entropy = (
                                keras.losses.sparse_categorical_crossentropy(
                                    Y, model(X - center[m])))
                            loss = tf.reduce_sum(
                                entropy * train[m]) / train[m].sum() + sum(
                                    l2[m] * tf.reduce_sum(
                                        tf.square(layer.kernel))
                                    for layer in model.layers)
                        adam.apply_gradients(zip(
                            tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables))
                    for got, expected in zip(trained[m].weights,
                                             model.get_weights()):
                        np.testing.assert_allclose(got, expected, rtol=1e-4,
                                                   atol=1e-5)

    def test_activations_along_an_axis_are_refused(self):
        with self.assertRaisesRegex(ValueError, "softmax"):
            stack(layout=StackLayout(N_CLASSES, hidden=8,
                                     activation="softmax"))


class TestHeldOutGroups(unittest.TestCase):
    """Each network's held-out scores are measured on its own rows only."""
    N_CANDIDATES, N_FOLDS = 3, 4

    def folds(self):
        """Weights of networks ordered candidate by candidate, fold by fold,
        as the inner cross-validation orders them; held-out rows weighed
        apart, row 0 held out by the first fold."""
        fold = np.arange(len(Y)) % self.N_FOLDS
        n_networks = self.N_CANDIDATES * self.N_FOLDS
        train = np.zeros((n_networks, len(Y)), np.float32)
        held_out = np.zeros_like(train)
        weights = np.random.default_rng(0).uniform(0.5, 2, len(Y))
        for m in range(n_networks):
            train[m, fold != m % self.N_FOLDS] = 1
            held_out[m, fold == m % self.N_FOLDS] = weights[
                fold == m % self.N_FOLDS]
        held_out[:, 1] = 0  # a fold one row short: its row list is padded
        return train, held_out

    def test_networks_of_one_fold_form_a_group(self):
        _, held_out = self.folds()
        rows, weights = held_out_groups(held_out)
        self.assertEqual(rows.shape, (self.N_FOLDS, len(Y) // self.N_FOLDS))
        for m, network_weights in enumerate(weights):
            group_rows = rows[m % self.N_FOLDS]
            expected = np.zeros(len(Y), np.float32)
            np.add.at(expected, group_rows, network_weights)
            np.testing.assert_allclose(expected, held_out[m], rtol=1e-6)

    def test_networks_without_a_pattern_are_a_group_each(self):
        held_out = np.zeros((3, 10), np.float32)
        held_out[0, :2] = held_out[1, 5:] = held_out[2, 2] = 1
        rows, weights = held_out_groups(held_out)
        self.assertEqual(rows.shape, (3, 5))
        np.testing.assert_array_equal(weights.sum(axis=1), [2, 5, 1])

    def test_held_out_scores_are_those_of_the_kept_networks(self):
        train, held_out = self.folds()
        n_networks = len(train)
        scale = np.ones((n_networks, X.shape[1]), np.float32)
        scale[::2, 3] = 0
        for layout in (HIDDEN, StackLayout(N_CLASSES, hidden=0)):
            for sparse in (False, True):
                with self.subTest(hidden=layout.hidden, sparse=sparse):
                    curves, networks = stack(
                        X=sp.csr_matrix(X) if sparse else X, scale=scale,
                        train_weight=train, held_out_weight=held_out,
                        layout=layout, n_networks=n_networks, epochs=5,
                        keep_epoch=np.full(n_networks, 5))
                    for m, network in enumerate(networks):
                        probs = network.predict_proba(
                            network_input(X, scale[m]))
                        weight = held_out[m]
                        self.assertAlmostEqual(
                            np.sum(-np.log(probs[np.arange(len(Y)), Y])
                                   * weight) / weight.sum(),
                            curves.held_out_loss[-1, m], places=5)
                        self.assertAlmostEqual(
                            np.sum((probs.argmax(axis=1) == Y) * weight)
                            / weight.sum(),
                            curves.held_out_accuracy[-1, m], places=5)


class TestKeepBest(unittest.TestCase):
    """Two networks hold out half the rows each; a third trains on all rows
    and is kept by their mean held-out loss."""

    def train(self, min_delta, **kwargs):
        train = np.ones((3, len(Y)), np.float32)
        train[0, :20] = train[1, 20:] = 0
        held_out = 1 - train
        return stack(n_networks=3, train_weight=train,
                     held_out_weight=held_out, epochs=30, learning_rate=0.1,
                     **kwargs,
                     keep_best=KeepBest(np.zeros(3, int),
                                        np.array([0.5, 0.5, 0]), min_delta))

    def test_the_kept_network_is_the_one_at_its_groups_best_epoch(self):
        for min_delta in (0.0, 0.01):
            with self.subTest(min_delta=min_delta):
                curves, networks = self.train(min_delta, returned=[2])
                mean = curves.held_out_loss[:, :2].mean(axis=1)
                epoch = keras_best_epoch(mean, min_delta)
                self.assertLess(epoch, 30)  # else the last would pass
                self.assertEqual(list(curves.kept_epoch), [epoch])
                _, at_epoch = self.train(min_delta,
                                         keep_epoch=np.full(3, epoch))
                inputs = network_input(X, np.ones(10, np.float32))
                self.assertEqual(len(networks), 1)
                np.testing.assert_allclose(
                    networks[0].predict_proba(inputs),
                    at_epoch[2].predict_proba(inputs), rtol=1e-5, atol=1e-7)

    def test_a_larger_min_delta_keeps_an_earlier_epoch(self):
        small, _ = self.train(0.0)
        large, _ = self.train(0.05)
        self.assertLess(large.kept_epoch[2], small.kept_epoch[2])

    def test_a_diverging_network_of_weight_zero_leaves_its_groups_score(self):
        scale = np.ones((3, 10), np.float32)
        scale[2] = 1e38  # the network on all rows overflows
        curves, _ = self.train(0.0, scale=scale, returned=[2])
        self.assertFalse(np.isfinite(curves.loss[:, 2]).any())
        mean = curves.held_out_loss[:, :2].mean(axis=1)
        self.assertEqual(list(curves.kept_epoch),
                         [keras_best_epoch(mean, 0.0)])

    def test_needs_held_out_rows(self):
        with self.assertRaisesRegex(ValueError, "held-out"):
            stack(keep_best=KeepBest(np.zeros(2, int), np.ones(2), 0.0))


class TestDivergence(unittest.TestCase):
    def test_a_diverging_network_leaves_the_others_be(self):
        scale = np.ones((2, 10), np.float32)
        scale[0] = 1e38  # the first network's inputs overflow
        curves, _ = stack(scale=scale)
        self.assertFalse(np.isfinite(curves.loss[:, 0]).any())
        self.assertTrue(np.isfinite(curves.loss[:, 1]).all())

    def test_a_stack_of_diverging_networks_is_an_error_that_says_why(self):
        # the learner's contract: what it cannot fit is a ValueError that
        # says what to change
        scale = np.full((2, 10), 1e38, np.float32)
        with self.assertRaisesRegex(
                ValueError, r"diverged.*lower the learning rate"):
            stack(scale=scale)


if __name__ == "__main__":
    unittest.main()

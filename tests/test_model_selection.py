"""The automatic choice, the learner's default: candidates of
``default_family`` scored by inner cross-validation on the training samples
alone, and an ensemble of the best ones."""
# pylint: disable=missing-docstring
import pickle
import threading
import unittest
from unittest import mock

import numpy as np
import scipy.sparse as sp
from sklearn.feature_selection import f_classif

from Orange.evaluation import CA, CrossValidation
from Orange.preprocess import Randomize

from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from orangecontrib.neuralgene import model_selection
from orangecontrib.neuralgene.model_selection import FALLBACK, default_family
from tests.awkward_tables import raw_counts, with_values
from tests.helpers import (
    assert_valid_probabilities, counts_table, expression_table,
    keras_best_epoch, predict_in_fresh_interpreter)


class TestDefaultLearnerChoosesByItself(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = expression_table()
        cls.learner = NeuralGeneClassifierLearner()
        cls.model = cls.learner(cls.data)

    def test_default_learner_is_automatic(self):
        self.assertTrue(self.learner.auto)
        self.assertIsNotNone(self.model.selection)
        self.assertFalse(self.model.selection.fell_back)

    def test_every_candidate_of_the_default_family_is_scored(self):
        family = default_family(len(self.data.domain.attributes))
        self.assertEqual(
            [score.candidate for score in self.model.selection.scores],
            family)
        for score in self.model.selection.scores:
            self.assertTrue(0 <= score.accuracy <= 1, score)
            self.assertTrue(np.isfinite(score.log_loss), score)
            self.assertTrue(1 <= score.epochs <= model_selection.MAX_EPOCHS)

    def test_the_ensemble_is_the_candidates_of_lowest_held_out_loss(self):
        scores = self.model.selection.scores
        chosen = [score for score in scores if score.chosen]
        self.assertEqual(len(chosen), self.learner.ensemble_size)
        self.assertLess(len(chosen), len(scores))  # else nothing was left out
        worst_chosen = max(score.log_loss for score in chosen)
        for score in scores:
            if not score.chosen:
                self.assertGreaterEqual(score.log_loss, worst_chosen)

    def test_one_network_per_chosen_candidate_as_it_was_scored(self):
        members = self.model.members
        chosen = self.model.selection.chosen
        self.assertEqual(len(members), self.learner.ensemble_size)
        for member, score in zip(members, chosen):
            candidate = score.candidate
            spec = member.network.spec
            self.assertEqual(spec.hidden_layers, (candidate.hidden,)
                             if candidate.hidden else ())
            self.assertEqual(spec.l2, candidate.l2)
            self.assertEqual(len(member.columns), candidate.n_genes
                             or len(self.data.domain.attributes))

    def test_a_candidates_epochs_are_its_best_by_keras_early_stopping(self):
        for score in self.model.selection.scores:
            curve = np.array(score.loss_curve)
            self.assertEqual(score.epochs, keras_best_epoch(
                curve, model_selection.MIN_DELTA))
            self.assertEqual(score.log_loss, curve[score.epochs - 1])

    def test_probabilities_are_the_mean_of_the_networks(self):
        X = self.model.network_input(self.data.X)
        each = [member.network.predict_proba(X[:, member.columns])
                for member in self.model.members]
        # networks that differ, else any one of them would pass
        self.assertFalse(np.allclose(each[0], each[1]))
        np.testing.assert_allclose(self.model(self.data, self.model.Probs),
                                   np.mean(each, axis=0), rtol=1e-6)


class TestBestEpochs(unittest.TestCase):
    delta = model_selection.MIN_DELTA

    def test_the_best_is_the_last_epoch_better_by_more_than_min_delta(self):
        creeping = [1.0, 0.5, 0.3, 0.3 - self.delta / 2, 0.3 - self.delta * .9]
        turning = [1.0, 0.6, 0.5, 0.4, 0.5]
        loss = np.column_stack([creeping, turning])
        np.testing.assert_equal(model_selection.best_epochs(loss), [2, 3])

    def test_an_undefined_loss_is_never_the_best(self):
        loss = np.array([[0.5, np.nan], [0.2, np.nan], [np.nan, np.nan]])
        np.testing.assert_equal(model_selection.best_epochs(loss), [1, 0])

    def test_training_stops_patience_epochs_after_the_last_new_best(self):
        patience = model_selection.PATIENCE
        # best at index 10, then creeping down by a 50th of MIN_DELTA an
        # epoch: better by more than MIN_DELTA only at index 61
        creeping = np.r_[np.linspace(1.0, 0.3, 11),
                         0.3 - self.delta / 50 * np.arange(1, 90)]
        # lowest at index 19
        turning = np.r_[np.linspace(1.0, 0.5, 20), np.full(80, 0.6)]
        loss = np.column_stack([creeping, turning])
        stops = [model_selection.patience_ran_out(loss[:done])
                 for done in range(1, 101)]
        self.assertEqual(stops.index(True) + 1, 19 + patience + 1)


class TestChoiceIsReproducible(unittest.TestCase):
    def test_same_random_state_gives_identical_probabilities(self):
        data = expression_table()
        first = NeuralGeneClassifierLearner(random_state=3)(data)
        second = NeuralGeneClassifierLearner(random_state=3)(data)
        np.testing.assert_array_equal(first(data, first.Probs),
                                      second(data, second.Probs))

    def test_different_random_states_give_different_probabilities(self):
        data = expression_table()
        first = NeuralGeneClassifierLearner(random_state=3)(data)
        second = NeuralGeneClassifierLearner(random_state=4)(data)
        self.assertFalse(np.array_equal(first(data, first.Probs),
                                        second(data, second.Probs)))


class TestStacksSideBySide(unittest.TestCase):
    def test_stacks_in_threads_train_what_they_train_one_by_one(self):
        data = expression_table()
        barrier = threading.Barrier(2, timeout=120)
        train_stack = model_selection.train_stack
        calls = []

        def first_two_meet(*args, **kwargs):
            calls.append(None)
            if len(calls) <= 2:  # the inner folds' two stacks
                barrier.wait()  # broken, and raising, unless side by side
            return train_stack(*args, **kwargs)

        with mock.patch.object(model_selection.os, "cpu_count",
                               return_value=2), \
                mock.patch.object(model_selection, "train_stack",
                                  first_two_meet):
            side_by_side = NeuralGeneClassifierLearner()(data)
        with mock.patch.object(model_selection, "SIDE_BY_SIDE_UP_TO", 0):
            one_by_one = NeuralGeneClassifierLearner()(data)
        np.testing.assert_array_equal(side_by_side(data, side_by_side.Probs),
                                      one_by_one(data, one_by_one.Probs))
        self.assertEqual(
            [(s.candidate, s.epochs, s.log_loss)
             for s in side_by_side.selection.scores],
            [(s.candidate, s.epochs, s.log_loss)
             for s in one_by_one.selection.scores])


class TestEnsembleSize(unittest.TestCase):
    def test_must_be_a_whole_number_of_at_least_one(self):
        data = expression_table()
        for size in (0, 1.5, -1):
            with self.subTest(size=size), \
                    self.assertRaisesRegex(ValueError, "ensemble size"):
                NeuralGeneClassifierLearner(ensemble_size=size)(data)

    def test_one_gives_the_best_candidate_alone(self):
        model = NeuralGeneClassifierLearner(ensemble_size=1)(
            expression_table())
        self.assertEqual(len(model.members), 1)
        best = min(model.selection.scores, key=lambda score: score.log_loss)
        self.assertEqual(model.selection.chosen, [best])


class TestTooFewSamplesForInnerFolds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = expression_table(n_samples=30)
        with cls.data.unlocked():
            cls.data.Y[np.flatnonzero(cls.data.Y == 2)[2:]] = 0
        cls.model = NeuralGeneClassifierLearner()(cls.data)

    def test_data_have_a_class_of_two_samples(self):
        self.assertEqual(np.bincount(self.data.Y.astype(int)).min(), 2)

    def test_the_fixed_fallback_is_trained_without_inner_folds(self):
        selection = self.model.selection
        self.assertTrue(selection.fell_back)
        self.assertEqual(selection.inner_folds, 0)
        self.assertEqual([score.candidate for score in selection.chosen],
                         [FALLBACK])

    def test_training_notes_say_so(self):
        self.assertIn("fallback", "\n".join(self.model.training_notes))

    def test_model_still_predicts(self):
        probs = assert_valid_probabilities(self.model, self.data)
        self.assertGreater(np.mean(probs.argmax(axis=1) == self.data.Y), 0.8)


class TestLargeTables(unittest.TestCase):
    def test_all_genes_candidates_keep_the_top_genes_of_a_large_table(self):
        cells, genes = 10_000, 20_000
        family = default_family(genes, cells)
        kept = model_selection.GENES_ON_LARGE_TABLES
        self.assertNotIn(None, [candidate.n_genes for candidate in family])
        self.assertEqual(len([c for c in family if c.n_genes == kept]), 6)
        self.assertIn(f"top {kept:,} genes",
                      model_selection.family_notes(genes, cells)[0])
        # the panel's largest table: every gene
        self.assertIn(None, [c.n_genes for c in default_family(4000, 3005)])
        self.assertEqual(model_selection.family_notes(4000, 3005), [])

    def test_a_large_sparse_table_trains_on_top_genes_kept_sparse(self):
        data = counts_table(n_cells=300, n_genes=400)
        dense_calls = []
        kept_columns = model_selection.kept_columns

        def record(X, columns, dense_up_to=None):
            kept = kept_columns(X, columns, dense_up_to)
            dense_calls.append(not sp.issparse(kept))
            return kept

        with mock.patch.object(model_selection, "LARGE_TABLE_VALUES", 1000), \
                mock.patch.object(model_selection, "GENES_ON_LARGE_TABLES",
                                  100), \
                mock.patch.object(model_selection, "DENSE_UP_TO", 1000), \
                mock.patch.object(model_selection, "kept_columns", record):
            model = NeuralGeneClassifierLearner()(data)
        self.assertIn("top 100 genes", "\n".join(model.training_notes))
        self.assertEqual(
            {score.candidate.n_genes for score in model.selection.scores},
            {100, 200, 50})
        self.assertLessEqual(len(model.selected_genes), 200)
        # the inner folds' 240 samples dense, the ensemble's 300 sparse
        self.assertIn(False, dense_calls)
        probs = assert_valid_probabilities(model, data)
        self.assertGreater(np.mean(probs.argmax(axis=1) == data.Y), 0.9)


class TestManySamples(unittest.TestCase):
    def test_an_epoch_of_the_ensemble_is_some_batches_of_at_most_max_rows(
            self):
        data = expression_table(n_samples=90)
        calls = []
        train_stack = model_selection.train_stack

        def record(*args, **kwargs):
            calls.append((kwargs["batch_size"], kwargs.get("rows_per_epoch")))
            return train_stack(*args, **kwargs)

        # more samples than the choice reads: the ensemble trains apart
        with mock.patch.object(model_selection, "MAX_BATCH", 4), \
                mock.patch.object(model_selection, "MAX_INNER_SAMPLES", 60), \
                mock.patch.object(model_selection, "train_stack", record):
            model = NeuralGeneClassifierLearner()(data)
        steps = model_selection.STEPS_PER_EPOCH
        # the inner folds' 40 training samples, then the ensemble's 90:
        # batches of 4, and the ensemble's epochs of steps × 4 rows
        self.assertEqual(set(calls), {(4, None), (4, steps * 4)})
        probs = assert_valid_probabilities(model, data)
        self.assertGreater(np.mean(probs.argmax(axis=1) == data.Y), 0.9)


    def test_inner_folds_on_as_many_samples_as_the_choice_reads_are_three(
            self):
        self.assertEqual(model_selection.inner_folds_for(999),
                         model_selection.MAX_INNER_FOLDS)
        self.assertEqual(model_selection.inner_folds_for(1000),
                         model_selection.MIN_INNER_FOLDS)
        data = expression_table(n_samples=90)
        with mock.patch.object(model_selection, "MAX_INNER_SAMPLES", 60):
            selection = NeuralGeneClassifierLearner()(data).selection
        self.assertEqual(selection.inner_folds,
                         model_selection.MIN_INNER_FOLDS)
        self.assertEqual(selection.n_samples, 60)


class TestEnsembleTrainedBeside(unittest.TestCase):
    """On up to MAX_INNER_SAMPLES samples, every candidate's network on all
    of them trains in its inner folds' stack."""

    def fit(self, data, **patches):
        calls = []
        train_stack = model_selection.train_stack

        def record(X, y, layout, center, scale, l2, train_weight,
                   held_out_weight=None, **kwargs):
            curves, networks = train_stack(
                X, y, layout, center, scale, l2, train_weight,
                held_out_weight, **kwargs)
            calls.append((train_weight, held_out_weight, kwargs, networks))
            return curves, networks

        with mock.patch.multiple(model_selection, train_stack=record,
                                 **patches):
            model = NeuralGeneClassifierLearner()(data)
        return model, calls

    def test_one_network_per_candidate_trains_on_all_samples_beside(self):
        data = expression_table(n_samples=60)
        model, calls = self.fit(data)
        n_folds = model.selection.inner_folds
        n_candidates = 0
        for train, held_out, kwargs, _ in calls:
            self.assertIsNotNone(held_out)  # no stack after the choice
            on_all = np.flatnonzero((train > 0).all(axis=1))
            self.assertEqual(list(on_all),
                             list(range(n_folds, len(train), n_folds + 1)))
            self.assertFalse(held_out[on_all].any())
            np.testing.assert_array_equal(kwargs["returned"], on_all)
            n_candidates += len(on_all)
        self.assertEqual(n_candidates, len(model.selection.scores))

    def test_the_members_are_the_networks_kept_beside(self):
        model, calls = self.fit(expression_table(n_samples=60))
        kept = [network for *_, kwargs, networks in calls
                if kwargs.get("keep_best") is not None
                for network in networks]
        for member in model.members:
            weights = member.network.weights
            same_later_layers = [
                network for network in kept
                if len(network.weights) == len(weights)
                and network.weights[0].shape == weights[0].shape
                and all(np.array_equal(a, b) for a, b in
                        zip(network.weights[1:], weights[1:]))]
            self.assertEqual(len(same_later_layers), 1)
            # the first layer differs by a factor per gene: the genes'
            # scaling folded into it, in the networks' float32
            ratio = weights[0] / same_later_layers[0].weights[0]
            np.testing.assert_allclose(ratio, np.repeat(
                ratio[:, :1], ratio.shape[1], axis=1), rtol=1e-5)
            self.assertEqual(weights[0].dtype, np.float32)

    def test_a_member_is_trained_for_its_candidates_epochs(self):
        data = expression_table(n_samples=60)
        for patches in ({}, {"MAX_INNER_SAMPLES": 40}):
            with self.subTest(**patches):
                model, _ = self.fit(data, **patches)
                best = model.selection.chosen[0]
                self.assertEqual(len(model.history["loss"]), best.epochs)
                self.assertEqual(model.best_epoch, best.epochs)

    def test_apart_where_the_choice_reads_fewer_samples_than_there_are(self):
        data = expression_table(n_samples=60)
        model, calls = self.fit(data, MAX_INNER_SAMPLES=40)
        held_out = [call[1] is not None for call in calls]
        # the inner folds' stacks, then the ensemble's
        self.assertIn(False, held_out)
        self.assertEqual(held_out, sorted(held_out, reverse=True))
        for _, _, kwargs, _ in calls:
            self.assertIsNone(kwargs.get("keep_best"))


class TestCountData(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.counts = with_values(raw_counts)
        cls.model = NeuralGeneClassifierLearner()(cls.counts)

    def test_counts_are_log_transformed_and_the_notes_say_so(self):
        self.assertGreater(self.counts.X.max(), 100)
        self.assertTrue(self.model.log_transform)
        self.assertIn("log-transformed", "\n".join(self.model.training_notes))

    def test_log_scale_data_are_left_as_they_are_even_if_not_negative(self):
        data = with_values(lambda X, _: X.__setitem__(
            slice(None), X - X.min()))
        self.assertGreater(data.X.max(), 5)
        model = NeuralGeneClassifierLearner()(data)
        self.assertFalse(model.log_transform)
        self.assertNotIn("log", "\n".join(model.training_notes))

    def test_a_model_of_counts_is_the_model_of_their_logarithms(self):
        # computed as fit does: in single precision
        logs = with_values(lambda X, _: X.__setitem__(
            slice(None), np.log1p(X.astype(np.float32))), self.counts)
        model = NeuralGeneClassifierLearner()(logs)
        self.assertFalse(model.log_transform)
        np.testing.assert_allclose(
            self.model(self.counts, self.model.Probs),
            model(logs, model.Probs), atol=1e-6)

    def test_unpickled_model_keeps_its_choice_and_predicts_the_same(self):
        loaded = pickle.loads(pickle.dumps(self.model))
        self.assertTrue(loaded.log_transform)
        self.assertEqual(
            [score.candidate for score in loaded.selection.chosen],
            [score.candidate for score in self.model.selection.chosen])
        np.testing.assert_array_equal(loaded.predict(self.counts.X),
                                      self.model.predict(self.counts.X))

    def test_model_predicts_the_same_in_a_fresh_interpreter(self):
        probs, _ = predict_in_fresh_interpreter(self, self.model,
                                                self.counts.X)
        np.testing.assert_array_equal(probs,
                                      self.model.predict(self.counts.X))


class TestCancel(unittest.TestCase):
    def test_progress_callback_that_raises_stops_the_choice(self):
        class Cancelled(Exception):
            pass

        reports = []

        def progress(fraction, message=""):
            reports.append((fraction, message))
            if message.startswith("Choosing") and fraction > 0:
                raise Cancelled

        for max_inner_samples in (40, 1000):  # the ensemble apart, beside
            with self.subTest(max_inner_samples=max_inner_samples), \
                    mock.patch.object(model_selection, "MAX_INNER_SAMPLES",
                                      max_inner_samples):
                reports.clear()
                with self.assertRaises(Cancelled):
                    NeuralGeneClassifierLearner()(expression_table(),
                                                  progress_callback=progress)
                # raised after the first ten epochs of the first stack
                self.assertLess(reports[-1][0], 0.5)
                self.assertNotIn("Training the chosen networks",
                                 [message for _, message in reports])


def stack_calls(data, learner, validation):
    """What every ``train_stack`` of ``learner`` is given while
    ``validation`` evaluates it on ``data``; and the results."""
    calls = []
    train_stack = model_selection.train_stack

    def record(X, y, layout, center, scale, l2, train_weight,
               held_out_weight=None, **kwargs):
        calls.append(dict(X=X.copy(), y=y.copy(), center=center.copy(),
                          scale=scale.copy(), train=train_weight > 0,
                          held_out=None if held_out_weight is None
                          else held_out_weight > 0))
        return train_stack(X, y, layout, center, scale, l2, train_weight,
                           held_out_weight, **kwargs)

    with mock.patch.object(model_selection, "train_stack", record):
        results = validation(data, [learner])
    return calls, results


class TestNoLeakage(unittest.TestCase):
    """Outer cross-validation's test samples never reach the inner choice;
    each inner fold ranks and scales genes on its own training rows."""

    @classmethod
    def setUpClass(cls):
        # more than 50 genes, so that the family has a top-50 candidate
        cls.data = expression_table(n_samples=45, n_genes=60)
        cls.calls, cls.results = stack_calls(
            cls.data, NeuralGeneClassifierLearner(), CrossValidation(k=3))
        cls.inner = [call for call in cls.calls
                     if call["held_out"] is not None]

    def values(self, rows):
        return self.data.X[rows].astype(np.float32)

    def test_every_value_of_the_data_tells_its_row(self):
        # what the checks below rely on to tell rows apart
        values = self.data.X.astype(np.float32)
        self.assertEqual(len(np.unique(values)), values.size)

    def test_no_stack_sees_a_test_sample_of_its_outer_fold(self):
        folds = [self.results.row_indices[fold]
                 for fold in self.results.folds]
        trained = set()
        for call in self.calls:
            # the outer fold whose training samples the stack was given
            fits = [f for f, test in enumerate(folds)
                    if not np.isin(call["X"], self.values(test)).any()]
            self.assertEqual(len(fits), 1)
            outer_training = np.setdiff1d(np.arange(len(self.data)),
                                          folds[fits[0]])
            self.assertTrue(np.isin(call["X"],
                                    self.values(outer_training)).all())
            self.assertEqual(len(call["X"]), len(outer_training))
            trained.add(fits[0])
        self.assertEqual(trained, {0, 1, 2})

    def test_inner_folds_hold_out_every_sample_as_often(self):
        for call in self.inner:
            train, held_out = call["train"], call["held_out"]
            self.assertFalse((train & held_out).any())
            self.assertTrue((train | held_out).all())
            times = held_out.sum(axis=0)
            self.assertTrue((times == times[0]).all() and times[0] > 0)

    def test_inner_folds_centre_genes_on_their_own_training_rows(self):
        for call in self.inner:
            for train, center in zip(call["train"], call["center"]):
                np.testing.assert_allclose(
                    center, call["X"][train].mean(axis=0),
                    rtol=1e-4, atol=1e-5)

    def test_inner_folds_scale_genes_by_their_own_training_rows(self):
        for call in self.inner:
            for train, scale in zip(call["train"], call["scale"]):
                used = scale != 0
                deviation = call["X"][train][:, used].std(axis=0)
                each = np.allclose(scale[used] * deviation, 1, rtol=1e-4)
                together = np.allclose(
                    scale[used], 1 / np.sqrt(np.mean(deviation ** 2)),
                    rtol=1e-4)
                self.assertTrue(each or together)

    def test_inner_folds_keep_the_top_genes_of_their_own_training_rows(self):
        n_checked = 0
        for call in self.inner:
            for train, scale in zip(call["train"], call["scale"]):
                used = np.flatnonzero(scale)
                if len(used) == scale.size:
                    continue  # a candidate of all genes
                scores, _ = f_classif(call["X"][train], call["y"][train])
                top = np.argsort(-scores)[:len(used)]
                np.testing.assert_array_equal(used, np.sort(top))
                n_checked += 1
        self.assertGreater(n_checked, 0)


class TestShuffledLabels(unittest.TestCase):
    """Where the genes say nothing of the classes, cross-validation shows
    chance; a choice of genes that had seen test samples would not (on these
    data, top genes chosen on all samples give shuffled labels 0.8)."""

    @classmethod
    def setUpClass(cls):
        # four balanced classes of 12, each raising 5 of 500 genes
        cls.data = expression_table(n_samples=48, n_genes=500, n_classes=4,
                                    shift=3.0)

    def accuracy(self, data):
        results = CrossValidation(k=3)(data, [NeuralGeneClassifierLearner()])
        return CA(results)[0]

    def test_real_labels_are_learned(self):
        self.assertGreater(self.accuracy(self.data), 0.85)

    def test_shuffled_labels_give_chance_accuracy(self):
        # chance is 0.25; 0.5 is over four standard deviations above it
        shuffled = Randomize(Randomize.RandomizeClasses, rand_seed=1)(
            self.data)
        self.assertLess(np.mean(shuffled.Y == self.data.Y), 0.5)
        self.assertLess(self.accuracy(shuffled), 0.5)


if __name__ == "__main__":
    unittest.main()

import pickle
import unittest

import numpy as np
import scipy.sparse as sp
from sklearn.feature_selection import f_classif

from Orange.classification import Learner as ClassificationLearner
from Orange.data import ContinuousVariable, DiscreteVariable, Domain, Table
from Orange.evaluation import CrossValidation
from Orange.preprocess import Normalize, Randomize

from orangecontrib.neuralgene import (
    NeuralGeneClassifierLearner, NeuralGeneClassifierModel)
from orangecontrib.neuralgene.learner import DEFAULT_PARAMETERS, EpochProgress

from tests.helpers import (
    QUICK_MANUAL, expression_table, predict_in_fresh_interpreter,
    run_in_fresh_interpreter)


class TestLearnerContract(unittest.TestCase):
    def test_is_an_orange_classification_learner(self):
        learner = NeuralGeneClassifierLearner()
        self.assertIsInstance(learner, ClassificationLearner)
        self.assertIs(learner.__returns__, NeuralGeneClassifierModel)

    def test_params_list_every_keyword(self):
        learner = NeuralGeneClassifierLearner(n_genes=50, dropout=0.3)
        self.assertEqual(set(learner.params), set(DEFAULT_PARAMETERS))
        self.assertEqual(learner.params["n_genes"], 50)
        self.assertEqual(learner.params["dropout"], 0.3)

    def test_repr_rebuilds_the_learner(self):
        learner = NeuralGeneClassifierLearner(
            hidden_layers=(32, 16), n_genes=None, class_weight="balanced")
        text = repr(learner)
        self.assertEqual(repr(eval(text)), text)  # pylint: disable=eval-used
        self.assertIn("hidden_layers=(32, 16)", text)

    def test_numeric_target_is_refused_with_a_reason(self):
        data = expression_table()
        domain = Domain(data.domain.attributes, ContinuousVariable("age"))
        numeric = Table.from_numpy(domain, data.X, np.arange(len(data)))
        with self.assertRaisesRegex(ValueError, "numeric"):
            NeuralGeneClassifierLearner()(numeric)

    def test_missing_target_variable_is_refused(self):
        data = expression_table()
        no_target = Table.from_numpy(Domain(data.domain.attributes), data.X)
        with self.assertRaisesRegex(ValueError, "no target"):
            NeuralGeneClassifierLearner()(no_target)

    def test_several_targets_are_refused(self):
        data = expression_table()
        domain = Domain(data.domain.attributes,
                        [data.domain.class_var,
                         DiscreteVariable("grade", ["lo", "hi"])])
        Y = np.column_stack([data.Y, data.Y % 2])
        with self.assertRaisesRegex(ValueError, "one target"):
            NeuralGeneClassifierLearner()(
                Table.from_numpy(domain, data.X, Y))

    def test_single_class_is_refused(self):
        data = expression_table()
        with data.unlocked():
            data.Y[:] = 0
        with self.assertRaisesRegex(ValueError, "two classes"):
            NeuralGeneClassifierLearner()(data)

    def test_invalid_parameters_raise_value_error(self):
        data = expression_table()
        for bad in (dict(hidden_layers=(0,)), dict(activation="magic"),
                    dict(dropout=1.0), dict(n_genes=0), dict(epochs=0),
                    dict(learning_rate=0), dict(class_weight="equal")):
            with self.subTest(**bad), self.assertRaises(ValueError):
                NeuralGeneClassifierLearner(**bad)(data)


class TestPrediction(unittest.TestCase):
    def test_learns_planted_signal(self):
        train = expression_table(seed=0)
        test = expression_table(seed=1)
        model = NeuralGeneClassifierLearner()(train)
        self.assertGreater(np.mean(model(test) == test.Y), 0.9)

    def test_probabilities_cover_classes_missing_from_training(self):
        data = expression_table(n_classes=3)
        two_classes = data[data.Y < 2]
        model = NeuralGeneClassifierLearner()(two_classes)
        probs = model(data, model.Probs)
        self.assertEqual(probs.shape, (len(data), 3))
        np.testing.assert_allclose(probs.sum(axis=1), 1)
        np.testing.assert_array_equal(probs[:, 2], 0)

    def test_same_random_state_gives_identical_networks_by_hand(self):
        # automatic training: test_model_selection
        data = expression_table()
        first = NeuralGeneClassifierLearner(random_state=7,
                                            **QUICK_MANUAL)(data)
        second = NeuralGeneClassifierLearner(random_state=7,
                                             **QUICK_MANUAL)(data)
        np.testing.assert_array_equal(first(data, first.Probs),
                                      second(data, second.Probs))

    def test_different_random_states_give_different_networks_by_hand(self):
        data = expression_table()
        first = NeuralGeneClassifierLearner(random_state=1,
                                            **QUICK_MANUAL)(data)
        second = NeuralGeneClassifierLearner(random_state=2,
                                             **QUICK_MANUAL)(data)
        self.assertFalse(np.array_equal(first(data, first.Probs),
                                        second(data, second.Probs)))

    def test_sparse_data_give_the_same_model_as_dense(self):
        data = expression_table()
        sparse = data.to_sparse()
        self.assertTrue(sp.issparse(sparse.X))
        dense_model = NeuralGeneClassifierLearner()(data)
        sparse_model = NeuralGeneClassifierLearner()(sparse)
        np.testing.assert_allclose(dense_model(data, 1),
                                   sparse_model(sparse, 1), atol=1e-5)

    def test_missing_values_are_imputed(self):
        data = expression_table()
        with data.unlocked():
            data.X[::3, ::4] = np.nan
        model = NeuralGeneClassifierLearner()(data)
        probs = model(data, model.Probs)
        self.assertTrue(np.all(np.isfinite(probs)))

    def test_predicts_a_table_with_genes_in_another_order(self):
        data = expression_table()
        model = NeuralGeneClassifierLearner()(data)
        shuffled = data.transform(Domain(data.domain.attributes[::-1],
                                         data.domain.class_var))
        np.testing.assert_allclose(model(data, 1), model(shuffled, 1))


class TestGeneSelectionAndScaling(unittest.TestCase):
    """The genes kept by hand (``n_genes``); the automatic choice of genes
    is tested in test_model_selection."""

    def test_keeps_the_top_genes_by_anova(self):
        data = expression_table(n_genes=40, informative=3)
        model = NeuralGeneClassifierLearner(n_genes=9, **QUICK_MANUAL)(data)
        self.assertEqual(sorted(model.selected_genes), list(range(9)))

    def test_all_genes_are_kept_with_none_or_too_many(self):
        data = expression_table(n_genes=30)
        for n_genes in (None, 1000):
            model = NeuralGeneClassifierLearner(n_genes=n_genes,
                                                **QUICK_MANUAL)(data)
            self.assertEqual(len(model.selected_genes), 30)

    def test_cross_validation_fits_selection_and_scaling_on_training_folds(
            self):
        data = expression_table(n_samples=40, n_genes=30)
        learner = NeuralGeneClassifierLearner(n_genes=10, **QUICK_MANUAL)
        results = CrossValidation(k=4, store_models=True)(data, [learner])
        for fold, (model,) in zip(results.folds, results.models):
            train = data[np.setdiff1d(np.arange(len(data)),
                                      results.row_indices[fold])]
            scores, _ = f_classif(train.X, train.Y)
            top = np.argsort(scores)[-10:]
            self.assertEqual(sorted(model.selected_genes), sorted(top))
            np.testing.assert_allclose(
                model.scaler.mean_, train.X[:, model.selected_genes].mean(0),
                rtol=1e-4, atol=1e-5)

    def test_connected_preprocessor_adds_to_the_pipeline(self):
        data = expression_table()
        with data.unlocked():
            data.X[0, 0] = np.nan
        learner = NeuralGeneClassifierLearner(preprocessors=[Normalize()])
        self.assertEqual(learner.preprocessors[0].__class__, Normalize)
        active = [type(pp) for pp in learner.active_preprocessors]
        self.assertIn(Normalize, active)
        self.assertGreater(len(active), 1)
        model = learner(data)
        self.assertIsNotNone(model.scaler)
        self.assertTrue(np.all(np.isfinite(model(data, 1))))

    def test_randomize_preprocessor_is_accepted(self):
        model = NeuralGeneClassifierLearner(preprocessors=Randomize())(
            expression_table())
        self.assertIsInstance(model, NeuralGeneClassifierModel)


class TestTrainingByHand(unittest.TestCase):
    """``auto=False``: one network (here) trained with the settings given."""

    def test_history_has_one_entry_per_epoch(self):
        model = NeuralGeneClassifierLearner(
            **dict(QUICK_MANUAL, epochs=12, early_stopping=False))(
            expression_table())
        self.assertEqual(model.n_epochs_trained, 12)
        self.assertEqual(set(model.history), {"loss", "accuracy"})
        for values in model.history.values():
            self.assertEqual(len(values), 12)
        self.assertLess(model.history["loss"][-1], model.history["loss"][0])

    def test_early_stopping_keeps_the_best_validation_epoch(self):
        data = expression_table(n_samples=90)
        model = NeuralGeneClassifierLearner(
            **dict(QUICK_MANUAL, epochs=300, patience=5, early_stopping=True,
                   learning_rate=0.01))(data)
        self.assertIn("val_loss", model.history)
        self.assertLess(model.n_epochs_trained, 300)
        val_loss = model.history["val_loss"]
        self.assertEqual(model.best_epoch, int(np.argmin(val_loss)) + 1)
        self.assertEqual(model.n_epochs_trained, model.best_epoch + 5)

    def test_validation_split_is_stratified_even_if_rows_are_sorted(self):
        data = expression_table(n_samples=60)
        data = data[np.argsort(data.Y, kind="stable")]
        model = NeuralGeneClassifierLearner(
            **dict(QUICK_MANUAL, epochs=3, validation_fraction=0.2))(data)
        # all classes present in the validation split give accuracy steps
        # of 1/12; a split of the last rows would hold one class only
        self.assertIn("val_accuracy", model.history)
        self.assertEqual(model.training_notes, [])

    def test_too_small_data_train_without_early_stopping_and_say_so(self):
        data = expression_table(n_samples=4, n_classes=3)
        model = NeuralGeneClassifierLearner(
            **dict(QUICK_MANUAL, epochs=7))(data)
        self.assertEqual(model.n_epochs_trained, 7)
        self.assertNotIn("val_loss", model.history)
        self.assertTrue(any("validation" in note
                            for note in model.training_notes))

    def test_epoch_callback_sees_every_epoch_and_can_abort(self):
        seen = []

        class Stop(Exception):
            pass

        def on_epoch(epoch, n_epochs, logs):
            seen.append((epoch, n_epochs, sorted(logs)))
            if epoch == 3:
                raise Stop

        learner = NeuralGeneClassifierLearner(
            **dict(QUICK_MANUAL, epochs=10, early_stopping=False))
        with self.assertRaises(Stop):
            learner(expression_table(), epoch_callback=on_epoch)
        self.assertEqual([s[0] for s in seen], [1, 2, 3])
        self.assertEqual(seen[0][1:], (10, ["accuracy", "loss"]))


class TestTraining(unittest.TestCase):
    def test_progress_callback_reaches_the_end(self):
        progress = []
        NeuralGeneClassifierLearner()(
            expression_table(),
            progress_callback=lambda p, *_: progress.append(p))
        self.assertEqual(progress[-1], 1)
        self.assertEqual(progress, sorted(progress))

    def test_by_hand_progress_spans_every_network_and_names_it(self):
        reports, epochs = [], []
        NeuralGeneClassifierLearner(
            **dict(QUICK_MANUAL, epochs=4, early_stopping=False,
                   ensemble_size=2))(
            expression_table(),
            progress_callback=lambda p, message="": reports.append(
                (p, message)),
            epoch_callback=lambda epoch, *_: epochs.append(epoch))
        fractions = [p for p, _ in reports]
        self.assertEqual(fractions, sorted(fractions))
        messages = [message for _, message in reports]
        self.assertIn("Network 1 of 2: epoch 4 of 4", messages)
        self.assertIn("Network 2 of 2: epoch 4 of 4", messages)
        first_done = reports[messages.index(
            "Network 1 of 2: epoch 4 of 4")][0]
        self.assertAlmostEqual(first_done, 0.1 + 0.9 / 2)
        self.assertEqual(fractions[-1], 1)
        # the curves are the first network's
        self.assertEqual(epochs, [1, 2, 3, 4])
        self.assertEqual(
            {EpochProgress.from_message(message) for message in messages}
            - {None},
            {EpochProgress(epoch, 4, network, 2)
             for epoch in range(1, 5) for network in range(2)})

    def test_epoch_progress_reads_back_what_it_writes(self):
        for progress in (EpochProgress(3, 10), EpochProgress(1, 200, 0, 5),
                         EpochProgress(1, 200, 4, 5)):
            self.assertEqual(
                EpochProgress.from_message(progress.message()), progress)
        for other in ("Choosing the network", "Epoch 3", "Fitting..."):
            self.assertIsNone(EpochProgress.from_message(other))

    def test_balanced_class_weight_and_instance_weights_train(self):
        data = expression_table(n_samples=50)
        with data.unlocked():
            data.W = np.linspace(0.5, 2, len(data))
        model = NeuralGeneClassifierLearner(class_weight="balanced")(data)
        self.assertTrue(np.all(np.isfinite(model(data, 1))))


class TestPersistence(unittest.TestCase):
    def test_models_pickle_with_every_protocol(self):
        data = expression_table()
        model = NeuralGeneClassifierLearner()(data)
        expected = model.predict(data.X)
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with self.subTest(protocol=protocol):
                loaded = pickle.loads(pickle.dumps(model, protocol))
                np.testing.assert_array_equal(loaded.predict(data.X),
                                              expected)
                # Orange renormalises when mapping to the table's own
                # class variable, which may move the last bit
                np.testing.assert_allclose(loaded(data, 1), expected,
                                           rtol=1e-12, atol=1e-15)

    def test_learner_pickles(self):
        learner = NeuralGeneClassifierLearner(n_genes=10)
        self.assertEqual(repr(pickle.loads(pickle.dumps(learner))),
                         repr(learner))

    def test_model_predicts_the_same_in_a_fresh_process_and_is_silent(self):
        data = expression_table()
        model = NeuralGeneClassifierLearner()(data)
        probs, stderr = predict_in_fresh_interpreter(self, model, data.X)
        self.assertEqual(stderr, "")
        np.testing.assert_array_equal(probs, model.predict(data.X))

    def test_training_prints_nothing(self):
        done = run_in_fresh_interpreter(self, """
            from tests.helpers import expression_table
            from orangecontrib.neuralgene import NeuralGeneClassifierLearner
            NeuralGeneClassifierLearner()(expression_table())
        """)
        self.assertEqual(done.stdout, "")
        self.assertEqual(done.stderr, "")


if __name__ == "__main__":
    unittest.main()

"""Every awkward table gives the learner's caller a model whose probabilities
are finite and sum to one, or a ValueError that says what to change."""
import io
import os
import pickle
import tempfile
import tracemalloc
import unittest
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from Orange.data import (
    ContinuousVariable, DiscreteVariable, Domain, StringVariable, Table)
from Orange.data.table import DomainTransformationError

from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from tests.awkward_tables import (
    CASES, ERROR, raw_counts, scattered_missing, set_genes, set_rows, wide,
    with_values)
from tests.helpers import (
    QUICK_MANUAL, assert_valid_probabilities, expression_table,
    run_in_fresh_interpreter)

# words of numpy, scikit-learn or TensorFlow that a biologist should not
# have to read in an error message
TECHNICAL_WORDS = ("array", "dtype", "shape", "concatenate", "tensor",
                   "NoneType", "index", "float32")


def assert_tells_what_to_change(message):
    assert len(message) > 30, message
    assert not any(word in message for word in TECHNICAL_WORDS), message


class TestAwkwardTables(unittest.TestCase):
    def test_every_case_gives_a_model_or_says_what_to_change(self):
        for name, (make_table, outcome, words) in CASES.items():
            with self.subTest(name):
                data = make_table()
                learner = NeuralGeneClassifierLearner()
                if outcome == ERROR:
                    with self.assertRaises(ValueError) as raised:
                        learner(data)
                    message = str(raised.exception)
                    self.assertIn(words.lower(), message.lower())
                    assert_tells_what_to_change(message)
                else:
                    model = learner(data)
                    assert_valid_probabilities(model, data)
                    notes = "\n".join(model.training_notes)
                    if words is None:
                        self.assertEqual(notes, "")
                    else:
                        self.assertIn(words, notes)

    def test_samples_without_a_label_are_left_out_of_training(self):
        data = with_values(set_rows(slice(None, None, 5), np.nan))
        model = NeuralGeneClassifierLearner()(data)
        self.assertEqual(model.scaler.n_samples_seen_, 48)

    def test_samples_without_values_are_left_out_of_training(self):
        data = with_values(set_genes([4, 9], slice(None), np.nan))
        model = NeuralGeneClassifierLearner()(data)
        self.assertEqual(model.scaler.n_samples_seen_, 58)

    def test_genes_without_values_are_left_out(self):
        data = with_values(set_genes(slice(None), [3, 7], np.nan))
        model = NeuralGeneClassifierLearner()(data)
        names = [var.name for var in model.domain.attributes]
        self.assertEqual(len(names), 38)
        self.assertNotIn("gene3", names)

    def test_infinite_values_are_filled_in_like_missing_ones(self):
        infinite = with_values(set_genes([1, 2], [0, 5], np.inf))
        missing = with_values(set_genes([1, 2], [0, 5], np.nan))
        learner = NeuralGeneClassifierLearner()
        np.testing.assert_allclose(learner(infinite)(missing, 1),
                                   learner(missing)(missing, 1), atol=1e-12)

    def test_huge_values_in_new_samples_give_finite_probabilities(self):
        data = expression_table(n_genes=300)
        # by hand, also two wide layers, where overflow compounds
        for parameters in ({}, dict(QUICK_MANUAL, n_genes=None,
                                    hidden_layers=(64, 64), epochs=5)):
            model = NeuralGeneClassifierLearner(**parameters)(data)
            for value in (1e30, -1e30, 3e38, -3e38, 1e300, np.inf, np.nan):
                with self.subTest(parameters=parameters, value=value):
                    new = with_values(
                        set_genes(slice(0, 10), slice(None), value), data)
                    assert_valid_probabilities(model, new)

    def test_raw_counts_train_by_hand_and_suggest_a_log_transform(self):
        # the automatic choice log-transforms them itself: test_model_selection
        data = with_values(raw_counts)
        model = NeuralGeneClassifierLearner(
            **dict(QUICK_MANUAL, epochs=40))(data)
        self.assertIn("log(x + 1)", "\n".join(model.training_notes))
        self.assertGreater(np.mean(model(data) == data.Y), 0.5)

    def test_fifty_thousand_genes_train_within_memory(self):
        data = wide()
        # the table itself is 8 MB; training by hand needs one float32 copy
        # and blocks of temporaries, not copies of the table per step; the
        # automatic choice also keeps every gene's centre and scale for each
        # network of an inner-fold stack: 36 networks on all genes, six
        # candidates by five folds and one on all samples, each array about
        # the table's size
        for mode, parameters, most in (("automatic", {}, 11),
                                       ("by hand", QUICK_MANUAL, 3)):
            with self.subTest(mode):
                # TensorFlow's import and the graphs' tracing are paid once
                # a process, not by this fit
                NeuralGeneClassifierLearner(**parameters)(wide(n_genes=100))
                tracemalloc.start()
                try:
                    model = NeuralGeneClassifierLearner(**parameters)(data)
                    _, peak = tracemalloc.get_traced_memory()
                finally:
                    tracemalloc.stop()
                assert_valid_probabilities(model, data)
                self.assertLess(peak, most * data.X.nbytes)


class TestPredictingOtherTables(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = expression_table()
        cls.model = NeuralGeneClassifierLearner()(cls.data)

    def test_genes_missing_from_new_data_count_as_the_training_mean(self):
        kept = self.data.domain.attributes[10:]
        fewer = self.data.transform(Domain(kept, self.data.domain.class_var))
        as_mean = with_values(
            lambda X, _: X.__setitem__(
                (slice(None), slice(0, 10)), self.data.X[:, :10].mean(0)),
            self.data)
        probs = assert_valid_probabilities(self.model, fewer)
        np.testing.assert_allclose(probs, self.model(as_mean, 1), atol=1e-5)

    def test_genes_in_another_order_give_the_same_probabilities(self):
        shuffled = self.data.domain.attributes[::-1]
        other_order = self.data.transform(
            Domain(shuffled, self.data.domain.class_var))
        np.testing.assert_allclose(self.model(other_order, 1),
                                   self.model(self.data, 1))

    def test_fewer_genes_in_another_order_after_training_with_gaps(self):
        data = with_values(scattered_missing)
        model = NeuralGeneClassifierLearner()(data)
        kept = data.domain.attributes[:5:-1]
        assert_valid_probabilities(
            model, data.transform(Domain(kept, data.domain.class_var)))

    def test_new_data_without_any_training_gene_are_refused(self):
        other = Table.from_numpy(
            Domain([ContinuousVariable("unrelated")]), np.ones((3, 1)))
        with self.assertRaises(DomainTransformationError):
            self.model(other)


class TestSavedModels(unittest.TestCase):
    def test_saved_model_loads_and_predicts_in_a_new_process(self):
        # trained with gaps and infinities, so that the saved model carries
        # Orange's imputation along with the network
        data = with_values(set_genes([1, 2], [0, 5], np.inf),
                           with_values(scattered_missing))
        model = NeuralGeneClassifierLearner()(data)
        with tempfile.TemporaryDirectory() as folder:
            model_path = os.path.join(folder, "model.pkcls")
            data_path = os.path.join(folder, "samples.pkl")
            with open(model_path, "wb") as f:
                pickle.dump(model, f)  # as Orange's Save Model does
            data.save(data_path)
            done = run_in_fresh_interpreter(self, """
                import pickle, sys
                import numpy as np
                from Orange.data import Table
                with open(sys.argv[1], "rb") as f:  # as Load Model does
                    model = pickle.load(f)
                probs = model(Table(sys.argv[2]), model.Probs)
                np.save(sys.stdout.buffer, probs)
                print("\\n".join(model.training_notes), file=sys.stderr)
            """, model_path, data_path, binary=True)
        probs = np.load(io.BytesIO(done.stdout))
        np.testing.assert_allclose(probs, model(data, model.Probs),
                                   rtol=1e-6, atol=1e-7)
        self.assertEqual(done.stderr.decode().strip(),
                         "\n".join(model.training_notes))


class TestRandomTables(unittest.TestCase):
    """The contract on random mixtures of the awkward cases."""

    def test_random_tables_give_a_model_or_say_what_to_change(self):
        outcomes = Counter()

        @settings(max_examples=50, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(random_tables(), learner_parameters())
        def check(data, parameters):
            learner = NeuralGeneClassifierLearner(**parameters)
            try:
                model = learner(data)
            except ValueError as error:
                assert_tells_what_to_change(str(error))
                outcomes["clear error"] += 1
                return
            assert_valid_probabilities(model, data)
            genes = [i for i, var in enumerate(data.domain.attributes)
                     if var.is_continuous]
            if not data.is_sparse():
                new_samples = with_values(
                    set_genes(slice(None), genes[::2], np.inf), data)
                assert_valid_probabilities(model, new_samples)
            outcomes["model with notes" if model.training_notes
                     else "model"] += 1

        check()
        n_examples = sum(outcomes.values())
        print(f"\nhypothesis: {n_examples} random tables: {dict(outcomes)}")
        self.assertGreaterEqual(n_examples, 40)


CELL_VALUES = {
    "expression": st.floats(-5, 5),
    "counts": st.integers(0, 100_000).map(float),
    "constant": st.just(2.5),
    "missing": st.just(np.nan),
    "mixed": st.one_of(
        st.floats(-5, 5),
        st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e30, -1e30, 1e300,
                         3e38])),
}


@st.composite
def random_tables(draw):
    n_rows = draw(st.integers(0, 12))
    n_genes = draw(st.integers(0, 6))
    n_categorical = draw(st.integers(0, 2))
    n_classes = draw(st.sampled_from([1, 2, 2, 3, 4]))
    columns = []
    for _ in range(n_genes):
        kind = draw(st.sampled_from(sorted(CELL_VALUES)))
        columns.append(draw(st.lists(CELL_VALUES[kind], min_size=n_rows,
                                     max_size=n_rows)))
    for _ in range(n_categorical):
        columns.append(draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, np.nan]),
                                     min_size=n_rows, max_size=n_rows)))
    X = np.array(columns, dtype=float).T if columns else np.empty((n_rows, 0))
    for row in draw(st.sets(st.integers(0, max(0, n_rows - 1)), max_size=2)):
        if row < n_rows:
            X[row] = np.nan
    layout = draw(st.sampled_from(["alternating", "sorted", "shuffled",
                                   "any"]))
    if layout == "any":
        Y = np.array(draw(st.lists(st.integers(0, n_classes - 1),
                                   min_size=n_rows, max_size=n_rows)),
                     dtype=float)
    else:
        Y = (np.arange(n_rows) % n_classes).astype(float)
        if layout == "sorted":
            Y.sort()
        elif layout == "shuffled":
            Y = Y[draw(st.permutations(range(n_rows)))]
    for row in draw(st.sets(st.integers(0, max(0, n_rows - 1)), max_size=3)):
        if row < n_rows:
            Y[row] = np.nan
    attributes = (
        [ContinuousVariable(f"gene{i}") for i in range(n_genes)]
        + [DiscreteVariable(f"batch{i}", ["A", "B", "C"])
           for i in range(n_categorical)])
    class_var = DiscreteVariable("tumour",
                                 [f"type{c}" for c in range(n_classes)])
    metas = [StringVariable("sample")] if draw(st.booleans()) else []
    ids = np.array([f"S{i}" for i in range(n_rows)], dtype=object
                   ).reshape(n_rows, 1)
    data = Table.from_numpy(Domain(attributes, class_var, metas), X, Y,
                            ids if metas else None)
    if n_categorical == 0 and draw(st.booleans()):
        data = data.to_sparse()
    return data


@st.composite
def learner_parameters(draw):
    """The automatic choice, or a small network by hand."""
    class_weight = draw(st.sampled_from([None, "balanced"]))
    if draw(st.booleans()):
        return dict(class_weight=class_weight)
    return dict(
        QUICK_MANUAL, epochs=2, hidden_layers=(4,),
        class_weight=class_weight,
        n_genes=draw(st.sampled_from([None, 1, 3])),
        early_stopping=draw(st.booleans()),
        batch_size=draw(st.sampled_from([1, 4, 32])))


if __name__ == "__main__":
    unittest.main()

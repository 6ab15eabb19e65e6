"""Sparse tables (single-cell counts) end to end: the same answers as the
same table dense, and never the whole table dense."""
import tracemalloc
import unittest
from unittest import mock

import numpy as np
import scipy.sparse as sp
from sklearn.feature_selection import f_classif

from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from orangecontrib.neuralgene import (
    learner as learner_module, model_selection, network, sparse_batches,
    sparse_expression)
from orangecontrib.neuralgene.attribution import ROWS_PER_CLASS
from orangecontrib.neuralgene.gene_scores import anova_f_scores
from orangecontrib.neuralgene.importance import gene_importance
from orangecontrib.neuralgene.learner import ImputeMissingValues
from orangecontrib.neuralgene.tensorflow_startup import import_keras

from tests.helpers import counts_table

# Settings by hand as in the single-cell benchmark, with few epochs
MANUAL = dict(auto=False, n_genes=200, epochs=3, early_stopping=False,
              ensemble_size=1)
# The same with all genes, which the network reads sparse
ALL_GENES = dict(MANUAL, n_genes=None)
# The automatic choice, its inner cross-validation cut short
FEW_EPOCHS = 10


def automatic_choice_cut_short():
    return mock.patch.object(model_selection, "MAX_EPOCHS", FEW_EPOCHS)


class DenseCopies:
    """Records the shape of every dense copy that the add-on's float32
    copies and scipy's toarray make while it is entered."""

    def __init__(self):
        self.shapes = []
        copy = sparse_expression.float32_copy

        def float32_copy(X):
            self.shapes.append(X.shape)
            return copy(X)

        toarray = sp.csr_matrix.toarray

        def csr_toarray(matrix, *args, **kwargs):
            self.shapes.append(matrix.shape)
            return toarray(matrix, *args, **kwargs)

        self.patches = [
            mock.patch.object(module, "float32_copy", float32_copy)
            for module in (learner_module, sparse_expression, network)] + [
            mock.patch.object(sp.csr_matrix, "toarray", csr_toarray)]

    def __enter__(self):
        for patch in self.patches:
            patch.start()
        return self

    def __exit__(self, *_):
        for patch in self.patches:
            patch.stop()


class TestNeverDenseAsAWhole(unittest.TestCase):
    """20,000 genes of 400 cells: neither fitting, nor predicting, nor
    gene importance makes a dense copy of all genes of more cells than a
    block (here 52) or than gene importance averages over (30 a class),
    and less memory is taken than the dense table would need (as Orange
    holds it, in float64)."""

    n_cells, n_genes = 400, 20_000
    block = 2 ** 20

    @classmethod
    def setUpClass(cls):
        import_keras()
        cls.data = counts_table(n_cells=cls.n_cells, n_genes=cls.n_genes)
        cls.dense_bytes = cls.n_cells * cls.n_genes * 8

    def assert_never_dense(self, learner):
        tracemalloc.start()
        try:
            with DenseCopies() as copies, \
                    mock.patch.object(sparse_expression, "BLOCK_ELEMENTS",
                                      self.block), \
                    mock.patch.object(sparse_batches, "BLOCK_ELEMENTS",
                                      self.block):
                model = learner(self.data)
                model(self.data)
                gene_importance(model, self.data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        rows_of_all_genes = [rows for rows, genes in copies.shapes
                             if genes == self.n_genes]
        n_classes = len(self.data.domain.class_var.values)
        self.assertLessEqual(
            max(rows_of_all_genes, default=0),
            max(self.block // self.n_genes, ROWS_PER_CLASS * n_classes))
        self.assertLess(peak, self.dense_bytes)
        return model

    def test_by_hand_with_the_top_genes(self):
        model = self.assert_never_dense(NeuralGeneClassifierLearner(**MANUAL))
        self.assertEqual(len(model.selected_genes), 200)

    def test_by_hand_with_all_genes(self):
        model = self.assert_never_dense(
            NeuralGeneClassifierLearner(**ALL_GENES))
        self.assertEqual(len(model.selected_genes), self.n_genes)

    def test_with_the_automatic_choice(self):
        with automatic_choice_cut_short():
            model = self.assert_never_dense(NeuralGeneClassifierLearner())
        # the networks read all genes: no whole copy still
        self.assertEqual(len(model.selected_genes), self.n_genes)


class TestSparseAsDense(unittest.TestCase):
    """Sparse counts give the same models as the same counts dense; more
    than a thousand genes, so that the top genes train apart."""

    @classmethod
    def setUpClass(cls):
        cls.sparse = counts_table(n_cells=150, n_genes=1500)
        cls.dense = cls.sparse.to_dense()

    def assert_same_predictions(self, learner):
        sparse_model, dense_model = learner(self.sparse), learner(self.dense)
        np.testing.assert_allclose(sparse_model(self.sparse, 1),
                                   dense_model(self.dense, 1), atol=1e-5)
        np.testing.assert_allclose(sparse_model(self.dense, 1),
                                   sparse_model(self.sparse, 1), atol=1e-6)
        return sparse_model, dense_model

    def test_by_hand(self):
        sparse_model, dense_model = self.assert_same_predictions(
            NeuralGeneClassifierLearner(**MANUAL))
        np.testing.assert_array_equal(sparse_model.selected_genes,
                                      dense_model.selected_genes)
        np.testing.assert_allclose(
            gene_importance(sparse_model, self.sparse).overall,
            gene_importance(dense_model, self.dense).overall, atol=1e-6)

    def test_by_hand_with_all_genes(self):
        # with early stopping, its 15 validation rows evaluated 4 at a time
        learner = NeuralGeneClassifierLearner(**dict(
            ALL_GENES, epochs=6, early_stopping=True, patience=2))
        with mock.patch.object(sparse_batches, "BLOCK_ELEMENTS", 4 * 1500):
            sparse_model, dense_model = self.assert_same_predictions(learner)
        for key, values in dense_model.history.items():
            np.testing.assert_allclose(sparse_model.history[key], values,
                                       rtol=1e-5)
        np.testing.assert_allclose(
            gene_importance(sparse_model, self.sparse).overall,
            gene_importance(dense_model, self.dense).overall, atol=1e-6)

    def test_with_the_automatic_choice(self):
        with automatic_choice_cut_short():
            sparse_model, dense_model = self.assert_same_predictions(
                NeuralGeneClassifierLearner())
        self.assertEqual(
            [str(score.candidate) for score in sparse_model.selection.chosen],
            [str(score.candidate) for score in dense_model.selection.chosen])

    def test_gene_scores_are_anova_f_of_the_dense_values(self):
        X = self.sparse.X.astype(np.float32)
        y = self.sparse.Y
        expected, _ = f_classif(X.toarray().astype(float), y)
        np.testing.assert_allclose(anova_f_scores(X, y),
                                   np.nan_to_num(expected), rtol=1e-6)


class TestHugeValues(unittest.TestCase):
    """Values whose squares overflow float32 (beyond about 1e19) are scaled
    alike sparse and dense."""

    @classmethod
    def setUpClass(cls):
        cls.sparse = counts_table(n_cells=60, n_genes=40)
        with cls.sparse.unlocked(cls.sparse.X):
            cls.sparse.X.data *= 1e20
        cls.dense = cls.sparse.to_dense()

    def test_scalers_agree(self):
        X = self.sparse.X.astype(np.float32)
        sparse_scaler = sparse_expression.fit_scaler(X)
        dense_scaler = sparse_expression.fit_scaler(X.toarray())
        self.assertGreater(sparse_scaler.scale_.max(), 1e19)
        for name in ("mean_", "scale_"):
            np.testing.assert_allclose(getattr(sparse_scaler, name),
                                       getattr(dense_scaler, name),
                                       rtol=1e-5)

    def test_models_agree(self):
        learner = NeuralGeneClassifierLearner(**ALL_GENES)
        np.testing.assert_allclose(learner(self.sparse)(self.sparse, 1),
                                   learner(self.dense)(self.dense, 1),
                                   atol=1e-5)


class TestMostlyNonZero(unittest.TestCase):
    """A sparse table of mostly non-zero values trains dense, as the same
    table dense does: it takes less memory so, and less time."""

    def test_trains_dense_and_as_the_dense_table(self):
        data = counts_table(n_cells=60, n_genes=40, density=1.0)
        self.assertTrue(sparse_expression.smaller_dense(data.X))
        inputs = []
        train_stack = model_selection.train_stack

        def record(X, *args, **kwargs):
            inputs.append(sp.issparse(X))
            return train_stack(X, *args, **kwargs)

        with automatic_choice_cut_short(), \
                mock.patch.object(model_selection, "train_stack", record):
            sparse_model = NeuralGeneClassifierLearner()(data)
            dense_model = NeuralGeneClassifierLearner()(data.to_dense())
        self.assertEqual(set(inputs), {False})
        np.testing.assert_allclose(sparse_model(data, 1),
                                   dense_model(data.to_dense(), 1),
                                   atol=1e-6)

    def test_mostly_zero_tables_stay_sparse(self):
        self.assertFalse(sparse_expression.smaller_dense(counts_table().X))


class TestSparseMissingValues(unittest.TestCase):
    def test_nothing_to_fill_in_leaves_the_table_as_it_is(self):
        data = counts_table()
        self.assertIs(ImputeMissingValues()(data), data)

    def test_missing_values_become_their_genes_mean(self):
        data = counts_table(n_cells=30, n_genes=20, density=0.5)
        with data.unlocked(data.X):
            data.X.data[::7] = np.nan
        values = data.X.toarray()
        filled = ImputeMissingValues()(data)
        self.assertIs(filled.domain, data.domain)
        self.assertTrue(sp.issparse(filled.X))
        means = np.nanmean(values, axis=0)
        np.testing.assert_allclose(
            filled.X.toarray(),
            np.where(np.isnan(values), means[None, :], values))
        self.assertTrue(np.isnan(data.X.data).any())  # not filled in place


class TestSparseProducts(unittest.TestCase):
    """Rows of a sparse matrix times weights, in blocks of a few rows."""

    def test_equal_the_dense_products(self):
        import_keras()
        import tensorflow as tf

        rng = np.random.RandomState(0)
        X = sp.random(50, 30, density=0.2, format="csr", random_state=rng,
                      dtype=np.float32)
        rows = rng.permutation(50)[:23]
        weights = rng.normal(size=(30, 4)).astype(np.float32)
        upstream = rng.normal(size=(23, 4)).astype(np.float32)
        csr, which = sparse_batches.csr_tensors(X), tf.constant(rows)
        with mock.patch.object(sparse_batches, "BLOCK_ELEMENTS", 5 * 30):
            product = sparse_batches.times(csr, which, weights)
            transposed = sparse_batches.transposed_times(csr, which,
                                                         upstream)
        dense = X.toarray()[rows]
        np.testing.assert_allclose(product, dense @ weights, rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(transposed, dense.T @ upstream,
                                   rtol=1e-5, atol=1e-5)


if __name__ == "__main__":
    unittest.main()

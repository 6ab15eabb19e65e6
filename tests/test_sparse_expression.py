"""Steps on whole sparse tables that must neither make them dense nor copy
them at full size: the data checks' summary, read a block of stored values
at a time, and the learner's float32 copy of a table whose rows are not in
canonical form."""
# pylint: disable=missing-docstring
import unittest
from unittest import mock

import numpy as np
import scipy.sparse as sp

from orangecontrib.neuralgene import data_checks
from orangecontrib.neuralgene.data_checks import data_notes
from orangecontrib.neuralgene.sparse_expression import float32_sparse_copy
from tests.helpers import counts_table


class TestSparseDataNotesInBlocks(unittest.TestCase):
    def test_blocks_of_stored_values_say_what_the_whole_does(self):
        data = counts_table(n_cells=50, n_genes=300)
        with data.unlocked(data.X):
            data.X.data[::97] = np.nan
            data.X.data[5] = 1e39  # beyond float32
        whole = data_notes(data)
        with mock.patch.object(data_checks, "_BLOCK_ELEMENTS", 7):
            in_blocks = data_notes(data)
        self.assertEqual(in_blocks, whole)
        self.assertTrue(any("missing" in note for note in whole), whole)

    def test_no_mask_is_as_large_as_the_stored_values(self):
        data = counts_table(n_cells=50, n_genes=300)
        sizes = []
        too_large = data_checks._too_large  # pylint: disable=protected-access

        def record(values):
            sizes.append(values.size)
            return too_large(values)

        with mock.patch.object(data_checks, "_BLOCK_ELEMENTS", 7), \
                mock.patch.object(data_checks, "_too_large", record):
            data_notes(data)
        self.assertTrue(sizes)
        self.assertLessEqual(max(sizes), 7)


class TestFloat32CopyOfRowsNotCanonical(unittest.TestCase):
    def setUp(self):
        # row 0 holds gene 2 twice and its genes out of order
        self.X = sp.csr_matrix(
            (np.array([1.0, 2.0, 3.0, 4.0]), np.array([2, 0, 2, 1]),
             np.array([0, 3, 4])), shape=(2, 3))
        self.before = (self.X.data.copy(), self.X.indices.copy())

    def test_the_copy_sums_duplicates_in_canonical_form(self):
        copy = float32_sparse_copy(self.X)
        self.assertEqual(copy.dtype, np.float32)
        self.assertTrue(copy.has_canonical_format)
        np.testing.assert_array_equal(copy.toarray(),
                                      [[2, 0, 4], [0, 4, 0]])

    def test_the_tables_values_are_not_copied_at_their_size(self):
        with mock.patch.object(sp.csr_matrix, "copy",
                               side_effect=AssertionError("a full copy")):
            float32_sparse_copy(self.X)

    def test_the_table_itself_is_left_as_it_was(self):
        float32_sparse_copy(self.X)
        np.testing.assert_array_equal(self.X.data, self.before[0])
        np.testing.assert_array_equal(self.X.indices, self.before[1])

    def test_a_canonical_table_shares_its_structure_with_the_copy(self):
        X = sp.csr_matrix(np.array([[0, 1.5], [2, 0]]))
        copy = float32_sparse_copy(X)
        self.assertTrue(np.shares_memory(copy.indices, X.indices))


if __name__ == "__main__":
    unittest.main()

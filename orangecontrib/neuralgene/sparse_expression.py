"""Expression matrices stored sparse (single-cell counts, about 5% of them
non-zero): the steps of training that must not make the whole matrix dense.

Numpy and scipy in and out; knows neither Orange nor Qt.
"""
from typing import Optional

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import StandardScaler

from orangecontrib.neuralgene.tensors import float32_copy

__all__ = ["float32_sparse_copy", "fill_missing_with_means", "kept_columns",
           "fit_scaler", "smaller_dense", "stored_values", "row_blocks",
           "rows_per_block", "BLOCK_ELEMENTS"]

# Values of sparse rows made dense at a time (16 MB in float32)
BLOCK_ELEMENTS = 2 ** 22


def float32_sparse_copy(X) -> sp.csr_matrix:
    """Sparse X as CSR, one float32 value per gene and row, whose values
    fit may change in place; where X is such a CSR matrix already, the
    copy shares its structure (half the memory of a full copy), which
    must then not change."""
    X = sp.csr_matrix(X)
    with np.errstate(over="ignore"):  # beyond float32 becomes infinite
        values = X.data.astype(np.float32)
    if X.has_canonical_format:
        return sp.csr_matrix((values, X.indices, X.indptr), shape=X.shape)
    # sorting and summing duplicates changes the structure: a copy of it,
    # with the float32 values rather than the table's own
    copy = sp.csr_matrix((values, X.indices.copy(), X.indptr.copy()),
                         shape=X.shape)
    copy.sum_duplicates()
    return copy


def smaller_dense(X) -> bool:
    """Whether sparse X would take less memory dense: stored sparse, a
    value takes 8 bytes (float32 and its gene's index) against 4 dense, so
    from half the values non-zero on. Such tables (CITE-seq or deeply
    sequenced cells, 57-62% non-zero in the panel) also train faster dense:
    Zeisel's 2404 cells took 47 s to fit sparse and 16 s dense."""
    return 2 * X.nnz >= X.shape[0] * X.shape[1]


def stored_values(X) -> np.ndarray:
    """The values of X that exist in memory: all of dense X, the non-zeros
    of sparse X (changing them changes X)."""
    return X.data if sp.issparse(X) else X


def fill_missing_with_means(X) -> sp.csr_matrix:
    """A copy of sparse X with its missing values replaced by their gene's
    mean over the known values, the zeros among them: mean imputation that
    reads the non-zeros only, not one gene at a time."""
    X = sp.csr_matrix(X, copy=True)
    missing = np.isnan(X.data)
    genes = X.indices[missing]
    known = X.shape[0] - np.bincount(genes, minlength=X.shape[1])
    X.data[missing] = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.asarray(X.sum(axis=0)).ravel() / known
    X.data[missing] = np.nan_to_num(means[genes])
    return X


def kept_columns(X, columns: np.ndarray,
                 dense_up_to: Optional[int] = None):
    """The genes ``columns`` of X: dense as given, or, from sparse X, dense
    float32 where they are some of the genes (and at most ``dense_up_to``
    values, where given) and still sparse otherwise."""
    if not sp.issparse(X):
        return X[:, columns]
    if len(columns) == X.shape[1] and np.all(columns == np.arange(X.shape[1])):
        return X
    kept = sp.csr_matrix(X)[:, columns]
    if dense_up_to is not None and kept.shape[0] * kept.shape[1] > dense_up_to:
        return float32_sparse_copy(kept)
    return float32_copy(kept)


def rows_per_block(n_genes: int, block_elements: Optional[int] = None
                   ) -> int:
    """Rows of ``n_genes`` in a block of at most ``block_elements`` values
    (``BLOCK_ELEMENTS`` where None; at least one row)."""
    if block_elements is None:
        block_elements = BLOCK_ELEMENTS
    return max(1, block_elements // max(1, n_genes))


def row_blocks(n_rows: int, n_genes: int):
    """Slices of rows of at most ``BLOCK_ELEMENTS`` values (one, if none)."""
    step = rows_per_block(n_genes)
    for start in range(0, max(1, n_rows), step):
        yield slice(start, start + step)


def fit_scaler(X) -> StandardScaler:
    """A scaler to zero mean and unit variance fitted on X, dense or sparse;
    it scales dense samples."""
    if not sp.issparse(X):
        return StandardScaler().fit(X)
    # sparse data cannot be centred, but the scaler learns their means
    # all the same, and centres the dense samples it is given later
    with np.errstate(over="ignore"):  # mended below
        scaler = StandardScaler(with_mean=False).fit(X).set_params(
            with_mean=True)
    overflowed = np.flatnonzero(~np.isfinite(scaler.var_))
    if len(overflowed):
        # scikit-learn sums in float64 but returns a float32 matrix's
        # variances as float32, where those of values beyond about 1e19
        # overflow (and the scale then reads as 1): those genes again, in
        # float64
        wide = StandardScaler(with_mean=False).fit(
            sp.csc_matrix(X)[:, overflowed].astype(np.float64))
        for name in ("mean_", "var_", "scale_"):
            values = getattr(scaler, name).astype(np.float64)
            values[overflowed] = getattr(wide, name)
            setattr(scaler, name, values)
    return scaler

"""Ranking genes by how well they separate the classes: ANOVA F scores,
on dense tables and on sparse ones (single-cell counts) alike.

Numpy in, numpy out; knows neither Orange nor Qt.
"""
import warnings
from typing import Optional

import numpy as np
import scipy.sparse as sp
from sklearn.feature_selection import f_classif

__all__ = ["anova_f_scores", "top_genes"]

# Values at a time: f_classif's temporaries are as large as the data it
# sees, and expression tables can be gigabytes
_CHUNK_ELEMENTS = 2 ** 24
# A sparse block's float64 copy takes 12 bytes a stored value, with its
# column index, and its square as much again
_SPARSE_CHUNK_ELEMENTS = 2 ** 22


def anova_f_scores(X, y) -> np.ndarray:
    """Every gene's ANOVA F score between the classes (0 where undefined)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # constant genes and one-sample classes give undefined F scores
        warnings.simplefilter("ignore")
        if sp.issparse(X):
            scores = _sparse_f_scores(X, np.asarray(y))
        else:
            step = max(1, _CHUNK_ELEMENTS // max(1, len(X)))
            scores = np.concatenate([
                f_classif(X[:, start:start + step], y)[0]
                for start in range(0, X.shape[1], step)])
    return np.nan_to_num(scores, nan=0.0, posinf=0.0)


def top_genes(scores: np.ndarray, n_genes: Optional[int]) -> np.ndarray:
    """Indices of the ``n_genes`` best-scored genes, in column order."""
    if n_genes is None or n_genes >= len(scores):
        return np.arange(len(scores))
    return np.sort(np.argsort(-scores, kind="stable")[:n_genes])


def _sparse_f_scores(X, y):
    """f_classif's F from every class's sums and sums of squares, added up
    over blocks of samples: f_classif itself copies the matrix, per class
    and squared, and sums in its dtype (float32 here)."""
    X = sp.csr_matrix(X)
    classes, y = np.unique(y, return_inverse=True)
    n_classes, n_samples = len(classes), X.shape[0]
    sums = np.zeros((n_classes, X.shape[1]))
    squares = np.zeros_like(sums)
    # blocks of about _SPARSE_CHUNK_ELEMENTS stored values
    step = max(1, _SPARSE_CHUNK_ELEMENTS * n_samples // max(1, X.nnz))
    for start in range(0, n_samples, step):
        block = X[start:start + step].astype(np.float64)
        membership = sp.csr_matrix(
            (np.ones(block.shape[0]), (y[start:start + step],
                                       np.arange(block.shape[0]))),
            shape=(n_classes, block.shape[0]))
        sums += (membership @ block).toarray()
        block.data **= 2
        squares += (membership @ block).toarray()
    n_per_class = np.bincount(y, minlength=n_classes)[:, None]
    square_of_sums = sums.sum(axis=0) ** 2 / n_samples
    between = (sums ** 2 / n_per_class).sum(axis=0) - square_of_sums
    within = squares.sum(axis=0) - square_of_sums - between
    return (between / (n_classes - 1)) / (within / (n_samples - n_classes))

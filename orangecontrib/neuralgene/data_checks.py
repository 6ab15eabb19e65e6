"""Awkward expression tables: what the learner does with them, and notes
that tell the biologist.

Infinite values count as missing, samples without a single measured value
are left out, and ``data_notes`` describes what the learner's preprocessing
will leave out or fill in, and values that look like raw counts or like
codes for missing data. Knows Orange, not Qt.
"""
from typing import List

import numpy as np
import scipy.sparse as sp

from Orange.preprocess.preprocess import Preprocess

from orangecontrib.neuralgene.sparse_expression import rows_per_block

__all__ = ["InfiniteAsMissing", "RowsWithGenes", "data_notes",
           "has_missing", "LARGEST_VALUE"]

# The network computes in float32; larger values would become infinite
LARGEST_VALUE = float(np.finfo(np.float32).max)
# Non-negative values above this are raw counts or intensities, not log scale
RAW_COUNTS_ABOVE = 1000
# No measurement is this large; such values are codes or errors
IMPLAUSIBLY_LARGE = 1e15
# Rows are checked in blocks of this many values, so that the temporary
# masks stay small however large the table
_BLOCK_ELEMENTS = 2 ** 24


class InfiniteAsMissing(Preprocess):
    """Infinite values, and values too large for float32, become missing
    values, which later steps fill in."""

    def __call__(self, data):
        if sp.issparse(data.X):
            if not _too_large(data.X.data).any():
                return data
            data = data.copy()
            with data.unlocked(data.X):
                data.X.data[_too_large(data.X.data)] = np.nan
            return data
        if _within_float32(data.X) or not any(
                _too_large(data.X[rows]).any()
                for rows in _row_blocks(data.X)):
            return data
        data = data.copy()
        with data.unlocked(data.X):
            for rows in _row_blocks(data.X):
                block = data.X[rows]
                block[_too_large(block)] = np.nan
        return data


class RowsWithGenes(Preprocess):
    """Leaves out samples without a single measured value: filled in with
    gene means, they would teach the network that an average profile
    belongs to their class."""

    def __call__(self, data):
        if sp.issparse(data.X) or not has_missing(data.X):
            return data
        empty = np.concatenate([np.isnan(data.X[rows]).all(axis=1)
                                for rows in _row_blocks(data.X)])
        if not empty.any() or empty.all():
            return data
        return data[~empty]


def data_notes(data, advise_log_transform=True) -> List[str]:
    """Plain-words notes on what training will leave out or fill in, and on
    values that need the biologist's attention (a log transform of counts
    among them, unless the learner does it itself)."""
    notes = []
    n_targets = len(data.domain.class_vars)
    labelled = ~np.isnan(np.asarray(data.Y, float).reshape(
        len(data), n_targets)).any(axis=1)
    n_unlabelled = len(data) - int(labelled.sum())
    if 0 < n_unlabelled < len(data):
        notes.append(
            f"Left out of training: {_count(n_unlabelled, 'sample')} "
            f"without a known {data.domain.class_var.name}.")
    if not labelled.any() or not data.X.shape[1]:
        return notes
    X = data.X if labelled.all() else data.X[labelled]
    continuous = np.array([var.is_continuous
                           for var in data.domain.attributes])
    values = _summarize(X, continuous)

    if values.n_too_large:
        notes.append(
            f"Treated as missing: "
            f"{_count(values.n_too_large, 'infinite value')} "
            f"(or beyond ±{LARGEST_VALUE:.2g}).")
    empty_genes = np.flatnonzero(values.missing_per_gene == X.shape[0])
    if len(empty_genes) and not sp.issparse(X):
        names = [data.domain.attributes[i].name for i in empty_genes[:5]]
        more = ", …" if len(empty_genes) > 5 else ""
        notes.append(
            f"Left out: {_count(len(empty_genes), 'gene')} without a value "
            f"in any sample ({', '.join(names)}{more}).")
    n_empty_samples = values.n_empty_samples
    if n_empty_samples == X.shape[0] or sp.issparse(X):
        n_empty_samples = 0
    if n_empty_samples:
        notes.append(
            f"Left out of training: {_count(n_empty_samples, 'sample')} "
            "without any measured value.")
    n_filled = (values.n_missing - len(empty_genes) * X.shape[0]
                - n_empty_samples * (X.shape[1] - len(empty_genes)))
    if n_filled > 0:
        notes.append(
            f"Filled in with the gene's mean: "
            f"{_count(n_filled, 'missing value')} "
            f"({_percent(n_filled / X.size)} of all values).")
    if values.largest > IMPLAUSIBLY_LARGE:
        notes.append(
            f"Some values are as large as {values.largest:.3g}, beyond any "
            "measurement; check the data for errors or for numbers that "
            "stand for missing values.")
    elif advise_log_transform and values.lowest >= 0 \
            and values.highest > RAW_COUNTS_ABOVE:
        notes.append(
            f"Values range from {values.lowest:.3g} to {values.highest:.3g}, "
            "like raw counts or intensities: log-transform them first "
            "(e.g. log(x + 1) in a Formula widget), or the few highest "
            "values will dominate training.")
    return notes


class _ValueSummary:
    def __init__(self, n_genes):
        self.n_too_large = 0
        self.n_missing = 0
        self.missing_per_gene = np.zeros(n_genes, dtype=np.int64)
        self.n_empty_samples = 0
        # over the known values of numeric columns only
        self.lowest = np.inf
        self.highest = -np.inf
        self.largest = 0.0

    def add_known(self, values):
        """Values, missing ones as NaN."""
        if values.size:
            # fmin and fmax skip NaN without copying the values
            low = float(np.fmin.reduce(values, axis=None))
            high = float(np.fmax.reduce(values, axis=None))
            if not np.isnan(low):
                self.lowest = min(self.lowest, low)
                self.highest = max(self.highest, high)
                self.largest = max(self.largest, abs(low), abs(high))


def _summarize(X, continuous) -> _ValueSummary:
    summary = _ValueSummary(X.shape[1])
    if sp.issparse(X):
        for start in range(0, X.nnz, _BLOCK_ELEMENTS):
            values = X.data[start:start + _BLOCK_ELEMENTS]
            too_large = _too_large(values)
            summary.n_too_large += int(too_large.sum())
            summary.n_missing += int((too_large | np.isnan(values)).sum())
            summary.add_known(np.where(too_large, np.nan, values)
                              if too_large.any() else values)
        if X.nnz < X.shape[0] * X.shape[1]:
            summary.add_known(np.zeros(1))
        return summary
    all_continuous = continuous.all()
    if all_continuous and X.size:
        # most tables: nothing missing, nothing too large (a missing value
        # makes min and max NaN, and NaN fails the comparisons)
        extremes = np.array([X.min(), X.max()])
        if -LARGEST_VALUE <= extremes[0] and extremes[1] <= LARGEST_VALUE:
            summary.add_known(extremes)
            return summary
    for rows in _row_blocks(X):
        block = X[rows]
        too_large = _too_large(block)
        unknown = np.isnan(block)
        if too_large.any():
            unknown |= too_large
            block = np.where(too_large, np.nan, block)
        summary.n_too_large += int(too_large.sum())
        summary.n_missing += int(unknown.sum())
        summary.missing_per_gene += unknown.sum(axis=0)
        summary.n_empty_samples += int(unknown.all(axis=1).sum())
        summary.add_known(block if all_continuous else block[:, continuous])
    return summary


def has_missing(X) -> bool:
    """Whether dense X has a missing value; a whole-table check at the speed
    of reading it, which most expression tables pass."""
    return X.size > 0 and bool(np.isnan(X.min()))


def _within_float32(X) -> bool:
    """Whether the known values of dense X all fit in float32 (fmin and fmax
    skip missing values without copying)."""
    return bool(X.size) and bool(
        -LARGEST_VALUE <= np.fmin.reduce(X, axis=None)
        and np.fmax.reduce(X, axis=None) <= LARGEST_VALUE)


def _too_large(values):
    with np.errstate(invalid="ignore"):
        return (values > LARGEST_VALUE) | (values < -LARGEST_VALUE)


def _row_blocks(X):
    step = rows_per_block(X.shape[1], _BLOCK_ELEMENTS)
    for start in range(0, X.shape[0], step):
        yield slice(start, start + step)


def _percent(fraction):
    return "under 0.1%" if fraction < 0.001 else f"{fraction:.1%}"


def _count(n, thing):
    return f"{n:,} {thing}" if n == 1 else f"{n:,} {thing}s"

"""Awkward tables a File widget can produce, and what should come of each.

Shared by the robustness tests of the learner and of the widget, so that
both levels are held to the same outcome and the same words.
"""
import numpy as np

from Orange.data import (
    ContinuousVariable, DiscreteVariable, Domain, StringVariable, Table)

from tests.helpers import expression_table

MODEL, ERROR = "model", "error"


def with_values(change, data=None):
    """A copy of `data` (default: a small expression table) whose X and Y
    `change(X, Y)` has edited in place."""
    data = (expression_table() if data is None else data).copy()
    with data.unlocked():
        change(data.X, data.Y)
    return data


def with_classes(n_classes, labels, n_genes=40):
    data = expression_table(n_samples=len(labels), n_genes=n_genes)
    domain = Domain(data.domain.attributes, DiscreteVariable(
        "tumour", [f"type{c}" for c in range(n_classes)]))
    return Table.from_numpy(domain, data.X, np.asarray(labels, float))


def numeric_target():
    data = expression_table()
    domain = Domain(data.domain.attributes, ContinuousVariable("age"))
    return Table.from_numpy(domain, data.X, np.arange(len(data), dtype=float))


def no_target():
    data = expression_table()
    return Table.from_numpy(Domain(data.domain.attributes), data.X)


def set_rows(rows, value):
    def change(X, Y):
        Y[rows] = value
    return change


def set_genes(rows, genes, value):
    def change(X, Y):
        X[rows, genes] = value
    return change


def scattered_missing(X, Y):
    X[np.random.RandomState(0).rand(*X.shape) < 0.2] = np.nan


def raw_counts(X, Y):
    # 0 … ~1e5 with many zeros, skewed like read counts
    X[:] = np.floor(np.expm1(np.clip((X + 3) * 1.8, 0, 11.5)))


def no_genes():
    data = expression_table()
    domain = Domain([], data.domain.class_var,
                    [StringVariable("sample")])
    ids = np.array([[f"S{i}"] for i in range(len(data))], dtype=object)
    return Table.from_numpy(domain, np.empty((len(data), 0)), data.Y, ids)


def sparse_with_gaps():
    data = expression_table().to_sparse()
    with data.unlocked(data.X):
        data.X.data[::7] = np.nan
        data.X.data[3::11] = np.inf
    return data


def with_categorical_columns():
    data = expression_table()
    rng = np.random.RandomState(0)
    batch = rng.randint(3, size=len(data)).astype(float)
    batch[::9] = np.nan
    sex = rng.randint(2, size=len(data)).astype(float)
    domain = Domain(
        (DiscreteVariable("batch", ["A", "B", "C"]),)
        + data.domain.attributes[:20]
        + (DiscreteVariable("sex", ["female", "male"]),)
        + data.domain.attributes[20:],
        data.domain.class_var)
    X = np.column_stack([batch, data.X[:, :20], sex, data.X[:, 20:]])
    return Table.from_numpy(domain, X, data.Y)


def with_sample_ids():
    data = expression_table()
    domain = Domain(data.domain.attributes, data.domain.class_var,
                    [StringVariable("sample ID"), StringVariable("note")])
    metas = np.array([[f"GSM{1000 + i}", "ok" if i % 2 else ""]
                      for i in range(len(data))], dtype=object)
    return Table.from_numpy(domain, data.X, data.Y, metas)


GENE_NAMES = ["TP53", "TP53 ", "tp53", "TP53.1", "TP53 (2)", "β-actin",
              "IL-1β", "基因", "gène", "MYC\u200b", "C1orf112", "1", "?",
              "a,b", "x\"y"]


def with_awkward_gene_names():
    data = expression_table()
    names = GENE_NAMES + [f"g{i}" for i in range(40 - len(GENE_NAMES))]
    domain = Domain([ContinuousVariable(name) for name in names],
                    data.domain.class_var)
    return Table.from_numpy(domain, data.X, data.Y)


def wide(n_genes=50_000, n_samples=20):
    return expression_table(n_samples=n_samples, n_genes=n_genes,
                            n_classes=2)


# name: (the table, MODEL or ERROR, words its training note or error
# message contains; None: a model without training notes)
CASES = {
    # targets
    "numeric target": (numeric_target, ERROR, "is numeric"),
    "no target": (no_target, ERROR, "no target variable"),
    "one class value only": (
        lambda: with_values(set_rows(slice(None), 0)), ERROR,
        "at least two classes"),
    "labels missing for some samples": (
        lambda: with_values(set_rows(slice(None, None, 5), np.nan)), MODEL,
        "12 samples without a known tumour"),
    "no sample labelled": (
        lambda: with_values(set_rows(slice(None), np.nan)), ERROR,
        "No samples to train on"),
    "many classes with 1-2 samples each": (
        lambda: with_classes(30, np.arange(45) % 30), MODEL,
        "Only one training sample in 15 of the 30 classes"),
    # sizes
    "one row": (lambda: expression_table()[:1], ERROR,
                "at least two classes"),
    "two rows": (lambda: expression_table()[:2], MODEL,
                 "Only one training sample in 2 of the 2 classes"),
    "fewer samples than classes": (
        lambda: with_classes(10, np.arange(5)), MODEL,
        "Only one training sample in 5 of the 5 classes"),
    "no rows": (lambda: expression_table()[:0], ERROR,
                "No samples to train on"),
    "no gene columns": (no_genes, ERROR, "No genes to train on"),
    "50,000 genes, 20 samples": (wide, MODEL, None),
    # values
    "a gene without values": (
        lambda: with_values(set_genes(slice(None), [3, 7], np.nan)), MODEL,
        "2 genes without a value in any sample (gene3, gene7)"),
    "every gene missing": (
        lambda: with_values(set_genes(slice(None), slice(None), np.nan)),
        ERROR, "No genes to train on"),
    "samples with every gene missing": (
        lambda: with_values(set_genes([4, 9], slice(None), np.nan)), MODEL,
        "2 samples without any measured value"),
    "20% scattered missing values": (
        lambda: with_values(scattered_missing), MODEL,
        "Filled in with the gene's mean"),
    "constant genes": (
        lambda: with_values(set_genes(slice(None), slice(10, 30), 3.0)),
        MODEL, None),
    "every gene constant": (
        lambda: with_values(set_genes(slice(None), slice(None), 3.0)),
        MODEL, "same value in all samples"),
    "infinite values": (
        lambda: with_values(set_genes([1, 2], [0, 5], [np.inf, -np.inf])),
        MODEL, "Treated as missing: 2 infinite values"),
    "huge values (1e30)": (
        lambda: with_values(set_genes([1, 2], 0, 1e30)), MODEL,
        "as large as 1e+30"),
    "values beyond float32 (1e300)": (
        lambda: with_values(set_genes(3, 0, -1e300)), MODEL,
        "Treated as missing: 1 infinite value"),
    "raw skewed counts (0 … 1e5)": (
        lambda: with_values(raw_counts), MODEL, "log-transform"),
    "sparse matrix": (lambda: expression_table().to_sparse(), MODEL, None),
    "sparse with missing and infinite values": (
        sparse_with_gaps, MODEL, "infinite values"),
    # columns
    "categorical columns among the genes": (
        with_categorical_columns, MODEL, "Filled in with the gene's mean"),
    "sample IDs as text metas": (with_sample_ids, MODEL, None),
    "unicode and duplicate-looking gene names": (
        with_awkward_gene_names, MODEL, None),
}

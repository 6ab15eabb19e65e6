"""Which genes drive a Neural Gene Classifier's predictions, per class.

A gene's importance for a class is the size of its average contribution
to the predicted probability of that class over the training samples of that
class, measured by integrated gradients (see ``attribution``); its overall
importance is the mean over the classes, so that a rare tumour type counts
as much as a common one. Genes left out by gene selection do not reach the
network and score 0. No Qt here.
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from Orange.data import (
    ContinuousVariable, Domain, StringVariable, Table, Variable)
from Orange.data.util import get_unique_names_duplicates

from orangecontrib.neuralgene.attribution import (
    ROWS_PER_CLASS, class_importances, rows_per_class)

__all__ = ["GeneImportance", "gene_importance", "gene_importance_table"]


@dataclass
class GeneImportance:
    genes: Tuple[Variable, ...]
    overall: np.ndarray  # one value per gene
    by_class: np.ndarray  # genes × classes; NaN for classes not trained on
    class_names: Tuple[str, ...]


def gene_importance(model, data: Table) -> GeneImportance:
    """Importance of every input column of ``model`` (in its preprocessed
    domain), measured on the samples of ``data`` with a known class that
    the model was trained on, usually its own training data."""
    data = model.data_to_model_domain(data)
    genes = model.domain.attributes
    class_names = tuple(model.domain.class_var.values)
    labels = data.Y.ravel()
    # NaN is never in the trained classes
    known = np.flatnonzero(np.isin(labels, model.trained_classes))
    y = np.searchsorted(model.trained_classes, labels[known].astype(int))
    # only the rows whose attributions are averaged become the networks'
    # input, which for sparse data is dense
    rows = rows_per_class(y, ROWS_PER_CLASS)
    X, y = model.network_input(data.X[known[rows]]), y[rows]

    by_class = np.zeros((len(genes), len(class_names)))
    by_class[:, np.setdiff1d(np.arange(len(class_names)),
                             model.trained_classes)] = np.nan
    # an ensemble's importance is its networks' mean: each network's
    # attributions are to the genes it reads, 0 for the others
    kept = np.zeros((len(model.selected_genes), len(model.trained_classes)))
    for member in model.members:
        kept[member.columns] += class_importances(
            member.network, X[:, member.columns], y).T
    by_class[np.ix_(model.selected_genes, model.trained_classes)] = \
        kept / len(model.members)
    measured = model.trained_classes[np.unique(y)]
    overall = (by_class[:, measured].mean(axis=1) if len(measured)
               else np.zeros(len(genes)))
    return GeneImportance(genes, overall, by_class, class_names)


def gene_importance_table(importance: GeneImportance) -> Table:
    """One row per gene, most important first: overall importance and one
    column per class, with the gene's name and annotations (e.g. gene IDs
    from the Bioinformatics add-on) as meta columns."""
    annotation_keys = list(dict.fromkeys(
        key for gene in importance.genes for key in gene.attributes))
    n_keys = len(annotation_keys)
    names = get_unique_names_duplicates(
        ["Gene"] + [str(key) for key in annotation_keys] + ["Importance"]
        + list(importance.class_names))
    meta_names, column_names = names[:1 + n_keys], names[1 + n_keys:]

    order = np.argsort(-importance.overall, kind="stable")
    genes = [importance.genes[i] for i in order]
    domain = Domain([ContinuousVariable(name) for name in column_names],
                    metas=[StringVariable(name) for name in meta_names])
    X = np.column_stack([importance.overall[order],
                         importance.by_class[order]])
    # filled a column at a time: a list per gene would be tens of thousands
    # of objects for the garbage collector to track
    metas = np.empty((len(genes), 1 + n_keys), dtype=object)
    metas[:, 0] = [gene.name for gene in genes]
    for column, key in enumerate(annotation_keys, start=1):
        metas[:, column] = [str(gene.attributes.get(key, ""))
                            for gene in genes]
    table = Table.from_numpy(domain, X, metas=metas)
    table.name = "Gene Importance"
    return table

"""The candidates of the automatic choice of settings as a table: how each
did on the held-out parts of the inner cross-validation, and which were
averaged into the model."""
import math

from AnyQt.QtCore import Qt
from AnyQt.QtGui import QFont, QStandardItem, QStandardItemModel
from AnyQt.QtWidgets import (
    QAbstractItemView, QHeaderView, QLabel, QSizePolicy, QTableView,
    QVBoxLayout, QWidget)

CHOSEN = "✓"
MISSING = "–"  # no inner cross-validation, so no held-out scores

# (header, tooltip) of the columns
COLUMNS = (
    ("Genes", "The genes the candidate trains on: all, or those that "
              "differ most between the classes in the training part."),
    ("Network", "No hidden layer: every gene's weight adds up directly "
                "to each class's score (like logistic regression).\n"
                "Hidden layer: a layer of neurons between the genes and the "
                "classes, for patterns that need combinations of genes."),
    ("Scaled", "Each gene: every gene scaled to the same spread, so all "
               "count alike at first.\nAll genes together: one scale for "
               "all, so genes that vary more keep more say, as in the data."),
    ("L2", "Penalty on large weights: higher values give simpler "
           "networks that rely less on any single gene."),
    ("Epochs", "How long the candidate trains: its best epoch by the "
               "held-out loss, on average over the folds (gains under "
               "0.001 not counted)."),
    ("Inner CA", "Classification accuracy on the held-out samples of the "
                 "inner folds, at that epoch."),
    ("Inner log loss", "Log loss on the held-out samples of the inner "
                       "folds, at that epoch (lower is better). Candidates "
                       "are ranked by it."),
    ("Chosen", "Averaged into the model: the candidates with the lowest "
               "inner log loss, each trained on all the samples."),
)
NUMERIC = {"L2", "Epochs", "Inner CA", "Inner log loss"}
NETWORK_COLUMN = 1


def selection_summary(selection) -> str:
    """One line on how the candidates were compared and how many kept."""
    n_chosen, n_candidates = len(selection.chosen), len(selection.scores)
    if selection.fell_back:
        return ("No inner cross-validation (a class has too few samples): "
                "fixed settings trained")
    kept = (f"the best of {n_candidates} candidates kept" if n_chosen == 1
            else f"{n_chosen} of {n_candidates} candidates averaged")
    return (f"Inner {selection.inner_folds}-fold cross-validation on "
            f"{selection.n_samples} samples: {kept}")


def _score(value, decimals=3):
    return MISSING if value is None or math.isnan(value) else f"{value:.{decimals}f}"


def _row(score):
    candidate = score.candidate
    return (candidate.genes, candidate.network, candidate.scaled,
            f"{candidate.l2:g}",
            str(score.epochs), _score(score.accuracy), _score(score.log_loss),
            CHOSEN if score.chosen else "")


class SelectionTable(QWidget):
    """A title line and one row per candidate, chosen rows in bold."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(wordWrap=True)
        layout.addWidget(self.title)
        self.model = QStandardItemModel(self)
        self.view = QTableView(
            editTriggers=QAbstractItemView.EditTrigger.NoEditTriggers,
            selectionMode=QAbstractItemView.SelectionMode.NoSelection,
            focusPolicy=Qt.FocusPolicy.NoFocus, wordWrap=False,
            verticalScrollBarPolicy=Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setModel(self.model)
        self.view.verticalHeader().hide()
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(60)
        # as tall as its rows: the family is small, and a scroll bar would
        # hide candidates from the screen and the report
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding,
                                QSizePolicy.Policy.Fixed)
        layout.addWidget(self.view)
        self.clear()

    @property
    def is_empty(self):
        return self.model.rowCount() == 0

    def clear(self):
        self.model.clear()
        self.title.setText("")
        self.hide()

    def set_selection(self, selection):
        """Show the candidates of `selection` (a ModelSelection)."""
        self.clear()
        for column, (header, tooltip) in enumerate(COLUMNS):
            item = QStandardItem(header)
            item.setToolTip(tooltip)
            self.model.setHorizontalHeaderItem(column, item)
        bold = QFont(self.view.font())
        bold.setBold(True)
        for score in selection.scores:
            items = []
            for (header, _), text in zip(COLUMNS, _row(score)):
                item = QStandardItem(text)
                if header in NUMERIC:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                elif header == "Chosen":
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if score.chosen:
                    item.setFont(bold)
                items.append(item)
            self.model.appendRow(items)
        self.title.setText(selection_summary(selection))
        # the table fills the width; the network's description has most to say
        self.view.horizontalHeader().setSectionResizeMode(
            NETWORK_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.view.resizeRowsToContents()
        self.view.setFixedHeight(
            self.view.horizontalHeader().sizeHint().height()
            + self.view.verticalHeader().length()
            + 2 * self.view.frameWidth())
        self.show()

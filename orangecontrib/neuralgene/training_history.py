"""Loss and accuracy per epoch of a trained model, as a table for Line Plot
or Save Data. No Qt here."""
import numpy as np

from Orange.data import ContinuousVariable, Domain, Table

__all__ = ["training_history_table"]

# Column names by the history key they show, in table order
COLUMNS = {
    "loss": "Training loss",
    "accuracy": "Training accuracy",
    "val_loss": "Validation loss",
    "val_accuracy": "Validation accuracy",
}


def training_history_table(history: dict) -> Table:
    """One row per epoch: its number and every metric the history has;
    missing where a curve is shorter (in automatic mode the held-out curve
    of inner cross-validation runs past the epochs chosen)."""
    keys = [key for key in COLUMNS if key in history]
    n_epochs = max((len(history[key]) for key in keys), default=0)
    domain = Domain([ContinuousVariable("Epoch", number_of_decimals=0)]
                    + [ContinuousVariable(COLUMNS[key]) for key in keys])
    X = np.full((n_epochs, len(domain)), np.nan)
    X[:, 0] = np.arange(1, n_epochs + 1)
    for column, key in enumerate(keys, start=1):
        X[:len(history[key]), column] = history[key]
    table = Table.from_numpy(domain, X)
    table.name = "Training History"
    return table

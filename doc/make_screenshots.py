"""Save a screenshot of the Neural Gene Classifier widget trained on Khan data.

Run from anywhere: python doc/make_screenshots.py
"""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# pylint: disable=wrong-import-position
from AnyQt.QtWidgets import QApplication
from AnyQt.QtTest import QTest

from Orange.data import Table

from orangecontrib.neuralgene.datasets import path
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier)

IMAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")


def main():
    app = QApplication(sys.argv)
    widget = OWNeuralGeneClassifier()
    widget.resize(widget.sizeHint())  # as on first opening in the canvas
    widget.show()
    widget.set_data(Table(path("khan-srbct-train.tab.gz")))
    widget.handleNewSignals()
    while widget.task is not None:
        QTest.qWait(100)
    if widget.model is None:
        sys.exit("Training failed; no screenshot saved.")
    QTest.qWait(200)  # let the plot repaint with the final curves
    os.makedirs(IMAGES, exist_ok=True)
    target = os.path.join(IMAGES, "NeuralGeneClassifier.png")
    widget.grab().save(target)
    print(f"Saved {target}")
    widget.onDeleteWidget()
    app.processEvents()


if __name__ == "__main__":
    main()

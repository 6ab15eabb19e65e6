"""Loss and accuracy per epoch, for training and validation samples."""
import pyqtgraph as pg
from AnyQt.QtCore import Qt, QSize

from Orange.widgets.visualize.utils.plotutils import GraphicsView, PlotItem

# (label, colour, line style) of the curves, by the history key they show
CURVES = {
    "loss": ("Training", "#1F77B4", Qt.PenStyle.SolidLine),
    "val_loss": ("Validation", "#E0642B", Qt.PenStyle.DashLine),
    "accuracy": ("Training", "#1F77B4", Qt.PenStyle.SolidLine),
    "val_accuracy": ("Validation", "#E0642B", Qt.PenStyle.DashLine),
}


class TrainingPlot(GraphicsView):
    """Two stacked plots, loss above accuracy, sharing the epoch axis."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = pg.GraphicsLayout()
        layout.setContentsMargins(8, 8, 8, 8)
        self.setCentralItem(layout)
        self.loss_plot = self._add_plot(layout, "Loss")
        layout.nextRow()
        self.accuracy_plot = self._add_plot(layout, "Accuracy")
        self.accuracy_plot.setXLink(self.loss_plot)
        self.accuracy_plot.setYRange(0, 1)
        self.accuracy_plot.enableAutoRange(y=False)
        self._curves = {}

    @staticmethod
    def _add_plot(layout, quantity):
        plot = PlotItem(enableMenu=False)
        plot.setLabel("bottom", "Epoch")
        plot.setLabel("left", quantity)
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.addLegend(offset=(-10, 10))
        layout.addItem(plot)
        return plot

    def sizeHint(self):
        return QSize(520, 480)

    @property
    def is_empty(self):
        return not self._curves

    def clear(self):
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.clear()
            plot.legend.clear()
        self._curves.clear()

    def set_history(self, history):
        """Show `history`: a dict of per-epoch values keyed like Keras logs."""
        for key, values in history.items():
            if key not in CURVES:
                continue
            if key not in self._curves:
                self._curves[key] = self._add_curve(key)
            self._curves[key].setData(range(1, len(values) + 1), values)

    def _add_curve(self, key):
        label, colour, style = CURVES[key]
        plot = self.accuracy_plot if "accuracy" in key else self.loss_plot
        pen = pg.mkPen(colour, width=2, style=style)
        return plot.plot(name=label, pen=pen, antialias=True)

"""Loss and accuracy per epoch, for training and validation samples."""
import pyqtgraph as pg
from AnyQt.QtCore import Qt, QSize
from AnyQt.QtGui import QPalette

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
        # legends go where curves rarely are: loss falls, accuracy rises
        self.loss_plot = self._add_plot(layout, "Loss", legend_offset=(-10, 10))
        layout.nextRow()
        self.accuracy_plot = self._add_plot(
            layout, "Accuracy", legend_offset=(-10, -10))
        self.accuracy_plot.setXLink(self.loss_plot)
        self.accuracy_plot.setYRange(0, 1, padding=0.04)
        self.accuracy_plot.enableAutoRange(y=False)
        self._curves = {}

    def _add_plot(self, layout, quantity, legend_offset):
        plot = PlotItem(enableMenu=False)
        plot.setLabel("bottom", "Epoch")
        plot.setLabel("left", quantity)
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.addLegend(offset=legend_offset,
                       labelTextColor=self.palette().color(QPalette.ColorRole.Text))
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

    def set_best_epoch(self, epoch):
        """Mark the epoch whose weights the model keeps (early stopping)."""
        for plot in (self.loss_plot, self.accuracy_plot):
            line = pg.InfiniteLine(
                epoch, pen=pg.mkPen("#777777", width=1, style=Qt.PenStyle.DotLine),
                label="best epoch" if plot is self.loss_plot else None,
                labelOpts={"position": 0.55, "color": "#555555",
                           "rotateAxis": (1, 0)})
            plot.addItem(line)

    def _add_curve(self, key):
        label, colour, style = CURVES[key]
        plot = self.accuracy_plot if "accuracy" in key else self.loss_plot
        pen = pg.mkPen(colour, width=2, style=style)
        return plot.plot(name=label, pen=pen, antialias=True)

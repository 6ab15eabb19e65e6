"""Loss and accuracy per epoch, for training and held-out samples."""
import pyqtgraph as pg
from AnyQt.QtCore import Qt, QSize
from AnyQt.QtGui import QPalette

from Orange.widgets.visualize.utils.plotutils import GraphicsView, PlotItem

# Names of the held-out curves: samples set aside for early stopping, or
# the held-out parts of the inner cross-validation of the automatic choice
VALIDATION = "Validation"
INNER_CV = "Inner CV (held out)"
TRAINING = "Training"

# (colour, line style) of the curves, by the history key they show
CURVES = {
    "loss": ("#1F77B4", Qt.PenStyle.SolidLine),
    "val_loss": ("#E0642B", Qt.PenStyle.DashLine),
    "accuracy": ("#1F77B4", Qt.PenStyle.SolidLine),
    "val_accuracy": ("#E0642B", Qt.PenStyle.DashLine),
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
        # a loss below 1 would otherwise be labelled "Loss (x0.001)"
        plot.getAxis("left").enableAutoSIPrefix(False)
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

    def set_history(self, history, held_out=VALIDATION):
        """Show `history`: a dict of per-epoch values keyed like Keras logs;
        `held_out` names the "val_" curves in the legend."""
        for key, values in history.items():
            if key not in CURVES:
                continue
            if key not in self._curves:
                name = held_out if key.startswith("val_") else TRAINING
                self._curves[key] = self._add_curve(key, name)
            self._curves[key].setData(range(1, len(values) + 1), values)

    def set_best_epoch(self, epoch):
        """Mark the epoch whose weights the model keeps (early stopping), or
        the number of epochs chosen by inner cross-validation."""
        for plot in (self.loss_plot, self.accuracy_plot):
            # the label sits below the legend (top right), which it would
            # cross when the best epoch is one of the last, and above the
            # loss curves' usual flat tail
            line = pg.InfiniteLine(
                epoch, pen=pg.mkPen("#777777", width=1, style=Qt.PenStyle.DotLine),
                label="best epoch" if plot is self.loss_plot else None,
                labelOpts={"position": 0.35, "color": "#555555",
                           "rotateAxis": (1, 0)})
            plot.addItem(line)

    def legend_names(self):
        """The names in the legend of the loss plot, top to bottom."""
        return [label.text for _, label in self.loss_plot.legend.items]

    def _add_curve(self, key, name):
        colour, style = CURVES[key]
        plot = self.accuracy_plot if "accuracy" in key else self.loss_plot
        pen = pg.mkPen(colour, width=2, style=style)
        curve = plot.plot(name=name, pen=pen, antialias=True)
        # where the curves overlap, the model's own training shows
        curve.setZValue(0 if key.startswith("val_") else 1)
        return curve

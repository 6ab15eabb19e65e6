"""Screenshots for the documentation, rendered from the real widgets.

Run from anywhere: python doc/make_screenshots.py [--output DIR]

Writes PNG images into doc/images/ (or DIR):

- the Neural Gene Classifier widget trained on the Khan training samples;
- the tutorial workflow classify-tumours.ows, opened and run to the end
  headlessly as the canvas would run it, and its key widgets with results.

Widget defaults saved by the user are neither read nor written, so the
images show the widgets' own defaults and the workflow's settings. The
symbols in the widgets' status bars need a font with enclosed letters
(e.g. Debian's fonts-symbola); without one they show as boxes.
"""
import argparse
import logging
import os
import sys
from unittest import mock

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# pylint: disable=wrong-import-position
from AnyQt.QtCore import QRectF, Qt
from AnyQt.QtGui import QColor, QImage, QPainter
from AnyQt.QtWidgets import QApplication
from AnyQt.QtTest import QTest

from orangecanvas.canvas.scene import CanvasScene
from orangewidget.settings import SettingsHandler

from Orange.data import Table

from orangecontrib.neuralgene import tutorials
from orangecontrib.neuralgene.tutorials.headless import (
    load_workflow, run_until_idle, widget_registry)
from orangecontrib.neuralgene.datasets import path
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier)

IMAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
WORKFLOW = os.path.join(os.path.dirname(tutorials.__file__),
                        "classify-tumours.ows")

WIDGET_IMAGE = "NeuralGeneClassifier.png"
WORKFLOW_IMAGE = "tutorial-workflow.png"
# node title in the tutorial -> (image, size of the widget's window)
TUTORIAL_WIDGETS = {
    "Test & Score": ("tutorial-test-and-score.png", (900, 520)),
    "Confusion Matrix": ("tutorial-confusion-matrix.png", (760, 420)),
    "Predictions (published test set)": (
        "tutorial-predictions.png", (1000, 560)),
}



def image_names():
    """File names of every image this script writes."""
    return [WIDGET_IMAGE, WORKFLOW_IMAGE] + [
        image for image, _ in TUTORIAL_WIDGETS.values()]


def save(pixmap_or_image, output, name):
    target = os.path.join(output, name)
    if not pixmap_or_image.save(target):
        sys.exit(f"Could not write {target}")
    print(f"Saved {target}")


def wait_for_repaint():
    QTest.qWait(200)


# The widget alone
def widget_screenshot(output):
    widget = OWNeuralGeneClassifier()
    widget.resize(widget.sizeHint())  # as on first opening in the canvas
    widget.show()
    widget.set_data(Table(path("khan-srbct-train.tab.gz")))
    widget.handleNewSignals()
    while widget.task is not None:
        QTest.qWait(100)
    if widget.model is None:
        sys.exit("Training failed; no screenshot saved.")
    wait_for_repaint()  # let the plot repaint with the final curves
    save(widget.grab(), output, WIDGET_IMAGE)
    widget.onDeleteWidget()
    QApplication.processEvents()


# The tutorial workflow
def load_tutorial(registry):
    errors = []
    scheme = load_workflow(WORKFLOW, registry, errors)
    if errors:
        sys.exit(f"Could not load {WORKFLOW}: {errors}")
    return scheme


def render_workflow(scheme, registry, output, scale=2, margin=20):
    """The workflow as drawn on the canvas, node icons, links and notes."""
    scene = CanvasScene()
    scene.set_registry(registry)
    # with 17 links, the channel names on them would overlap
    scene.set_channel_names_visible(False)
    scene.set_node_animation_enabled(False)
    scene.set_scheme(scheme)
    scene.clearSelection()
    QApplication.processEvents()
    source = scene.itemsBoundingRect().adjusted(
        -margin, -margin, margin, margin)
    image = QImage(int(source.width() * scale), int(source.height() * scale),
                   QImage.Format.Format_ARGB32)
    image.fill(QColor(Qt.GlobalColor.white))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    scene.render(painter, QRectF(image.rect()), source)
    painter.end()
    save(image, output, WORKFLOW_IMAGE)
    scene.clear_scene()  # detach from the workflow before it is cleared


def tutorial_screenshots(output):
    registry = widget_registry()
    scheme = load_tutorial(registry)
    if not run_until_idle(scheme):
        sys.exit("The tutorial workflow did not finish; no screenshots saved.")
    render_workflow(scheme, registry, output)
    nodes = {node.title: node for node in scheme.nodes}
    for title, (image, (width, height)) in TUTORIAL_WIDGETS.items():
        widget = scheme.widget_for_node(nodes[title])
        widget.UserAdviceMessages = []  # no "Ok, got it" tip over the controls
        widget.resize(width, height)
        widget.show()
        wait_for_repaint()
        save(widget.grab(), output, image)
        widget.hide()
    scheme.clear()
    QApplication.processEvents()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=IMAGES,
                        help="folder for the images (default: doc/images)")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    # the workflow's File widgets store their paths pickled; loading is fine
    logging.getLogger("orangecanvas.scheme.readwrite").setLevel(logging.ERROR)
    app = QApplication(sys.argv[:1])
    with mock.patch.object(SettingsHandler, "read_defaults"), \
            mock.patch.object(SettingsHandler, "write_defaults"):
        widget_screenshot(args.output)
        tutorial_screenshots(args.output)
    app.processEvents()


if __name__ == "__main__":
    main()

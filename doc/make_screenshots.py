"""Screenshots for the documentation, rendered from the real widgets.

Run from anywhere: python doc/make_screenshots.py [--output DIR] [IMAGE ...]

Writes PNG images into doc/images/ (or DIR), all of them or only the IMAGEs
named (--list prints their names):

- the Neural Gene Classifier widget trained on the Khan training samples;
- each tutorial workflow (classify-tumours.ows, rank-genes.ows), opened and
  run to the end headlessly as the canvas would run it, and its key widgets
  with results.

Widget defaults saved by the user are neither read nor written, so the
images show the widgets' own defaults and the workflow's settings. The
symbols in the widgets' status bars need a font with enclosed letters
(e.g. Debian's fonts-symbola); without one they show as boxes.
"""
import argparse
import logging
import os
import sys
from typing import Dict, NamedTuple, Tuple
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
    at_their_defaults, load_workflow, run_until_idle, widget_registry,
    widgets_at_their_defaults)
from orangecontrib.neuralgene.datasets import path
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier)

IMAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
TUTORIALS_DIR = os.path.dirname(tutorials.__file__)

WIDGET_IMAGE = "NeuralGeneClassifier.png"


class Tutorial(NamedTuple):
    workflow: str  # file name in the tutorials package
    image: str  # the workflow as drawn on the canvas
    # the links' channel names, where few enough not to overlap
    channel_names: bool
    # node title in the workflow -> (image, size of the widget's window)
    widgets: Dict[str, Tuple[str, Tuple[int, int]]]

    @property
    def path(self):
        return os.path.join(TUTORIALS_DIR, self.workflow)

    def image_names(self):
        return [self.image] + [image for image, _ in self.widgets.values()]


TUTORIALS = (
    Tutorial(
        "classify-tumours.ows", "tutorial-workflow.png",
        # with 17 links, the channel names on them would overlap
        channel_names=False,
        widgets={
            # trained on the Data Sample, with its table of candidates
            "Neural Gene Classifier": ("tutorial-classifier.png", (1088, 720)),
            "Test & Score": ("tutorial-test-and-score.png", (900, 520)),
            "Confusion Matrix": ("tutorial-confusion-matrix.png", (760, 420)),
            "Predictions (published test set)": (
                "tutorial-predictions.png", (1000, 560)),
        }),
    Tutorial(
        "rank-genes.ows", "tutorial-rank-genes-workflow.png",
        # five links: "Learner → Scorer" says what the tutorial is about
        channel_names=True,
        widgets={
            "Rank": ("tutorial-rank-genes-rank.png", (700, 560)),
            "Heat Map": ("tutorial-rank-genes-heat-map.png", (1000, 780)),
            "Gene importance per tumour type": (
                "tutorial-rank-genes-importance.png", (960, 500)),
        }),
)


def image_names():
    """File names of every image this script writes."""
    return [WIDGET_IMAGE] + [image for tutorial in TUTORIALS
                             for image in tutorial.image_names()]


def save(pixmap_or_image, output, name):
    target = os.path.join(output, name)
    if not pixmap_or_image.save(target):
        sys.exit(f"Could not write {target}")
    print(f"Saved {target}")


def wait_for_repaint():
    QTest.qWait(200)


# The widget alone
def widget_screenshot(output):
    # the class was imported, and read the saved defaults, before main()
    with at_their_defaults([OWNeuralGeneClassifier]):
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


# The tutorial workflows
def load_tutorial(tutorial, registry):
    errors = []
    scheme = load_workflow(tutorial.path, registry, errors)
    if errors:
        sys.exit(f"Could not load {tutorial.path}: {errors}")
    return scheme


def render_workflow(scheme, registry, output, name, channel_names,
                    scale=2, margin=20):
    """The workflow as drawn on the canvas, node icons, links and notes."""
    scene = CanvasScene()
    scene.set_registry(registry)
    scene.set_channel_names_visible(channel_names)
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
    save(image, output, name)
    scene.clear_scene()  # detach from the workflow before it is cleared


def tutorial_screenshots(tutorial, registry, output, selected):
    """The images of ``tutorial`` whose names are in ``selected``."""
    with widgets_at_their_defaults(tutorial.path, registry):
        scheme = load_tutorial(tutorial, registry)
    if not run_until_idle(scheme):
        sys.exit(f"The tutorial workflow {tutorial.workflow} did not finish; "
                 "no screenshots saved.")
    if tutorial.image in selected:
        render_workflow(scheme, registry, output, tutorial.image,
                        tutorial.channel_names)
    nodes = {node.title: node for node in scheme.nodes}
    for title, (image, (width, height)) in tutorial.widgets.items():
        if image not in selected:
            continue
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
    parser.add_argument("images", nargs="*", metavar="IMAGE",
                        help="write only these images (default: all; "
                             "--list names them)")
    parser.add_argument("--list", action="store_true",
                        help="print the names of the images and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(image_names()))
        return
    unknown = set(args.images) - set(image_names())
    if unknown:
        parser.error(f"unknown image(s): {', '.join(sorted(unknown))}; "
                     f"choose from {', '.join(image_names())}")
    selected = set(args.images or image_names())
    os.makedirs(args.output, exist_ok=True)
    # the workflow's File widgets store their paths pickled; loading is fine
    logging.getLogger("orangecanvas.scheme.readwrite").setLevel(logging.ERROR)
    app = QApplication(sys.argv[:1])
    with mock.patch.object(SettingsHandler, "read_defaults"), \
            mock.patch.object(SettingsHandler, "write_defaults"):
        if WIDGET_IMAGE in selected:
            widget_screenshot(args.output)
        tutorials_to_run = [tutorial for tutorial in TUTORIALS if
                            selected.intersection(tutorial.image_names())]
        registry = widget_registry() if tutorials_to_run else None
        for tutorial in tutorials_to_run:
            tutorial_screenshots(tutorial, registry, args.output, selected)
    app.processEvents()


if __name__ == "__main__":
    main()

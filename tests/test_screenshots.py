"""doc/make_screenshots.py renders, from the real widgets, exactly the
images that the documentation and the README show."""
import glob
import os
import re
import shutil
import tempfile
import unittest

import numpy as np

from AnyQt.QtGui import QImage

from tests.helpers import ROOT, fresh_interpreter

DOC = os.path.join(ROOT, "doc")
SCRIPT = os.path.join(DOC, "make_screenshots.py")
IMAGE_REFERENCE = re.compile(r"images/([\w.-]+\.png)")
# colours of the training and validation curves in the training plot
CURVE_COLOURS = {"training": (0x1F, 0x77, 0xB4), "validation": (0xE0, 0x64, 0x2B)}
# how far a pixel may be from a curve's colour: the curves' anti-aliased
# edges count too, and then a curve of a dozen epochs has some 600 pixels
# over 300 columns, its legend's line alone under 100 over some 20 columns
COLOUR_TOLERANCE = 30


def referenced_images():
    """Names of the images in doc/images that the docs and README show."""
    sources = [os.path.join(ROOT, "README.md")] + [
        path for pattern in ("*.md", "*.rst")
        for path in glob.glob(os.path.join(DOC, "**", pattern),
                              recursive=True)
        if os.sep + "_build" + os.sep not in path]
    names = set()
    for source in sources:
        with open(source, encoding="utf-8") as text:
            names.update(IMAGE_REFERENCE.findall(text.read()))
    return names


def pixels(path):
    """The image as an array of (red, green, blue) rows."""
    image = QImage(path).convertToFormat(QImage.Format.Format_RGB888)
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    rows = np.frombuffer(bits, np.uint8).reshape(
        image.height(), image.bytesPerLine())
    return rows[:, :3 * image.width()].reshape(
        image.height(), image.width(), 3).copy()


class TestScreenshotScript(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.output = tempfile.mkdtemp(prefix="neuralgene-screenshots-")
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        cls.result = fresh_interpreter(SCRIPT, "--output", cls.output,
                                       env=env)
        cls.written = {name for name in os.listdir(cls.output)
                       if name.endswith(".png")}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.output, ignore_errors=True)

    def test_script_runs_to_the_end(self):
        self.assertEqual(self.result.returncode, 0,
                         self.result.stdout[-3000:] + self.result.stderr[-3000:])

    def test_writes_exactly_the_images_the_docs_show(self):
        referenced = referenced_images()
        self.assertIn("NeuralGeneClassifier.png", referenced)
        self.assertEqual(self.written, referenced)

    def test_committed_images_are_the_ones_the_script_writes(self):
        committed = {name for name in os.listdir(os.path.join(DOC, "images"))
                     if name.endswith(".png")}
        self.assertEqual(committed, self.written)

    def test_images_are_not_blank(self):
        self.assertTrue(self.written)
        for name in self.written:
            image = pixels(os.path.join(self.output, name))
            height, width, _ = image.shape
            self.assertGreaterEqual(width, 600, name)
            self.assertGreaterEqual(height, 300, name)
            packed = image.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1],
                                                        dtype=np.uint32)
            self.assertGreater(len(np.unique(packed)), 50, name)

    def test_widget_image_shows_training_and_validation_curves(self):
        image = pixels(os.path.join(self.output, "NeuralGeneClassifier.png"))
        close = {curve: np.abs(image.astype(int) - colour).max(
                     axis=2) <= COLOUR_TOLERANCE
                 for curve, colour in CURVE_COLOURS.items()}
        self.assertGreater(np.any(close["training"], axis=0).sum(), 100)
        # where the two curves coincide (loss 0, accuracy 1 on Khan) the
        # dashed validation curve lies under the training one; its legend
        # entry, which the plot draws only with the curve, still shows
        self.assertGreater(close["validation"].sum(), 20)


if __name__ == "__main__":
    unittest.main()

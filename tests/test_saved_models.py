"""Models saved by released versions still load and predict the same.

Users save models with Save Model (a pickle, ``.pkcls``) and load them again
with Load Model, which unpickles them. tests/fixtures holds a model saved by
every release, with its class probabilities on the Khan test samples; see
tests/fixtures/README.md.
"""
import glob
import os
import pickle
import unittest

import numpy as np

from Orange.data import Table

from orangecontrib.neuralgene import NeuralGeneClassifierModel
from orangecontrib.neuralgene.datasets import path

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "fixtures")
PROBABILITIES_SUFFIX = "-test-probabilities.txt"
TEST_DATA = "khan-srbct-test.tab.gz"
CLASSES = ["BL", "EWS", "NB", "RMS"]
MIN_CORRECT = 19  # of the 20 test samples, as every released model does


def saved_models():
    """(model file, probabilities file) for every saved model in
    tests/fixtures that has its probabilities beside it."""
    pairs = []
    for model_file in sorted(glob.glob(os.path.join(FIXTURES, "*.pkcls"))):
        probabilities = model_file[:-len(".pkcls")] + PROBABILITIES_SUFFIX
        if os.path.isfile(probabilities):
            pairs.append((model_file, probabilities))
    return pairs


class TestSavedModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = Table(path(TEST_DATA))

    def test_fixtures_are_found(self):
        # without this, a moved or renamed folder would pass every check
        names = [os.path.basename(model) for model, _ in saved_models()]
        self.assertIn("khan-model-0.1.0.pkcls", names)

    def test_every_model_file_has_its_probabilities(self):
        models = glob.glob(os.path.join(FIXTURES, "*.pkcls"))
        self.assertEqual(len(models), len(saved_models()))

    def test_test_data_are_the_ones_the_fixtures_were_made_on(self):
        self.assertEqual(len(self.data), 20)
        self.assertEqual(list(self.data.domain.class_var.values), CLASSES)

    def test_saved_models_predict_as_when_saved(self):
        fixtures = saved_models()
        self.assertTrue(fixtures, f"no saved models found in {FIXTURES}")
        for model_file, probabilities_file in fixtures:
            with self.subTest(os.path.basename(model_file)):
                self.assert_predicts_as_saved(model_file, probabilities_file)

    def assert_predicts_as_saved(self, model_file, probabilities_file):
        with open(model_file, "rb") as stream:
            model = pickle.load(stream)  # as Orange's Load Model does
        self.assertIsInstance(model, NeuralGeneClassifierModel)
        self.assertEqual(list(model.domain.class_var.values), CLASSES)

        expected = np.loadtxt(probabilities_file)
        self.assertEqual(expected.shape, (len(self.data), len(CLASSES)))
        probabilities = model(self.data, model.Probs)
        np.testing.assert_allclose(probabilities, expected, atol=1e-6)

        predicted = model(self.data)
        np.testing.assert_array_equal(predicted, expected.argmax(axis=1))
        correct = int((predicted == self.data.Y).sum())
        self.assertGreaterEqual(correct, MIN_CORRECT)


if __name__ == "__main__":
    unittest.main()

"""The add-on on Windows and macOS, simulated on this machine: in a fresh
interpreter, sys.platform is set and the Unix-only attributes the
TensorFlow start-up workarounds use are removed before the add-on is
imported; training, prediction, pickling and the widget's import must
still work (the workarounds fall back to a plain import)."""
import unittest

from tests.helpers import run_in_fresh_interpreter

SIMULATE = """
    import mmap, os, sys
    # Orange and the libraries under it find their compiled parts by the
    # real platform; the add-on and TensorFlow are imported after the switch
    import numpy, scipy.sparse, sklearn, pandas, Orange.data, Orange.base
    import Orange.widgets.widget, AnyQt.QtWidgets
    sys.platform = sys.argv[1]
    for owner, name in ((sys, "getdlopenflags"), (sys, "setdlopenflags"),
                        (os, "RTLD_DEEPBIND"), (mmap, "MAP_POPULATE")):
        if hasattr(owner, name):
            delattr(owner, name)
"""

TRAIN_PREDICT_PICKLE = SIMULATE + """
    import pickle
    import numpy as np
    from tests.helpers import QUICK_MANUAL, expression_table
    from orangecontrib.neuralgene import NeuralGeneClassifierLearner
    data = expression_table()
    for learner in (NeuralGeneClassifierLearner(**QUICK_MANUAL),
                    NeuralGeneClassifierLearner()):
        model = learner(data)
        probs = model(data, model.Probs)
        assert np.allclose(probs.sum(axis=1), 1), probs
        accuracy = (probs.argmax(axis=1) == data.Y).mean()
        assert accuracy > 0.5, (learner, accuracy)  # chance: 1 in 3
        again = pickle.loads(pickle.dumps(model))
        np.testing.assert_allclose(again(data, again.Probs), probs)
    print("trained")
"""

IMPORT_WIDGET = SIMULATE + """
    import orangecontrib.neuralgene.widgets.owneuralgeneclassifier
    assert "tensorflow" not in sys.modules
    print("imported")
"""


class TestSimulatedPlatforms(unittest.TestCase):
    def test_learner_trains_predicts_and_pickles_on_windows(self):
        done = run_in_fresh_interpreter(self, TRAIN_PREDICT_PICKLE, "win32")
        self.assertIn("trained", done.stdout)

    def test_learner_trains_predicts_and_pickles_on_macos(self):
        done = run_in_fresh_interpreter(self, TRAIN_PREDICT_PICKLE, "darwin")
        self.assertIn("trained", done.stdout)

    def test_widget_module_imports_on_windows_and_macos(self):
        for platform in ("win32", "darwin"):
            with self.subTest(platform):
                done = run_in_fresh_interpreter(self, IMPORT_WIDGET, platform)
                self.assertIn("imported", done.stdout)


if __name__ == "__main__":
    unittest.main()

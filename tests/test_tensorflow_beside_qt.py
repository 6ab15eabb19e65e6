import os
import subprocess
import sys
import textwrap
import unittest

# Orange's canvas shows reports and help in Qt WebEngine, whose software
# OpenGL loads an LLVM of its own; training must still start afterwards.
SCRIPT = textwrap.dedent("""
    from AnyQt.QtWidgets import QApplication
    from AnyQt.QtWebEngineWidgets import QWebEngineView
    app = QApplication(["orange"])
    view = QWebEngineView()
    view.setHtml("<p>Report</p>")
    app.processEvents()

    from tests.test_learner import expression_table
    from orangecontrib.neuralgene import NeuralGeneClassifierLearner
    model = NeuralGeneClassifierLearner(epochs=2)(expression_table())
    print("trained", model.n_epochs_trained)
""")


class TestTrainingAfterQtWebEngine(unittest.TestCase):
    def test_tensorflow_loads_after_a_web_view_was_shown(self):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
                   # Chromium refuses to run as root without this
                   QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox")
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env,
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        self.assertIn("trained 2", done.stdout)


if __name__ == "__main__":
    unittest.main()

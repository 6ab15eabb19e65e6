import os
import textwrap
import unittest

from tests.helpers import run_in_fresh_interpreter

# Orange's canvas shows reports and help in Qt WebEngine, whose software
# OpenGL loads an LLVM of its own; training must still start afterwards.
SCRIPT = textwrap.dedent("""
    from AnyQt.QtWidgets import QApplication
    from AnyQt.QtWebEngineWidgets import QWebEngineView
    app = QApplication(["orange"])
    view = QWebEngineView()
    view.setHtml("<p>Report</p>")
    app.processEvents()

    from tests.helpers import expression_table
    from orangecontrib.neuralgene import NeuralGeneClassifierLearner
    model = NeuralGeneClassifierLearner()(expression_table())
    print("trained", len(model.members), "networks")
""")


class TestTrainingAfterQtWebEngine(unittest.TestCase):
    def test_tensorflow_loads_after_a_web_view_was_shown(self):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
                   # Chromium refuses to run as root without this
                   QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox")
        done = run_in_fresh_interpreter(self, SCRIPT, env=env)
        self.assertRegex(done.stdout, r"trained [1-9]\d* networks")


if __name__ == "__main__":
    unittest.main()

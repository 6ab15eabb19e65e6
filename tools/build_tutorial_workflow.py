"""Write the tutorial workflow classify-tumours.ows with the canvas's own writer.

Run from the repository root after `pip install -e .`:

    QT_QPA_PLATFORM=offscreen python tools/build_tutorial_workflow.py

Node settings are kept minimal: only the values the tutorial needs differ
from the widgets' defaults, so the workflow follows future default changes.
The Neural Gene Classifier's node is the exception: it stores every setting,
at the widget's defaults (``classifier_settings``).
"""
import logging
import os

from AnyQt.QtWidgets import QApplication

from orangecanvas.scheme import Scheme, SchemeTextAnnotation
from orangecanvas.utils import name_lookup
from orangewidget.utils.filedialogs import RecentPath


from orangecontrib.neuralgene import tutorials
from orangecontrib.neuralgene.tutorials.headless import (
    default_settings, widget_registry)

WORKFLOW = os.path.join(
    os.path.dirname(tutorials.__file__), "classify-tumours.ows")

TITLE = "Classifying Childhood Tumours from Gene Expression"
DESCRIPTION = (
    "Which of four small round blue cell tumours of childhood is this "
    "sample? The workflow trains the Neural Gene Classifier on microarray "
    "data of Khan et al. (2001), 2308 genes, and compares it with logistic "
    "regression and Orange's neural network: cross-validation on 70% of the "
    "training samples in Test & Score and Confusion Matrix, then predictions "
    "for the 30% set aside and for the 20 test samples of the original "
    "paper.")

FONT = {"family": "Helvetica", "size": 14}


def shipped_data(name):
    """Settings of a File widget reading a data set shipped with the add-on.

    The canvas sets the workflow's "basedir" to the folder of the .ows when
    it opens one, and the File widget resolves a path with prefix "basedir"
    against it, so the data is found wherever the add-on is installed.
    """
    return {"recent_paths": [
        RecentPath("", "basedir", "../datasets/" + name)]}


CLASSIFIER = ("orangecontrib.neuralgene.widgets.owneuralgeneclassifier."
              "OWNeuralGeneClassifier")


def classifier_settings():
    """Every setting of the classifier's widget at its default. A node
    missing some takes the values last used in the user's own widget,
    which Orange keeps as defaults for new widgets: the tutorial would then
    train by hand for whoever last did."""
    return default_settings(name_lookup(CLASSIFIER))


def build_scheme(registry):
    scheme = Scheme(title=TITLE, description=DESCRIPTION)

    def node(qualified_name, title, position, **settings):
        return add_node(scheme, registry, qualified_name, title, position,
                        **settings)

    def link(source, output, sink, input_):
        scheme.new_link(source, output, sink, input_)

    train = node("Orange.widgets.data.owfile.OWFile",
                 "Khan training samples", (60, 230),
                 **shipped_data("khan-srbct-train.tab.gz"))
    sampler = node("Orange.widgets.data.owdatasampler.OWDataSampler",
                   "Data Sampler", (230, 230), stratify=True)
    learners = [
        node(CLASSIFIER, "Neural Gene Classifier", (440, 80),
             **classifier_settings()),
        node("Orange.widgets.model.owlogisticregression.OWLogisticRegression",
             "Logistic Regression", (440, 230)),
        node("Orange.widgets.model.owneuralnetwork.OWNNLearner",
             "Neural Network", (440, 380)),
    ]
    test_and_score = node(
        "Orange.widgets.evaluate.owtestandscore.OWTestAndScore",
        "Test & Score", (660, 100))
    confusion = node(
        "Orange.widgets.evaluate.owconfusionmatrix.OWConfusionMatrix",
        "Confusion Matrix", (840, 100))
    held_out = node("Orange.widgets.evaluate.owpredictions.OWPredictions",
                    "Predictions (held-out samples)", (660, 400))
    test = node("Orange.widgets.data.owfile.OWFile",
                "Khan test samples", (440, 530),
                **shipped_data("khan-srbct-test.tab.gz"))
    published = node("Orange.widgets.evaluate.owpredictions.OWPredictions",
                     "Predictions (published test set)", (660, 530))

    link(train, "Data", sampler, "Data")
    link(sampler, "Data Sample", test_and_score, "Data")
    for learner in learners:
        link(sampler, "Data Sample", learner, "Data")
        link(learner, "Learner", test_and_score, "Learner")
    link(test_and_score, "Evaluation Results", confusion, "Evaluation Results")
    link(sampler, "Remaining Data", held_out, "Data")
    link(test, "Data", published, "Data")
    for learner in learners:
        link(learner, "Model", held_out, "Predictors")
        link(learner, "Model", published, "Predictors")

    for rect, text in (
            ((0, 115, 190, 80),
             "Khan et al. (2001): 63 tumour samples, 2308 genes, "
             "four classes. Shipped with the add-on."),
            ((70, 290, 190, 110),
             "Sets 30% of the samples aside (stratified, fixed seed) to "
             "check the models on tumours they never saw."),
            ((240, -40, 330, 60),
             "Gene selection and scaling happen inside the Neural Gene "
             "Classifier, separately in every fold."),
            ((610, -40, 330, 60),
             "Cross-validation on the other 70%. Double-click to compare "
             "accuracy (CA), AUC and F1 of the three models."),
            ((790, 160, 190, 60),
             "Which tumour types are mistaken for which?"),
            ((780, 375, 200, 60),
             "One column of predicted classes per model."),
            ((780, 500, 220, 100),
             "The 20 test samples of the paper, whose neural networks "
             "classified all of them correctly."),
    ):
        scheme.add_annotation(SchemeTextAnnotation(rect, text, font=FONT))
    return scheme


def add_node(scheme, registry, qualified_name, title, position, **settings):
    """A node with the given settings and the widget's settings version;
    other settings are left to the widget's defaults."""
    description = registry.widget(qualified_name)
    widget_class = name_lookup(description.qualified_name)
    settings["__version__"] = getattr(widget_class, "settings_version", 1)
    return scheme.new_node(description, title=title, position=position,
                           properties=settings)


def write_workflow(build_scheme, path):
    # File's RecentPath settings are pickled, as in Orange's own examples;
    # the writer logs its fallback from literal format as an error
    logging.getLogger("orangecanvas.scheme.readwrite").setLevel(logging.CRITICAL)
    app = QApplication.instance() or QApplication([])
    scheme = build_scheme(widget_registry())
    with open(path, "wb") as stream:
        scheme.save_to(stream, pretty=True, pickle_fallback=True)
    del app
    print("wrote", path)


def main():
    write_workflow(build_scheme, WORKFLOW)


if __name__ == "__main__":
    main()

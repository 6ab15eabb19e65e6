"""Write the tutorial workflow rank-genes.ows with the canvas's own writer.

Run from the repository root after `pip install -e .`:

    QT_QPA_PLATFORM=offscreen python tools/build_gene_ranking_workflow.py

As in build_tutorial_workflow.py, only the settings the tutorial needs
differ from the widgets' defaults, and the classifier stores all of its own.
"""
import os

from AnyQt.QtCore import Qt

from orangecanvas.scheme import Scheme, SchemeTextAnnotation

from orangecontrib.neuralgene import tutorials

from build_tutorial_workflow import (
    CLASSIFIER, FONT, add_node, classifier_settings, shipped_data,
    write_workflow)

WORKFLOW = os.path.join(os.path.dirname(tutorials.__file__), "rank-genes.ows")

TITLE = "Which Genes Tell Childhood Tumours Apart"
DESCRIPTION = (
    "Which genes does the Neural Gene Classifier rely on to tell the four "
    "small round blue cell tumours of Khan et al. (2001) apart? Rank scores "
    "every gene by its importance to the trained network (integrated "
    "gradients), next to the ANOVA F statistic, and passes the top 50 genes "
    "to a Heat Map of the samples split by tumour type. A Data Table shows "
    "each gene's importance for every tumour type.")

N_TOP_GENES = 50
RANK_SCORES = ("ANOVA",)  # shown beside the classifier's column, for contrast


def build_scheme(registry):
    scheme = Scheme(title=TITLE, description=DESCRIPTION)

    def node(qualified_name, title, position, **settings):
        return add_node(scheme, registry, qualified_name, title, position,
                        **settings)

    train = node("Orange.widgets.data.owfile.OWFile",
                 "Khan training samples", (60, 200),
                 **shipped_data("khan-srbct-train.tab.gz"))
    classifier = node(CLASSIFIER, "Neural Gene Classifier", (260, 60),
                      **classifier_settings())
    rank = node(
        "Orange.widgets.data.owrank.OWRank", "Rank", (460, 200),
        selected_methods=set(RANK_SCORES),
        # sort by the first scorer on the input, the classifier, which
        # Rank lists after its own scores
        sorting=(len(RANK_SCORES), Qt.SortOrder.DescendingOrder.value),
        nSelected=N_TOP_GENES)
    heat_map = node("Orange.widgets.visualize.owheatmap.OWHeatMap",
                    "Heat Map", (660, 200),
                    col_clustering_method="OrderedClustering")
    importance = node("Orange.widgets.data.owtable.OWTable",
                      "Gene importance per tumour type", (460, 20))

    scheme.new_link(train, "Data", classifier, "Data")
    scheme.new_link(train, "Data", rank, "Data")
    scheme.new_link(classifier, "Learner", rank, "Scorer")
    scheme.new_link(rank, "Reduced Data", heat_map, "Data")
    scheme.new_link(classifier, "Gene Importance", importance, "Data")

    for rect, text in (
            ((0, 250, 190, 80),
             "Khan et al. (2001): 63 tumour samples, 2308 genes, "
             "four classes. Shipped with the add-on."),
            ((-70, -50, 240, 100),
             "The classifier's Learner is also a gene scorer: Rank trains "
             "it on the data and asks the network which genes it uses."),
            ((380, 270, 240, 90),
             f"Sorted by the classifier's importance; the top "
             f"{N_TOP_GENES} genes go on. Compare with the ANOVA column."),
            ((620, 270, 220, 80),
             "Samples split by tumour type; do the top genes set the "
             "types apart?"),
            ((530, -10, 280, 60),
             "Overall importance and one column per tumour type, most "
             "important gene first."),
    ):
        scheme.add_annotation(SchemeTextAnnotation(rect, text, font=FONT))
    return scheme


def main():
    write_workflow(build_scheme, WORKFLOW)


if __name__ == "__main__":
    main()

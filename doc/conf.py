"""Sphinx configuration of the Orange3-NeuralGene documentation.

Build it (offline, warnings are errors) from the repository root with

    python -m sphinx -W -b html doc doc/_build/html

doc/_build/html/index.html is where the canvas looks for the widgets' help
pages in a development checkout (WIDGET_HELP_PATH in
orangecontrib/neuralgene/widgets/__init__.py): its "Widgets" section links
each widget's page under the widget's name.
"""
import os
import re
from importlib.metadata import PackageNotFoundError, version as dist_version

HERE = os.path.dirname(os.path.abspath(__file__))


def _release():
    """The installed add-on's version, else the one setup.py declares."""
    try:
        return dist_version("Orange3-NeuralGene")
    except PackageNotFoundError:
        with open(os.path.join(HERE, "..", "setup.py"), encoding="utf-8") as f:
            return re.search(r'^VERSION = "(.+)"', f.read(), re.M).group(1)


project = "Orange3-NeuralGene"
author = "Orange3-NeuralGene contributors"
copyright = "Orange3-NeuralGene contributors; GPL-3.0-or-later"  # pylint: disable=redefined-builtin
release = _release()
version = release

extensions = ["myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
# anchors for "## Heading" sections, so pages can link to each other's parts
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"{project} {release}"
html_show_sourcelink = False
html_theme_options = {
    "description": "Neural network classification of samples from gene "
                   "expression, for Orange.",
    "fixed_sidebar": False,
}

#!/usr/bin/env python3
import os
import sys
from os import path

from setuptools import find_namespace_packages, setup

NAME = "Orange3-NeuralGene"
VERSION = "0.2.0"
DESCRIPTION = ("Neural network classification of samples from gene expression "
               "for Orange, with scaling and gene selection built in.")
HERE = path.abspath(path.dirname(__file__))
with open(path.join(HERE, "README.md"), encoding="utf-8") as readme:
    LONG_DESCRIPTION = readme.read()

ENTRY_POINTS = {
    # Orange's add-on dialog lists packages registered here
    "orange3.addon": ("neuralgene = orangecontrib.neuralgene",),
    # a widget category of its own on the canvas
    "orange.widgets": ("Neural Gene = orangecontrib.neuralgene.widgets",),
    # example workflows listed under Help > Examples
    "orange.widgets.tutorials": (
        "neuralgenetutorials = orangecontrib.neuralgene.tutorials",),
    # where the canvas finds the widgets' help pages (F1)
    "orange.canvas.help": (
        "html-index = orangecontrib.neuralgene.widgets:WIDGET_HELP_PATH",),
}

INSTALL_REQUIRES = [
    "orange3>=3.40",
    "AnyQt",
    "numpy",
    "scikit-learn",
    # on Intel Macs: 2.16, the last release with macOS x86-64 wheels
    "tensorflow-cpu>=2.16; platform_machine == 'x86_64'",
    "tensorflow>=2.16; platform_machine != 'x86_64'",
    "keras>=3",
    "pyqtgraph",
]

EXTRAS_REQUIRE = {
    "qt": ["PyQt6", "PyQt6-WebEngine"],
    # CI builds the documentation inside the tests
    "test": ["pytest", "hypothesis", "sphinx>=7", "myst-parser>=2"],
    "doc": ["sphinx>=7", "myst-parser>=2"],
    # benchmarks/single_cell.py compares with CellTypist's training
    "benchmarks": ["celltypist"],
}

# The html help (python -m sphinx -b html doc doc/_build/html) goes into
# wheels where WIDGET_HELP_PATH looks for installed help; an editable
# install reads doc/_build/html itself and would only get a stale copy.
HELP_BUILD = path.join("doc", "_build", "html")
HELP_INSTALL = path.join("share", "help", "en", "orange3-neuralgene",
                         "htmlhelp")


def help_data_files():
    if "bdist_wheel" not in sys.argv or not path.isdir(
            path.join(HERE, HELP_BUILD)):
        return []
    return [(path.normpath(path.join(HELP_INSTALL,
                                     path.relpath(folder, HELP_BUILD))),
             [path.join(folder, name) for name in files])
            for folder, _, files in os.walk(HELP_BUILD) if files]


if __name__ == "__main__":
    setup(
        name=NAME,
        version=VERSION,
        description=DESCRIPTION,
        long_description=LONG_DESCRIPTION,
        long_description_content_type="text/markdown",
        license="GPL-3.0-or-later",
        keywords=["orange3 add-on", "gene expression", "neural network",
                  "classification", "bioinformatics"],
        packages=find_namespace_packages(include=["orangecontrib*"]),
        package_data={
            "orangecontrib.neuralgene.widgets": ["icons/*.svg"],
            "orangecontrib.neuralgene.tutorials": ["*.ows"],
            "orangecontrib.neuralgene.datasets": ["*.tab.gz", "*.md"],
        },
        # Orange 3.40 needs Python 3.11 (see tools/check_wheels.py)
        python_requires=">=3.11",
        install_requires=INSTALL_REQUIRES,
        extras_require=EXTRAS_REQUIRE,
        entry_points=ENTRY_POINTS,
        data_files=help_data_files(),
        classifiers=[
            "Programming Language :: Python :: 3",
            "Intended Audience :: Science/Research",
            "Topic :: Scientific/Engineering :: Bio-Informatics",
            "Topic :: Scientific/Engineering :: Artificial Intelligence",
        ],
        zip_safe=False,
    )

#!/usr/bin/env python3
from os import path

from setuptools import find_namespace_packages, setup

NAME = "Orange3-NeuralGene"
VERSION = "0.1.0"
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
    "tensorflow-cpu>=2.16; platform_machine == 'x86_64'",
    "tensorflow>=2.16; platform_machine != 'x86_64'",
    "keras>=3",
    "pyqtgraph",
]

EXTRAS_REQUIRE = {
    "qt": ["PyQt6", "PyQt6-WebEngine"],
    "test": ["pytest", "hypothesis"],
    "doc": ["sphinx", "recommonmark"],
}

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
        python_requires=">=3.10",
        install_requires=INSTALL_REQUIRES,
        extras_require=EXTRAS_REQUIRE,
        entry_points=ENTRY_POINTS,
        classifiers=[
            "Programming Language :: Python :: 3",
            "Intended Audience :: Science/Research",
            "Topic :: Scientific/Engineering :: Bio-Informatics",
            "Topic :: Scientific/Engineering :: Artificial Intelligence",
        ],
        zip_safe=False,
    )

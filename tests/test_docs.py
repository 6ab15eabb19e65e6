"""The documentation builds offline without warnings, the canvas finds the
widget's help page in it (F1), and the add-on shows one version everywhere."""
import ast
import importlib
import json
import os
import re
import shutil
import sysconfig
import tempfile
import unittest
from html.parser import HTMLParser
from importlib.metadata import version
from unittest import mock
from urllib.parse import urlencode

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# pylint: disable=wrong-import-position
from AnyQt.QtCore import QUrl
from AnyQt.QtWidgets import QCheckBox, QGroupBox, QLabel, QPushButton

from orangecanvas.application.utils.addons import Installed, installable_items
from orangecanvas.help import manager as help_manager
from orangecanvas.registry import WidgetRegistry

from Orange.canvas.config import Config
from Orange.widgets.tests.base import GuiTest, WidgetTest

import orangecontrib.neuralgene
from orangecontrib.neuralgene import widgets as widgets_package
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier)
from tests.helpers import ROOT, fresh_interpreter

DOC = os.path.join(ROOT, "doc")
DISTRIBUTION = "Orange3-NeuralGene"
# Any attempt to reach the network fails at once instead of succeeding
OFFLINE = {name: "http://127.0.0.1:9" for name in (
    "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
    "ALL_PROXY")}

BUILD = None  # the html build shared by the tests, made in setUpModule
# where setup.py puts the html help in wheels
INSTALLED_HELP = os.path.join(
    sysconfig.get_path("data"), "share", "help", "en", "orange3-neuralgene",
    "htmlhelp")


def setUpModule():  # pylint: disable=invalid-name
    global BUILD  # pylint: disable=global-statement
    BUILD = tempfile.mkdtemp(prefix="neuralgene-doc-")


def tearDownModule():  # pylint: disable=invalid-name
    shutil.rmtree(BUILD, ignore_errors=True)


def build_docs():
    """Build the html docs into BUILD once; return the finished process."""
    if not hasattr(build_docs, "result"):
        env = {key: value for key, value in os.environ.items()
               if key.lower() != "no_proxy"}
        env.update(OFFLINE)
        build_docs.result = fresh_interpreter(
            "-m", "sphinx", "-W", "-q", "-b", "html", DOC, BUILD, env=env)
    return build_docs.result


class _Title(HTMLParser):
    """Text of a page's first <h1>, without the heading's permalink."""
    def __init__(self):
        super().__init__()
        self.title, self._depth, self._in_link = None, 0, False

    def handle_starttag(self, tag, attrs):
        if tag == "h1" and self.title is None:
            self._depth, self.title = 1, ""
        elif tag == "a" and self._depth:
            self._in_link = ("class", "headerlink") in attrs

    def handle_endtag(self, tag):
        if tag == "h1":
            self._depth = 0
        elif tag == "a":
            self._in_link = False

    def handle_data(self, data):
        if self._depth and not self._in_link:
            self.title += data


def page_title(path):
    parser = _Title()
    with open(path, encoding="utf-8") as page:
        parser.feed(page.read())
    return (parser.title or "").strip()


def our_widget_registry():
    """The canvas's registry, discovering this add-on's entry point only."""
    entry_points = [ep for ep in Config.widgets_entry_points()
                    if ep.value == widgets_package.__name__]
    discovery = Config.widget_discovery(WidgetRegistry())
    discovery.run(entry_points)
    return discovery.registry


def qualified_name(widget_class):
    return f"{widget_class.__module__}.{widget_class.__qualname__}"


class TestDocsBuild(unittest.TestCase):
    def test_sphinx_is_installed_with_the_test_extra(self):
        # not a skip: CI must build the docs, so a missing Sphinx is a failure
        import sphinx  # pylint: disable=import-outside-toplevel,unused-import
        import myst_parser  # pylint: disable=import-outside-toplevel,unused-import

    def test_docs_build_offline_without_warnings(self):
        result = build_docs()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertNotIn("WARNING", result.stderr)
        self.assertTrue(os.path.isfile(os.path.join(BUILD, "index.html")))

    def test_widget_page_is_titled_with_the_widget_name(self):
        self.assertEqual(build_docs().returncode, 0)
        page = os.path.join(BUILD, "widgets", "neural-gene-classifier.html")
        self.assertEqual(page_title(page), OWNeuralGeneClassifier.name)

    def test_walkthrough_pages_have_their_titles(self):
        self.assertEqual(build_docs().returncode, 0)
        for name, title in (
                ("classify-tumours",
                 "Classify tumours from gene expression in five minutes"),
                ("rank-genes", "Which genes tell childhood tumours apart")):
            with self.subTest(name):
                page = os.path.join(BUILD, "tutorials", f"{name}.html")
                self.assertEqual(page_title(page), title)


class TestWidgetPage(WidgetTest):
    def test_widget_page_explains_every_control(self):
        widget = self.create_widget(OWNeuralGeneClassifier)
        areas = (widget.controlArea, widget.buttonsArea)
        controls = {control.text().rstrip(":") for area in areas
                    for kind in (QLabel, QCheckBox, QPushButton)
                    for control in area.findChildren(kind)}
        controls.discard("")
        boxes = {box.title().strip() for box in
                 widget.controlArea.findChildren(QGroupBox)}
        self.assertIn("Neurons in hidden layers", controls)  # found any at all
        with open(os.path.join(DOC, "widgets", "neural-gene-classifier.md"),
                  encoding="utf-8") as page:
            text = page.read()
        for control in controls:
            self.assertIn(f"**{control}**", text)
        for box in boxes:
            self.assertTrue(f"### {box}\n" in text or f"**{box}**" in text,
                            box)


class TestCanvasFindsHelp(GuiTest):
    """F1 on the widget: the canvas asks its help manager for the widget's
    page; the manager reads our "orange.canvas.help" entry point, whose
    WIDGET_HELP_PATH names the html index, and finds the link titled with
    the widget's name in its "Widgets" section."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = our_widget_registry()

    def help_url(self, index):
        description = self.registry.widget(qualified_name(OWNeuralGeneClassifier))
        self.assertEqual(description.project_name, DISTRIBUTION)
        manager = help_manager.HelpManager()
        manager.set_registry(self.registry)
        # as the canvas asks on F1 (orangecanvas.registry.qt)
        url = QUrl("help://search?" + urlencode(
            {"id": description.qualified_name}))
        with mock.patch.object(widgets_package, "WIDGET_HELP_PATH",
                               ((index, None),)), \
                mock.patch.dict(help_manager._providers_cache, clear=True):
            return manager.search(url)

    def test_help_opens_the_widget_page(self):
        self.assertEqual(build_docs().returncode, 0)
        url = self.help_url(os.path.join(BUILD, "index.html"))
        self.assertTrue(url.isLocalFile(), url.toString())
        page = url.toLocalFile()
        self.assertTrue(os.path.isfile(page), page)
        self.assertEqual(page_title(page), OWNeuralGeneClassifier.name)

    def test_help_without_built_docs_finds_nothing(self):
        with self.assertRaises(KeyError):
            self.help_url(os.path.join(BUILD, "no-such-folder", "index.html"))

    def help_index(self, installed):
        """The help index the widgets' package names where the installed
        help is there (``installed``) or not."""
        isdir = os.path.isdir
        with mock.patch("os.path.isdir",
                        lambda path: installed if path == INSTALLED_HELP
                        else isdir(path)):
            importlib.reload(widgets_package)
        self.addCleanup(importlib.reload, widgets_package)
        (index, _), = widgets_package.WIDGET_HELP_PATH
        return os.path.realpath(index)

    def test_help_path_names_the_installed_help_where_it_is_installed(self):
        self.assertEqual(
            self.help_index(installed=True),
            os.path.realpath(os.path.join(INSTALLED_HELP, "index.html")))

    def test_help_path_names_the_documented_build_folder_otherwise(self):
        self.assertEqual(
            self.help_index(installed=False),
            os.path.realpath(os.path.join(DOC, "_build", "html",
                                          "index.html")))

    def test_setup_installs_the_help_where_the_canvas_looks(self):
        with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
            parts = re.search(r"^HELP_INSTALL = path\.join\(([^)]*)\)",
                              f.read(), re.M).group(1)
        self.assertEqual(
            os.path.join(sysconfig.get_path("data"),
                         *ast.literal_eval(f"({parts})")),
            INSTALLED_HELP)


class TestWidgetCatalog(unittest.TestCase):
    def test_catalog_lists_every_widget_with_page_icon_and_keywords(self):
        with open(os.path.join(DOC, "widgets.json"), encoding="utf-8") as f:
            catalog = json.load(f)
        registry = our_widget_registry()
        (category, entries), = catalog
        self.assertEqual(category, widgets_package.NAME)
        widgets = {desc.name: desc for desc in registry.widgets()}
        self.assertEqual({entry["text"] for entry in entries}, set(widgets))
        icons = os.path.dirname(widgets_package.__file__)
        for entry in entries:
            desc = widgets[entry["text"]]
            with open(os.path.join(DOC, entry["doc"]), encoding="utf-8") as page:
                self.assertEqual(page.readline().strip(), f"# {desc.name}")
            self.assertEqual(
                os.path.realpath(os.path.join(DOC, entry["icon"])),
                os.path.realpath(os.path.join(icons, desc.icon)))
            self.assertEqual(entry["keywords"], list(desc.keywords))


class TestVersion(unittest.TestCase):
    def test_package_version_is_the_installed_distributions(self):
        self.assertEqual(orangecontrib.neuralgene.__version__,
                         version(DISTRIBUTION))

    def test_installed_version_is_the_one_setup_declares(self):
        with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
            declared = re.search(r'^VERSION = "(.+)"', f.read(), re.M).group(1)
        self.assertEqual(version(DISTRIBUTION), declared)

    def test_changelog_starts_with_the_current_version(self):
        with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as f:
            newest = re.search(r"^## (\S+)", f.read(), re.M).group(1)
        self.assertEqual(newest, orangecontrib.neuralgene.__version__)

    def test_addon_dialog_lists_the_add_on_with_its_version(self):
        installed = [ep.dist for ep in Config.addon_entry_points()
                     if ep.dist is not None]
        items = {item.local.name: item for item in
                 installable_items([], installed)
                 if isinstance(item, Installed)}
        self.assertIn(DISTRIBUTION, items)
        self.assertEqual(items[DISTRIBUTION].local.version,
                         orangecontrib.neuralgene.__version__)


if __name__ == "__main__":
    unittest.main()

"""Run an example workflow without a window, as the canvas would: used by
the tests and by the screenshot script in doc/."""
import importlib
import os
from contextlib import contextmanager

from AnyQt.QtTest import QTest

from orangecanvas.registry import WidgetRegistry
from orangecanvas.scheme import SchemeNode
from orangecanvas.scheme.readwrite import parse_ows_stream
from orangewidget.workflow.widgetsscheme import WidgetsScheme

from Orange.canvas.config import Config

BUSY = SchemeNode.Running | SchemeNode.Pending | SchemeNode.Invalidated
POLL_MS = 50
# a bound against hanging, not a goal: 20 minutes
MAX_POLLS = 20 * 60 * 1000 // POLL_MS
IDLE_POLLS = 20


def widget_registry():
    discovery = Config.widget_discovery(WidgetRegistry())
    discovery.run(Config.widgets_entry_points())
    return discovery.registry


def load_workflow(path, registry, errors):
    """A scheme of live widgets read from ``path``; problems in reading it
    are appended to ``errors``."""
    scheme = WidgetsScheme()
    scheme.widget_manager.set_creation_policy(
        scheme.widget_manager.Immediate)
    # as the canvas does when it opens a file, so File finds the data
    scheme.set_runtime_env("basedir", os.path.abspath(os.path.dirname(path)))
    with open(path, "rb") as stream:
        scheme.load_from(stream, registry=registry,
                         error_handler=errors.append)
    return scheme


@contextmanager
def widgets_at_their_defaults(path, registry):
    """While in the block, new widgets of the workflow at ``path`` take
    their settings from the workflow and their class's own defaults, not
    from the settings last used in this process (which Orange keeps as
    defaults for new widgets, so that one test's widget would set up the
    next's); the last-used settings are back afterwards."""
    with open(path, "rb") as stream:
        nodes = parse_ows_stream(stream).nodes
    handlers = []
    for name in {node.qualified_name for node in nodes}:
        module, _, class_name = (
            registry.widget(name).qualified_name.rpartition("."))
        handler = getattr(importlib.import_module(module),
                          class_name).settingsHandler
        handlers.append((handler, handler.defaults))
    for handler, _ in handlers:
        handler.defaults = {}
    try:
        yield
    finally:
        for handler, defaults in handlers:
            handler.defaults = defaults


def is_busy(scheme):
    manager = scheme.signal_manager
    return (manager.has_pending()
            or manager.runtime_state() == manager.Processing
            or any(node.state() & BUSY for node in scheme.nodes))


def run_until_idle(scheme):
    """Process events until no widget has had work for IDLE_POLLS polls."""
    idle = 0
    for _ in range(MAX_POLLS):
        QTest.qWait(POLL_MS)
        idle = 0 if is_busy(scheme) else idle + 1
        if idle == IDLE_POLLS:
            return True
    return False

"""Run an example workflow without a window, as the canvas would: used by
the tests and by the screenshot script in doc/."""
import os
from contextlib import contextmanager

from AnyQt.QtTest import QTest

from orangecanvas.registry import WidgetRegistry
from orangecanvas.scheme import SchemeNode
from orangecanvas.scheme.readwrite import parse_ows_stream
from orangecanvas.utils import name_lookup
from orangewidget.workflow.widgetsscheme import WidgetsScheme

from Orange.canvas.config import Config

# what a widget keeps of its window rather than of its work
WINDOW_SETTINGS = ("controlAreaVisible", "savedWidgetGeometry")
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


def default_settings(widget_class) -> dict:
    """The settings a new widget of ``widget_class`` starts with when none
    were used before, its window's left out."""
    settings = widget_class.settingsHandler.provider.settings
    return {name: setting.default for name, setting in settings.items()
            if name not in WINDOW_SETTINGS}


@contextmanager
def at_their_defaults(widget_classes):
    """While in the block, new widgets of ``widget_classes`` take their
    class's own defaults (and those stored in a workflow), not the settings
    last used in this process or saved on disk, which Orange keeps as
    defaults for new widgets (so that one test's widget would set up the
    next's); the last-used settings are back afterwards."""
    handlers = [(cls.settingsHandler, cls.settingsHandler.defaults)
                for cls in set(widget_classes)]
    for handler, _ in handlers:
        handler.defaults = {}
    try:
        yield
    finally:
        for handler, defaults in handlers:
            handler.defaults = defaults


def widgets_at_their_defaults(path, registry):
    """``at_their_defaults`` for the widgets of the workflow at ``path``."""
    with open(path, "rb") as stream:
        nodes = parse_ows_stream(stream).nodes
    return at_their_defaults(
        name_lookup(registry.widget(name).qualified_name)
        for name in {node.qualified_name for node in nodes})


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

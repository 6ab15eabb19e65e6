"""Widget category "Neural Gene" on Orange's canvas."""
import os
import sysconfig

NAME = "Neural Gene"
DESCRIPTION = "Neural network classification of samples from gene expression."
BACKGROUND = "#C9E7B4"
ICON = "icons/category.svg"
PRIORITY = 1200

# Where the canvas looks for this category's help pages (F1 on a widget):
# the installed html build if present, else the development build in doc/.
_INSTALLED_HELP = os.path.join(
    sysconfig.get_path("data"), "share", "help", "en", "orange3-neuralgene",
    "htmlhelp")
_DEV_HELP = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "doc", "_build", "html")

if os.path.isdir(_INSTALLED_HELP):
    WIDGET_HELP_PATH = (
        (os.path.join(_INSTALLED_HELP, "index.html"), None),)
else:
    WIDGET_HELP_PATH = (
        (os.path.join(os.path.abspath(_DEV_HELP), "index.html"), None),)

"""Small real data sets used by the tutorials."""
import os

DATASETS_DIR = os.path.dirname(os.path.abspath(__file__))


def path(name):
    """Full path of a shipped data file, e.g. ``path("khan-srbct-train.tab.gz")``."""
    return os.path.join(DATASETS_DIR, name)

"""TensorFlow and Keras, imported once, on first use, through ``import_keras``.

Every part of the add-on (and its tests and benchmarks) that needs TensorFlow
calls ``import_keras()`` first. TensorFlow's C++ log level is set quiet
(``TF_CPP_MIN_LOG_LEVEL=3`` unless already set) and its Python logger shows
errors only. Around the first import, these workarounds run where they are
made for:

- deep binding (Linux): TensorFlow's libraries carry their own LLVM, and
  would bind to another one already loaded (Mesa's, under Qt WebEngine) and
  crash;
- loading TensorFlow's libraries without the GIL (Linux), so that a GUI
  thread keeps running while a worker thread imports;
- the garbage collector kept from scanning the import's objects, which
  would otherwise hold the GIL for several long collections;
- standard error (file descriptor 2) silenced during the import, which
  TensorFlow's native start-up writes to whatever the log level says.

Setting the environment variable ``NEURALGENE_PLAIN_TENSORFLOW_IMPORT=1``
turns them all off (and ``tensors``' pre-faulted memory mapping, Linux's
answer to huge-page compaction stalls): TensorFlow is then imported as any
program would import it, which is the way out if one of them misbehaves on
some machine, and the way to measure what each still buys.
"""
import contextlib
import os
import sys
import threading

__all__ = ["import_keras", "workarounds_enabled", "PLAIN_IMPORT_VARIABLE"]

PLAIN_IMPORT_VARIABLE = "NEURALGENE_PLAIN_TENSORFLOW_IMPORT"

# fits in two threads (e.g. the widget and Test & Score) may both be first
_import_lock = threading.RLock()


def workarounds_enabled() -> bool:
    """False when ``NEURALGENE_PLAIN_TENSORFLOW_IMPORT`` is set (to
    anything but an empty string or 0)."""
    return os.environ.get(PLAIN_IMPORT_VARIABLE, "") in ("", "0")


def import_keras():
    """Keras, with TensorFlow imported quietly and, when imported in a worker
    thread, without freezing the GUI."""
    with _import_lock:
        if "tensorflow" not in sys.modules:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            if workarounds_enabled():
                with _silenced_stderr(), _own_symbols_first(), \
                        _unscanned_by_gc():
                    _load_libraries_without_gil()
                    import tensorflow  # imports Keras too
            else:
                import tensorflow
            # e.g. retracing notes when many network shapes are trained
            tensorflow.get_logger().setLevel("ERROR")
    import keras
    return keras


@contextlib.contextmanager
def _own_symbols_first():
    """TensorFlow's libraries carry their own LLVM. Once another LLVM is
    loaded (Mesa's OpenGL, e.g. under Qt WebEngine's report or help view),
    TensorFlow's initialisers would bind to it and crash the process; deep
    binding makes them use their own."""
    if not (sys.platform.startswith("linux")
            and hasattr(sys, "getdlopenflags")
            and hasattr(os, "RTLD_DEEPBIND")):
        yield
        return
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
    try:
        yield
    finally:
        sys.setdlopenflags(flags)


def _load_libraries_without_gil():
    """Load TensorFlow's large shared libraries (0.8 GB) before its import
    does. Python's import loads them holding the GIL, which stops every
    other thread, the GUI's included, for a third of a second; a call
    through ctypes releases the GIL. Linux only; elsewhere, or if anything
    is amiss, the import loads them as usual."""
    import ctypes
    import glob
    import importlib.util

    if not (sys.platform.startswith("linux")
            and hasattr(sys, "getdlopenflags")):
        return
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return
    folder = spec.submodule_search_locations[0]
    try:
        dlopen = ctypes.CDLL(None).dlopen
    except (OSError, AttributeError):
        return
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    # framework first: the other library needs it
    for library in sorted(glob.glob(os.path.join(folder, "libtensorflow*.so*")),
                          key=lambda path: "framework" not in path):
        # the handle stays open, so the import finds the library loaded
        dlopen(os.fsencode(library), sys.getdlopenflags())


@contextlib.contextmanager
def _unscanned_by_gc():
    """Objects created meanwhile go to the garbage collector's oldest
    generation without being scanned on the way. Importing TensorFlow
    creates hundreds of thousands of objects that live as long as the
    process, and would set off several full collections, each holding the
    GIL for 100-200 ms while it scans the whole heap."""
    import gc

    if not hasattr(gc, "freeze"):  # CPython's; other interpreters differ
        yield
        return
    was_enabled = gc.isenabled()
    untouched = gc.get_freeze_count() > 0  # the application froze objects
    gc.disable()
    try:
        yield
    finally:
        if not untouched:
            # freeze moves all tracked objects out of the young generations,
            # unfreeze moves them all into the oldest; neither scans them
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def _silenced_stderr():
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (e.g. embedded interpreter)
        yield
        return
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)

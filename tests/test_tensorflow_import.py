"""TensorFlow's first import, which the widget runs in a worker thread while
the GUI thread must keep running."""
import gc
import json
import os
import sys
import textwrap
import unittest
from unittest import mock

from orangecontrib.neuralgene import tensorflow_startup
from tests.helpers import run_in_fresh_interpreter

LOADED_BEFORE_IMPORT = textwrap.dedent("""
    import sys
    from orangecontrib.neuralgene import tensorflow_startup
    tensorflow_startup._load_libraries_without_gil()
    with open("/proc/self/maps") as maps:
        mapped = maps.read()
    print("tensorflow imported:", "tensorflow" in sys.modules)
    print("libraries mapped:", "libtensorflow_cc" in mapped,
          "libtensorflow_framework" in mapped)
    tensorflow_startup.import_keras()
    print("imported")
""")


CONCURRENT_FIRST_IMPORTS = textwrap.dedent("""
    import os, threading
    from orangecontrib.neuralgene import tensorflow_startup
    threads = [threading.Thread(target=tensorflow_startup.import_keras)
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.write(2, b"stderr still works")
""")

# Records which workarounds a first fit ran, by the calls only they make;
# the add-on is imported before the spies are set, TensorFlow after
WORKAROUNDS_TAKEN = textwrap.dedent("""
    import ctypes, gc, json, mmap, os, sys
    from unittest import mock
    import numpy as np
    from tests.helpers import QUICK_MANUAL, assert_valid_probabilities, \\
        expression_table
    from orangecontrib.neuralgene import NeuralGeneClassifierLearner
    from orangecontrib.neuralgene.tensors import MAPPED_BYTES, float32_copy

    taken = set()

    def spy(real, name, when=lambda *args: True):
        def call(*args, **kwargs):
            if when(*args):
                taken.add(name)
            return real(*args, **kwargs)
        return call

    deep = getattr(os, "RTLD_DEEPBIND", 0)
    mock.patch.object(sys, "setdlopenflags", spy(
        sys.setdlopenflags, "deep binding",
        lambda flags: deep and flags & deep)).start()
    mock.patch.object(ctypes, "CDLL", spy(
        ctypes.CDLL, "libraries loaded without the GIL",
        lambda name, *_: name is None)).start()
    mock.patch.object(gc, "freeze", spy(gc.freeze, "import unscanned")).start()
    mock.patch.object(os, "dup2", spy(
        os.dup2, "stderr silenced", lambda fd, to, *_: to == 2)).start()
    mock.patch.object(mmap, "mmap", spy(
        mmap.mmap, "memory mapped at once")).start()

    data = expression_table()
    model = NeuralGeneClassifierLearner(**QUICK_MANUAL)(data)
    assert_valid_probabilities(model, data)
    float32_copy(np.zeros(MAPPED_BYTES // 4))
    print(json.dumps(sorted(taken)))
""")
ALL_WORKAROUNDS = ["deep binding", "import unscanned",
                   "libraries loaded without the GIL",
                   "memory mapped at once", "stderr silenced"]


def workarounds_taken(test, **environment):
    env = dict(os.environ)
    env.pop(tensorflow_startup.PLAIN_IMPORT_VARIABLE, None)
    env.update(environment)
    done = run_in_fresh_interpreter(test, WORKAROUNDS_TAKEN, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


class TestPlainImportSwitch(unittest.TestCase):
    def test_switched_off_tensorflow_is_imported_plainly_and_trains(self):
        taken = workarounds_taken(
            self, NEURALGENE_PLAIN_TENSORFLOW_IMPORT="1")
        self.assertEqual(taken, [])

    @unittest.skipUnless(sys.platform.startswith("linux"),
                         "the workarounds are Linux's")
    def test_by_default_every_workaround_runs_on_linux(self):
        self.assertEqual(workarounds_taken(self), ALL_WORKAROUNDS)

    def test_only_a_value_other_than_empty_or_0_switches_off(self):
        name = tensorflow_startup.PLAIN_IMPORT_VARIABLE
        for value, enabled in (("", True), ("0", True), ("1", False),
                               ("yes", False)):
            with self.subTest(value=value), \
                    mock.patch.dict(os.environ, {name: value}):
                self.assertEqual(tensorflow_startup.workarounds_enabled(),
                                 enabled)


class TestConcurrentFirstImports(unittest.TestCase):
    def test_stderr_is_restored_when_threads_import_at_once(self):
        # each import silences fd 2 for TensorFlow's C++ logging; overlapping
        # ones used to restore one another's silenced stderr
        done = run_in_fresh_interpreter(self, CONCURRENT_FIRST_IMPORTS)
        self.assertIn("stderr still works", done.stderr)


@unittest.skipUnless(sys.platform.startswith("linux"), "loads through dlopen")
class TestLibrariesLoadedWithoutGil(unittest.TestCase):
    def test_libraries_are_loaded_before_the_import_which_then_works(self):
        done = run_in_fresh_interpreter(self, LOADED_BEFORE_IMPORT)
        self.assertIn("tensorflow imported: False", done.stdout)
        self.assertIn("libraries mapped: True True", done.stdout)
        self.assertIn("imported", done.stdout)


class TestUnscannedByGc(unittest.TestCase):
    def setUp(self):
        self.collections = []
        gc.callbacks.append(self._note)
        self.addCleanup(gc.callbacks.remove, self._note)

    def _note(self, phase, info):
        if phase == "start":
            self.collections.append(info["generation"])

    def test_new_objects_go_unscanned_to_the_oldest_generation(self):
        with tensorflow_startup._unscanned_by_gc():
            # enough container objects to set off collections of every
            # generation if the collector were running
            made = [[i] for i in range(300_000)]
        self.assertEqual(self.collections, [])
        self.assertTrue(gc.isenabled())
        self.assertEqual(gc.get_freeze_count(), 0)
        oldest = {id(obj) for obj in gc.get_objects(generation=2)}
        self.assertTrue(all(id(obj) in oldest for obj in made[::1000]))

    def test_leaves_a_disabled_collector_disabled(self):
        gc.disable()
        try:
            with tensorflow_startup._unscanned_by_gc():
                pass
            self.assertFalse(gc.isenabled())
        finally:
            gc.enable()

    def test_does_not_thaw_what_the_application_froze(self):
        frozen = [object()]
        gc.freeze()
        try:
            n_frozen = gc.get_freeze_count()
            with tensorflow_startup._unscanned_by_gc():
                made = [[i] for i in range(1000)]
            self.assertGreaterEqual(gc.get_freeze_count(), n_frozen)
            self.assertTrue(gc.isenabled())
        finally:
            gc.unfreeze()
        del frozen, made


if __name__ == "__main__":
    unittest.main()

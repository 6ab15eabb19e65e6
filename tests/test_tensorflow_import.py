"""TensorFlow's first import, which the widget runs in a worker thread while
the GUI thread must keep running."""
import gc
import sys
import textwrap
import unittest

from orangecontrib.neuralgene import network
from tests.helpers import run_in_fresh_interpreter

LOADED_BEFORE_IMPORT = textwrap.dedent("""
    import sys
    from orangecontrib.neuralgene import network
    network._load_libraries_without_gil()
    with open("/proc/self/maps") as maps:
        mapped = maps.read()
    print("tensorflow imported:", "tensorflow" in sys.modules)
    print("libraries mapped:", "libtensorflow_cc" in mapped,
          "libtensorflow_framework" in mapped)
    network.import_keras()
    print("imported")
""")


CONCURRENT_FIRST_IMPORTS = textwrap.dedent("""
    import os, threading
    from orangecontrib.neuralgene import network
    threads = [threading.Thread(target=network.import_keras) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.write(2, b"stderr still works")
""")


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
        with network._unscanned_by_gc():
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
            with network._unscanned_by_gc():
                pass
            self.assertFalse(gc.isenabled())
        finally:
            gc.enable()

    def test_does_not_thaw_what_the_application_froze(self):
        frozen = [object()]
        gc.freeze()
        try:
            n_frozen = gc.get_freeze_count()
            with network._unscanned_by_gc():
                made = [[i] for i in range(1000)]
            self.assertGreaterEqual(gc.get_freeze_count(), n_frozen)
            self.assertTrue(gc.isenabled())
        finally:
            gc.unfreeze()
        del frozen, made


if __name__ == "__main__":
    unittest.main()

"""Orange's own generic learner tests, run against this learner.

Orange's ``test_classification`` checks every learner it finds in
``Orange.classification``; here the same test methods see ours instead.
The namespace check is about Orange's own package and does not apply.
A generic test that is skipped, or that passes over our learner without
training it, has not checked it, and fails here.
"""
import inspect
import unittest
from unittest.mock import patch

import Orange.tests.test_classification as orange_tests

from orangecontrib.neuralgene import NeuralGeneClassifierLearner

NOT_FOR_ADD_ONS = {
    "test_all_learners_accessible_in_Orange_classification_namespace"}


def generic_learner_tests():
    loader = unittest.TestLoader()
    for _, case in inspect.getmembers(orange_tests, inspect.isclass):
        if not issubclass(case, unittest.TestCase):
            continue
        for name in loader.getTestCaseNames(case):
            if name in NOT_FOR_ADD_ONS:
                continue
            if "all_learners()" in inspect.getsource(getattr(case, name)):
                yield case, name


class TestOrangeGenericLearnerSuite(unittest.TestCase):
    def test_finds_orange_generic_tests(self):
        self.assertGreaterEqual(len(list(generic_learner_tests())), 8)

    def test_learner_passes_orange_generic_tests(self):
        learner_call = NeuralGeneClassifierLearner.__call__
        with patch.object(orange_tests, "all_learners",
                          lambda: iter([NeuralGeneClassifierLearner])), \
                patch.object(NeuralGeneClassifierLearner, "__call__",
                             autospec=True,
                             side_effect=learner_call) as fits:
            for case, name in generic_learner_tests():
                with self.subTest(f"{case.__name__}.{name}"):
                    fits.reset_mock()
                    result = unittest.TestResult()
                    case(name).run(result)
                    problems = result.failures + result.errors
                    self.assertEqual(
                        problems, [], "\n".join(text for _, text in problems))
                    self.assertEqual(result.skipped, [])
                    self.assertEqual(result.expectedFailures, [])
                    self.assertEqual(result.unexpectedSuccesses, [])
                    # Orange's tests pass over learners they find unsuited
                    self.assertTrue(fits.called, "the learner was not trained")


if __name__ == "__main__":
    unittest.main()

"""Orange's own generic learner tests, run against this learner.

Orange's ``test_classification`` checks every learner it finds in
``Orange.classification``; here the same test methods see ours instead.
The namespace check is about Orange's own package and does not apply.
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
        with patch.object(orange_tests, "all_learners",
                          lambda: iter([NeuralGeneClassifierLearner])):
            for case, name in generic_learner_tests():
                with self.subTest(f"{case.__name__}.{name}"):
                    result = unittest.TestResult()
                    case(name).run(result)
                    problems = result.failures + result.errors
                    self.assertEqual(
                        problems, [], "\n".join(text for _, text in problems))


if __name__ == "__main__":
    unittest.main()

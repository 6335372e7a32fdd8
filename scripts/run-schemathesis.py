"""Runs schemathesis's command line (from the test-tools venv).

CPython 3.11's ast.parse fails with "AST constructor recursion depth mismatch" on some large
modules (python/cpython#106905), schemathesis's strategy module among them. Hypothesis parses
a lambda's module only to print the lambda in a strategy's repr; such a lambda is printed by
name here instead, so the run's outcome never depends on that bug.
"""
import sys

from hypothesis.internal import lambda_sources
from schemathesis.cli import schemathesis

_describe = lambda_sources.lambda_description


def _describe_or_name(f):
    try:
        return _describe(f)
    except SystemError:
        return "lambda: ..."


lambda_sources.lambda_description = _describe_or_name
sys.argv[0] = "schemathesis"
sys.exit(schemathesis())

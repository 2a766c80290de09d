"""Root pytest configuration: names available to every doctest."""

import numpy
import pytest


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace["np"] = numpy

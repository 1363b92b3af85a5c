"""Shared fixtures: small, fast recipes."""
import pytest

import nnopt


@pytest.fixture
def small_recipe():
    """A digits MLP that trains in well under a second, single-threaded and checkpointed."""
    return nnopt.Recipe({"model": {"widths": [32]}, "train": {"epochs": 3, "batch_size": 64, "threads": 1,
                                                              "device": "cpu"}})

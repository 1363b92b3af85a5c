"""Shared fixtures: small, fast recipes; one torch thread for tiny tensors."""
import pytest
import torch

import nnopt


@pytest.fixture
def small_recipe():
    """A digits MLP that trains in well under a second, single-threaded and checkpointed."""
    return nnopt.Recipe({"model": {"widths": [32]}, "train": {"epochs": 3, "batch_size": 64, "threads": 1,
                                                              "device": "cpu"}})


@pytest.fixture
def one_thread():
    """Tiny tensors: extra threads only add overhead (and contention on a shared machine).
    Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

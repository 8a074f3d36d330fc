"""Shared fixtures of the synthetic-data tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    # These tests use small tensors: intra-op threading only adds synchronisation (and, on a busy
    # machine, long waits for the second thread). Restore the caller's setting afterwards.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

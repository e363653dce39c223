"""How runs fail in words: running out of memory, and a worker's heartbeat noticing it lost its run."""

from __future__ import annotations

import pytest
import torch

from inference.jobs import Heartbeat
from inference.training.pipeline import failure_message, is_out_of_memory, out_of_memory_message
from products.training.hyperparameters import HyperParameters


@pytest.mark.parametrize("exc", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory: you tried to allocate"),
    MemoryError(),
])
def test_running_out_of_memory_on_a_gpu_or_a_cpu_is_recognised(exc):
    assert is_out_of_memory(exc)


def test_other_errors_are_not_taken_for_out_of_memory():
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("out of memory"))  # only the errors PyTorch raises for it


def test_the_out_of_memory_message_names_the_batch_size_and_what_to_change():
    params = HyperParameters(epochs=1, learning_rate=1e-3, batch_size=16)
    assert out_of_memory_message(params) == (
        "The model ran out of memory at batch size 16. Try a smaller batch size (or a shorter maximum length) "
        "under “Advanced settings”, then start the run again."
    )


def test_pytorch_failing_to_allocate_fails_the_run_with_the_advice_to_try_a_smaller_batch():
    with pytest.raises(RuntimeError) as caught:
        torch.empty(2**50, dtype=torch.uint8)  # a petabyte: PyTorch's own out-of-memory error on this CPU
    params = HyperParameters(epochs=1, learning_rate=1e-3, batch_size=8)
    assert failure_message(caught.value, params) == (
        "The model ran out of memory at batch size 8. Try a smaller batch size (or a shorter maximum length) "
        "under “Advanced settings”, then start the run again."
    )


def test_any_other_training_error_is_named_with_what_to_do_next():
    params = HyperParameters(epochs=1, learning_rate=1e-3, batch_size=8)
    assert failure_message(RuntimeError("mat1 and mat2 shapes cannot be multiplied"), params) == (
        "Training stopped because of an error: mat1 and mat2 shapes cannot be multiplied. Start the run again; if it "
        "fails the same way, tell whoever runs this studio."
    )


def test_the_heartbeat_renews_the_lease_until_it_is_lost():
    renewals = []

    def renew() -> bool:
        renewals.append(1)
        return len(renewals) < 3  # the third renewal finds the run taken by another worker

    with Heartbeat(renew, interval_s=0.01) as lost:
        assert lost.wait(timeout=30)  # a guard against a hang, not a measurement
    assert len(renewals) == 3

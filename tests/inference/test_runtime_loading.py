"""A model loading for one request must not freeze the worker's event loop for the others.

The loop asks the runtime for a running scheduler (and for the engine status line) without a thread; while the
first request of a model loaded it under the runtime's one lock, those calls waited the whole load, so a second
request could not even send its start frame and its person read "no inference worker is running".
"""

from __future__ import annotations

import threading

from inference import runtime
from inference.registry import DEFAULT_MODEL_ID


def test_while_a_model_loads_the_loops_calls_answer_at_once_and_every_waiting_request_gets_the_one_load(
    monkeypatch,
):
    monkeypatch.setattr(runtime, "_schedulers", {})  # this test's own, so the model really loads here
    loading, release, loads = threading.Event(), threading.Event(), []
    real_build = runtime.build_engine

    def build_held_open(*args):
        loads.append(args)
        loading.set()
        release.wait(10)  # the load is still going while the loop asks
        return real_build(*args)

    monkeypatch.setattr(runtime, "build_engine", build_held_open)
    got: list = []
    requests = [threading.Thread(target=lambda: got.append(runtime.scheduler_for(DEFAULT_MODEL_ID))) for _ in "ab"]
    for request in requests:
        request.start()
    assert loading.wait(30)

    assert runtime.scheduler_running(DEFAULT_MODEL_ID) is None  # not made yet, and said so without waiting
    assert runtime.engine_status()["models_served"] == 0
    assert not release.is_set() and all(request.is_alive() for request in requests)

    release.set()
    for request in requests:
        request.join(120)
    try:
        assert len(loads) == 1 and len(got) == 2 and got[0] is got[1]
        assert runtime.scheduler_running(DEFAULT_MODEL_ID) is got[0]
        assert runtime.engine_status()["models_served"] == 1
    finally:
        for scheduler in {id(s): s for s in got}.values():
            scheduler.shutdown()

"""The scripted answer runner the Q&A journey's live studio serves (tests/browser/qa_settings.py lists it).

The real runner (retrieval, abstention, citing) is the worker half's. This one answers from the shipped
store FAQ's first passages: a question about parrots finds nothing close (it abstains), and a follow-up
says which earlier question it was read with, so the journey can see the conversation reach the worker.
"""

from __future__ import annotations

from inference.protocol import InferenceRequest, Task
from inference.runners import runner
from tests.fakes import scripted_answer_runner


def _tokens(request: InferenceRequest) -> tuple[str, ...]:
    retrieval = request.retrieval or {}
    if "express" in retrieval.get("question", "").lower():
        answer = ("Express delivery", " costs 9.95 €", " [1].")
    else:
        answer = ("Standard delivery", " costs 4.95 €,", " free over 50 €", " [1].")
    history = retrieval.get("history") or []
    return (*answer, f" (Following up on: {history[-1]})") if history else answer


def _best_score(request: InferenceRequest) -> float:
    return 0.21 if "parrot" in (request.retrieval or {}).get("question", "").lower() else 0.82


# A second between the sources and the first token: long enough that a page drawing them late would show.
runner(Task.ANSWER)(scripted_answer_runner(_tokens, best_score=_best_score, delay_s=0.5))

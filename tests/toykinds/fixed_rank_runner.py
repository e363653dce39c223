"""The worker side of the toy kind: rank the request's items by their order, with a reason each.

A ranker of the rank runner (inference/runners/rank.py), keyed by the toy's model name "fixed".
"""

from __future__ import annotations

from typing import Any

from inference.protocol import InferenceRequest
from inference.runners.rank import ranker


@ranker("fixed")
def fixed_rank(request: InferenceRequest) -> dict[str, Any]:
    query = request.query or {}
    items = query["items"][: query["k"]]
    return {"items": [{"id": item["id"], "title": item["title"], "score": round(1 - i / len(items), 2),
                       "reason": f"A staff pick for {query['user']}"} for i, item in enumerate(items)]}

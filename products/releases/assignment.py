"""Which arm of a split a visitor lands on: a pure function, so the same person always gets the same version."""

from __future__ import annotations

import hashlib

CONTROL, CANDIDATE = "control", "candidate"
_SCALE = 2**64


def arm_for(*, product_id: int, release_id: int, stable_id: str, share_percent: float) -> str:
    """CANDIDATE for ``share_percent`` % of stable ids, CONTROL for the rest; the same answer every time.

    The release id is in the hash, so each new split draws a fresh sample instead of sending the same
    visitors to every candidate. An empty stable id (nothing to stay sticky on) always gets CONTROL.
    """
    if not stable_id:
        return CONTROL
    digest = hashlib.sha256(f"{product_id}:{release_id}:{stable_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / _SCALE  # uniform in [0, 1)
    return CANDIDATE if position < share_percent / 100 else CONTROL

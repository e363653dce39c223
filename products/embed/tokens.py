"""Per-generation feedback tokens: a widget visitor may rate the answers they received, and only those."""

from __future__ import annotations

from django.utils.crypto import constant_time_compare, salted_hmac

SALT = "products.embed.feedback"


def feedback_token(*, public_key: str, generation_id: int) -> str:
    """Signed with SECRET_KEY and bound to the product's public key: rotating the key voids old tokens."""
    return salted_hmac(SALT, f"{public_key}:{generation_id}", algorithm="sha256").hexdigest()[:32]


def feedback_token_valid(*, public_key: str, generation_id: int, token: str) -> bool:
    return constant_time_compare(feedback_token(public_key=public_key, generation_id=generation_id), token or "")

"""Template tags for marketing copy: which of the facts a person gave a piece of copy used."""

from __future__ import annotations

from typing import Any

from django import template

from products.kinds import copy_checks

register = template.Library()


@register.simple_tag
def facts_used(text: str, inputs: dict[str, Any] | None, template_id: str) -> dict[str, Any] | None:
    """``{used, total, missing}`` for copy written from a gallery template that has required facts, else None."""
    facts = copy_checks.required_facts(template_id or "", inputs or {})
    if not facts or not text:
        return None
    missing = [fact.text for fact in facts if not copy_checks.mentions(fact, text)]
    return {"used": len(facts) - len(missing), "total": len(facts), "missing": missing}

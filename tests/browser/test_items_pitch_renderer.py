"""The items renderer (products/static/products/renderers/items.js) in Chromium, fed the frames of a ranking
with pitches in the order the worker sends them: the cards at the ``sources`` frame, each pitch line under
its card as its tokens come, the done result's pitches in place after it."""

from __future__ import annotations

from pathlib import Path

import pytest

RENDERER = Path(__file__).resolve().parents[2] / "products" / "static" / "products" / "renderers" / "items.js"
ITEMS = [{"id": "CA001", "title": "Dome tent", "score": 0.9, "reason": "Because you liked Stove"},
         {"id": "CA002", "title": "Down sleeping bag", "score": 0.7, "reason": "Popular: chosen by 12 customers"},
         {"id": "CA003", "title": "Head lamp", "score": 0.5, "reason": "Popular: chosen by 9 customers"}]

pytestmark = pytest.mark.browser


def _cards(page) -> list[dict]:
    return page.eval_on_selector_all(".reco-card", """cards => cards.map(card => ({
        title: card.querySelector("strong").textContent,
        pitch: card.querySelector(".reco-pitch")?.textContent ?? null}))""")


def test_the_cards_come_with_the_items_and_each_pitch_streams_under_its_own_card(page):
    page.set_content('<div id="out"></div>')
    page.add_script_tag(path=str(RENDERER))
    render = "([method, value]) => studioRenderers.items[method](document.getElementById('out'), value)"

    page.evaluate(render, ["sources", ITEMS])
    assert _cards(page) == [{"title": item["title"], "pitch": None} for item in ITEMS]

    for token in ("Room", "y for two.", "\n", "Warm"):
        page.evaluate(render, ["token", token])
    assert [card["pitch"] for card in _cards(page)] == ["Roomy for two.", "Warm", None]

    pitched = [{**ITEMS[0], "pitch": "Roomy for two."}, {**ITEMS[1], "pitch": "Warm nights."}, ITEMS[2]]
    page.evaluate(render, ["done", {"items": pitched, "pitch_error": "The pitches could not be written (busy)."}])
    assert [card["pitch"] for card in _cards(page)] == ["Roomy for two.", "Warm nights.", None]
    assert page.locator(".reco-fallback").text_content() == "The pitches could not be written (busy)."

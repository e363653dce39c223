"""A team admin points a product at a remote OpenAI-compatible engine on its Engine tab, as the operator allowed it,
tests the connection, saves a key that is never shown again, and the playground streams from that engine; an engine
that stops answering is reported in words within seconds.

The engines are real servers in this test process (tests/openai_server.py), started before the live studio, whose
STUDIO_REMOTE_ENGINES allows them: "gpu" answers /v1/models and streams a sentence no model of ours writes, with
the usage it reports; "hung" accepts connections and never answers; "offline" is a port nothing listens on.
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.request

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from products.api.services import api_key_create
from products.models import Generation, Product
from products.services import product_create
from tests.browser.conftest import wait_until_ready
from tests.live import free_port
from tests.openai_server import QuietHandler, content_chunk, finish_chunk, serving, silent_server, sse_event

pytestmark = pytest.mark.browser

MODEL = "Qwen/Qwen2.5-1.5B-Instruct"
API_KEY = "sk-remote-journey-7d41c9e2b8"
SENTENCE = "Kestrel Lamps opens on Quay Street tonight, and every lantern there was written by the remote engine."
# What the server says it counted: not the 17 chunks (words) it sends, which is what the studio counts for a server
# that reports no usage, so the page and the row show the server's own figures only if the studio took them.
USAGE = {"prompt_tokens": 41, "completion_tokens": 23, "total_tokens": 64}
REPORTED = (USAGE["prompt_tokens"], USAGE["completion_tokens"])
READ_TIMEOUT_S = 2  # the live studio's STUDIO_REMOTE_READ_TIMEOUT_S: how long "hung" may stay silent
NOT_ANSWERING = ("The remote engine “{name}” is not answering ({why}). Try again in a minute; if it keeps "
                 "happening, tell the studio's operator.")


class EngineHandler(QuietHandler):
    """An OpenAI-compatible server that wants ``Bearer API_KEY``: GET /v1/models lists MODEL; POST
    /v1/chat/completions streams SENTENCE word by word, then the usage chunk when asked, then [DONE]."""

    requests: list[dict] = []  # what reached the server, for the test to read

    def _refused(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {API_KEY}":
            return False
        self._json(401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})
        return True

    def _json(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):  # noqa: N802 - http.server's naming
        if not self._refused():
            self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "vllm"}]})

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.read_json()
        self.requests.append({"path": self.path, "body": body})
        if self._refused():
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = SENTENCE.split(" ")
        chunks = [content_chunk(word if n == 0 else f" {word}") for n, word in enumerate(words)]
        chunks.append(finish_chunk("stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({"choices": [], "usage": USAGE})  # OpenAI's own shape: a last chunk with no choices
        for chunk in [*chunks, "[DONE]"]:
            self.wfile.write(sse_event(chunk))
            self.wfile.flush()


@pytest.fixture(scope="module")
def engines():
    """The operator's engines, by name → base URL; real servers, up before the live studio starts."""
    with contextlib.ExitStack() as stack:
        yield {"gpu": stack.enter_context(serving(EngineHandler)), "hung": stack.enter_context(silent_server()),
               "offline": f"http://127.0.0.1:{free_port()}/v1"}


@pytest.fixture(scope="module")
def live_studio_env(engines) -> dict[str, str]:
    return {"STUDIO_REMOTE_ENGINES": ",".join(f"{name}={url}" for name, url in engines.items()),
            "STUDIO_REMOTE_READ_TIMEOUT_S": str(READ_TIMEOUT_S)}


@pytest.fixture
def admin_product(make_team):
    """A social-post product of a fresh team, and its owner (a team admin)."""
    cache.clear()  # rate-limit counters of earlier tests
    EngineHandler.requests.clear()
    team = make_team("Kestrel Lamps")
    owner = team.memberships.get().user
    return product_create(team=team, user=owner, kind_id="copywriting", template_id="social-post"), owner


def _engine_tab(page, live_server_url: str, product: Product):
    page.goto(f"{live_server_url}/t/{product.team.slug}/products/{product.slug}/")
    page.get_by_role("navigation", name="Product").get_by_role("link", name="Engine").click()
    expect(page.get_by_role("heading", name="Engine", exact=True)).to_be_visible()


def _choose_engine(page, name: str, *, model: str, api_key: str = "") -> None:
    page.get_by_role("combobox", name="Engine").select_option(name)
    page.get_by_label("Model on that engine").fill(model)
    page.get_by_label("API key (optional)").fill(api_key)


def _generate(page, topic: str) -> None:
    page.get_by_role("navigation", name="Product").get_by_role("link", name="Playground").click()
    wait_until_ready(page, "#playground")  # playground.js listens: Generate streams, not a plain submit
    page.get_by_label("What to announce").fill(topic)
    page.get_by_role("button", name="Generate").click()


def test_admin_points_the_product_at_a_remote_engine_and_the_playground_streams_from_it(
    logged_in_page, live_server_url, admin_product,
):
    product, owner = admin_product
    page = logged_in_page(owner)
    _engine_tab(page, live_server_url, product)
    expect(page.locator("#key-state")).to_have_text("No API key is set.")

    _choose_engine(page, "gpu", model="", api_key=API_KEY)  # the model forgotten: the form comes back
    page.get_by_role("button", name="Save engine").click()
    expect(page.get_by_text("Name the model to use on that engine (GET /v1/models on it lists them).")).to_be_visible()
    expect(page.get_by_label("API key (optional)")).to_have_value("")
    assert API_KEY not in page.content()  # not even echoed back into the form it was typed in

    _choose_engine(page, "gpu", model=MODEL, api_key="sk-wrong")
    page.get_by_role("button", name="Test connection").click()
    check = page.locator("#check-result")
    expect(check).to_contain_text("The remote engine “gpu” refused the API key (HTTP 401): Invalid API key.")
    page.get_by_label("API key (optional)").fill(API_KEY)
    page.get_by_role("button", name="Test connection").click()
    expect(check).to_have_text(re.compile(rf"^connected: model {re.escape(MODEL)}, \d+ ms$"))
    assert API_KEY not in page.content()

    page.get_by_role("button", name="Save engine").click()
    expect(page.get_by_text("The draft now runs on the remote engine “gpu”. Try it in the playground, then save "
                            "a version and publish it to use it in the widget and the API.")).to_be_visible()
    expect(page.locator("#key-state")).to_have_text("An API key is set.")
    expect(page.get_by_label("Model on that engine")).to_have_value(MODEL)
    expect(page.get_by_label("API key (optional)")).to_have_value("")
    stored = Product.objects.get(pk=product.pk).remote_api_key
    assert stored and API_KEY not in stored  # encrypted at rest
    assert not any(secret in page.content() for secret in (API_KEY, stored))

    _generate(page, "Kestrel Lamps opens its second shop on Quay Street tonight")
    expect(page.get_by_test_id("variant-text")).to_have_text(SENTENCE)
    expect(page.get_by_test_id("variant-meta")).to_have_text(f"{USAGE['completion_tokens']} tokens · finished")
    sent = EngineHandler.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == MODEL
    assert "Quay Street tonight" in sent["body"]["messages"][-1]["content"]  # the playground's inputs went there
    row = Generation.objects.get(product=product)
    assert (row.output, row.status, row.finish_reason) == (SENTENCE, "finished", "eos")
    assert (row.tokens_in, row.tokens_out, row.channel) == (*REPORTED, "playground")

    _publish_the_draft(page, (API_KEY, stored))
    page.get_by_role("navigation", name="Product").get_by_role("link", name="Engine").click()
    expect(page.get_by_text(f"The live version 1 runs on the remote engine “gpu” (model {MODEL}).")).to_be_visible()
    assert not any(secret in page.content() for secret in (API_KEY, stored))
    _the_api_answers_from_the_live_version(live_server_url, product, owner)


def _publish_the_draft(page, secrets: tuple[str, ...]) -> None:
    """Save the draft as version 1 (it keeps the engine it was saved with) and publish it."""
    page.get_by_role("navigation", name="Product").get_by_role("link", name="Versions").click()
    page.get_by_label("What changed?").fill("Writes on the GPU server")
    page.get_by_role("button", name="Save version").click()
    expect(page.get_by_text("Saved version 1. Publish it to make it live.")).to_be_visible()
    page.get_by_role("link", name="Settings and prompt diff of version 1").click()
    expect(page.locator(".version-settings")).to_contain_text(f"Enginegpu (remote), model {MODEL}")
    assert not any(secret in page.content() for secret in secrets)
    page.get_by_role("link", name="All versions").click()
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.get_by_role("status").get_by_text("Version 1 is live.")).to_be_visible()  # the flash


def _the_api_answers_from_the_live_version(live_server_url: str, product: Product, owner) -> None:
    """What a developer's app gets from /v1 now: the remote engine's sentence, from the published version."""
    key = api_key_create(team=product.team, user=owner, name="App", scope="generate").secret
    request = urllib.request.Request(
        f"{live_server_url}/v1/chat/completions", method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        data=json.dumps({"model": product.slug, "messages": [{"role": "user", "content": "Our lamp shop opens"}],
                         "max_tokens": 40}).encode(),
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert body["choices"][0]["message"]["content"] == SENTENCE
    assert body["usage"]["completion_tokens"] == USAGE["completion_tokens"]
    row = Generation.objects.get(product=product, channel="api")
    assert (row.version.number, row.tokens_in, row.tokens_out) == (1, *REPORTED)


@pytest.mark.parametrize(("engine", "why"), [
    ("hung", f"silent for {READ_TIMEOUT_S} s"),
    ("offline", "it refused the connection or cannot be reached"),
])
def test_an_engine_that_does_not_answer_is_reported_in_words_within_seconds(
    logged_in_page, live_server_url, admin_product, engine, why,
):
    product, owner = admin_product
    message = NOT_ANSWERING.format(name=engine, why=why)
    page = logged_in_page(owner)
    _engine_tab(page, live_server_url, product)
    _choose_engine(page, engine, model=MODEL)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#check-result")).to_have_text(message, timeout=(READ_TIMEOUT_S + 6) * 1000)
    page.get_by_role("button", name="Save engine").click()
    expect(page.locator("#key-state")).to_have_text("No API key is set.")

    _generate(page, "Kestrel Lamps opens its second shop on Quay Street tonight")
    expect(page.get_by_role("alert")).to_have_text(message, timeout=(READ_TIMEOUT_S + 6) * 1000)
    expect(page.get_by_test_id("variant-meta")).to_have_text("failed")
    expect(page.get_by_role("button", name="Generate")).to_be_enabled()  # nothing hangs: the next try can start
    row = Generation.objects.get(product=product)
    assert (row.status, row.error) == ("failed", message)

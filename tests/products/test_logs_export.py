"""Logs export: CSV a spreadsheet cannot run, JSON Lines with whole rows, the page's filters, and the API."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from products.api.services import api_key_create
from products.models import ApiKey
from products.services import product_create
from tests.api.conftest import bearer
from tests.products.logs_helpers import log

pytestmark = pytest.mark.django_db


@pytest.fixture
def headlines(make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines",
                             name="Headlines")
    log(product, "=HYPERLINK(\"http://evil.example\")", inputs={"product": "@SUM(A1)"}, channel="widget", feedback=-1)
    log(product, "+1 dry feet", channel="api", correction="-Dry feet, always")
    log(product, "Plain words", channel="playground", feedback=1)
    return product


def _body(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def test_csv_export_neutralises_formulas_and_keeps_the_filters(client, headlines):
    client.force_login(headlines.team.memberships.get().user)
    url = reverse("logs_export", args=[headlines.team.slug, headlines.slug])
    response = client.get(url, {"format": "csv", "channel": "widget"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="headlines-logs-')
    rows = list(csv.DictReader(io.StringIO(_body(response).removeprefix("\ufeff"))))
    assert len(rows) == 1
    assert rows[0]["output"] == "'=HYPERLINK(\"http://evil.example\")"
    assert rows[0]["channel"] == "widget" and rows[0]["feedback"] == "bad"
    assert json.loads(rows[0]["inputs"]) == {"product": "@SUM(A1)"}  # JSON text starts with {, safe as it is
    everything = list(csv.DictReader(io.StringIO(_body(client.get(url, {"format": "csv"})).removeprefix("\ufeff"))))
    by_channel = {row["channel"]: row for row in everything}
    assert by_channel["api"]["output"] == "'+1 dry feet" and by_channel["api"]["correction"] == "'-Dry feet, always"


def test_jsonl_export_has_whole_rows_and_respects_feedback_filter(client, headlines):
    client.force_login(headlines.team.memberships.get().user)
    url = reverse("logs_export", args=[headlines.team.slug, headlines.slug])
    response = client.get(url, {"format": "jsonl", "feedback": "corrected"})
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert [(row["output"], row["correction"], row["channel"]) for row in lines] == [
        ("+1 dry feet", "-Dry feet, always", "api")]  # JSON is data: nothing prefixed
    assert lines[0]["inputs"] == {"product": "Boots"} and lines[0]["result"] == {"text": "+1 dry feet"}
    bad = client.get(url, {"format": "xlsx"})
    assert bad.status_code == 400 and bad.content.decode() == "Export format is csv or jsonl, e.g. ?format=csv."


def test_api_export_with_a_key_streams_the_filtered_rows(headlines):
    owner = headlines.team.memberships.get().user
    client = bearer(api_key_create(team=headlines.team, user=owner, name="BI", scope=ApiKey.Scope.READ).secret)
    url = f"/api/v1/products/{headlines.slug}/generations/export/"
    response = client.get(url, {"format": "jsonl", "channel": "api"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-ndjson")
    assert [json.loads(line)["output"] for line in _body(response).splitlines()] == ["+1 dry feet"]
    csv_response = client.get(url, {"format": "csv", "feedback": "up"})
    assert csv_response["Content-Type"].startswith("text/csv")
    assert [row["output"] for row in csv.DictReader(io.StringIO(_body(csv_response).removeprefix("\ufeff")))] == [
        "Plain words"]
    refused = client.get(url, {"format": "jsonl", "feedback": "sideways"})
    assert refused.status_code == 400 and refused["Content-Type"] == "application/json"
    assert "feedback" in refused.json()
    assert bearer("sk_not_a_key").get(url, {"format": "csv"}).status_code == 401


def test_api_export_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/products/{slug}/generations/export/"]["get"]
    assert operation["operationId"] == "generations_export"
    assert {"text/csv", "application/x-ndjson"} <= set(operation["responses"]["200"]["content"])
    assert {p["name"] for p in operation["parameters"]} >= {"format", "version", "channel", "feedback", "q"}


@pytest.mark.django_db(transaction=True)
async def test_export_under_asgi_streams_from_a_thread_of_its_own(headlines):
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    owner = await sync_to_async(lambda: headlines.team.memberships.get().user)()
    client = AsyncClient()
    await client.aforce_login(owner)
    url = reverse("logs_export", args=[headlines.team.slug, headlines.slug])
    response = await client.get(url, {"format": "jsonl", "channel": "api"})
    assert response.is_async  # stepped in its own thread, not read whole into memory first
    body = b"".join([chunk async for chunk in response.streaming_content]).decode()
    assert [json.loads(line)["output"] for line in body.splitlines()] == ["+1 dry feet"]
    from django.db import connections

    await sync_to_async(connections.close_all)()  # the login's thread, so the test database can be dropped

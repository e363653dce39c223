"""The REST API's JSON parser: DRF's, with studio/jsonsafe.py's bounds on size, depth and numbers."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from studio import jsonsafe


class BoundedJSONParser(JSONParser):
    """Answers 400 for deep nesting, NaN/Infinity or an oversized body, where DRF's parser answered 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = jsonsafe.MAX_BYTES
        body = stream.read(limit + 1)  # never more than the limit in memory, whatever Content-Length says
        try:
            if len(body) > limit:
                raise ValueError(f"The JSON body is over {limit:,} bytes, the limit.")
            return jsonsafe.loads(body.decode(encoding), max_bytes=limit)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None

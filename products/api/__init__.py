"""The REST API (/api/v1/) and the OpenAI-compatible endpoints (/v1/), authenticated by API keys."""

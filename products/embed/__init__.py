"""The embeddable widget: embed settings, origin allow-lists, visitor rate limits, feedback tokens."""

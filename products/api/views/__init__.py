"""One APIView per endpoint; each calls one selector or service."""

"""A toy fourth kind, registered only in the test settings: it proves a kind that is not text plugs in.

``fixed_rank`` (a kind, web tier) and ``fixed_rank_runner`` (its worker runner) touch no view,
consumer, API view or worker code: tests/settings.py lists the two modules, and that is all.
"""

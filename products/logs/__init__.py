"""A product's logs: the Logs tab's reads, corrections, exports, logs turned into datasets, retention."""

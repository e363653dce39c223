"""Q&A knowledge bases in the worker tier: chunking, MiniLM embeddings, the index-build job, hybrid retrieval,
and the prompt / citation / output-guard helpers the answer runner (inference/runners/answer.py) uses.

torch and sentence-transformers load inside functions only (embedder.py), so importing this package is cheap.
"""

"""Fine-tuning in the worker tier: the LoRA trainer, checkpoints, evaluation, artifacts and the worker's writes.

The training worker imports this: ``worker`` → ``pipeline`` (one run from start to finish) → ``trainer``,
``losses``, ``examples``, ``batching``, ``checkpoints``, ``progress``, ``evaluation``, ``metrics`` and
``artifacts``; ``services`` holds the worker's writes on the run row. The web tier never imports it:
the training pages, the people-side services, hyper-parameters and the estimate live in products/training/.
"""

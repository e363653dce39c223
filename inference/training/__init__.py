"""Fine-tuning: training runs as durable jobs, the LoRA trainer, checkpoints, evaluation and artifacts.

Safe for the web tier (no torch): ``services`` (every write), ``events`` (live frames after commit),
``hyperparameters``, ``estimate``, ``chart``, ``conversations``, ``forms``, ``views``, ``urls`` and
``consumers``. Only the training worker imports the torch side: ``worker`` → ``pipeline`` (one run
from start to finish) → ``trainer``, ``losses``, ``examples``, ``batching``, ``checkpoints``,
``progress``, ``evaluation``, ``metrics`` and ``artifacts``.
"""

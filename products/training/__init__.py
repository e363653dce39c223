"""Fine-tuning as people see it: the training pages, their websocket, starting and cancelling runs.

Web tier, no torch: ``views``/``urls``/``forms``/``consumers``/``chart`` (the pages), ``services`` (the
writes a person makes), ``events`` (live frames after commit, published by both tiers),
``hyperparameters`` and ``estimate`` (pure; the worker's trainer reads them too). The training itself
is inference/training/.
"""

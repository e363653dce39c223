"""The classifier training method: the bundled MiniLM encoder with a classification head, fine-tuned end to end.

``pipeline.train_classifier`` is what ``inference.training.pipeline.fine_tune`` runs for a run whose method
is ``classifier``; it uses ``data`` (labelled rows → splits and the label map), ``model`` (the encoder and
its head, also what the classify runner serves), ``trainer`` (the step loop and checkpoints) and
``report`` (scikit-learn metrics, temperature scaling, the frozen-embedding baseline).
"""

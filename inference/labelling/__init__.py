"""Labelling a whole file with a trained classifier: the job (``job``) and the worker that claims it (``worker``)."""

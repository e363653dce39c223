"""Datasets: upload, validate ("the dataset doctor"), map columns, split and version.

Public entry points: ``products.datasets.services`` (writes) and ``products.datasets.selectors``
(reads, including ``dataset_version_iter_rows`` and ``dataset_version_examples``).
"""

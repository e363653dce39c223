"""A classifier run's evaluation report, made ready to draw: measures beside the baseline, the heat-map, bins.

The numbers are the worker's (scikit-learn's, in EvaluationReport.metrics); this only arranges them for
the run page's template: the confusion matrix as rows of cells with a shade class (a tenth of the row
each, so the CSS needs no inline styles), the measures as (name, tuned, baseline, better?) rows.
"""

from __future__ import annotations

from typing import Any

MEASURES = (
    ("accuracy", "Accuracy", "share of held-out texts labelled right"),
    ("macro_f1", "Macro-F1", "F1 averaged over labels, so a rare label counts as much as a common one"),
    ("roc_auc", "ROC-AUC (one-vs-rest)", "how well the probabilities rank each label's texts first; 0.5 is chance"),
)


def classifier_report(evaluation) -> dict[str, Any] | None:
    """The run page's context for a classifier report, or None when ``evaluation`` is not a classifier's."""
    metrics = (evaluation.metrics or {}) if evaluation is not None else {}
    if metrics.get("kind") != "classifier":
        return None
    tuned, base, labels = metrics["tuned"], metrics.get("base") or {}, metrics["labels"]
    measures = []
    for key, name, hint in MEASURES:
        t, b = tuned.get(key), base.get(key)
        measures.append({"name": name, "tuned": t, "base": b, "hint": hint,
                         "better": t is not None and b is not None and t > b})
    base_f1 = {row["label"]: row["f1"] for row in base.get("per_class", [])}
    per_class = [row | {"base_f1": base_f1.get(row["label"])} for row in tuned["per_class"]]
    calibration = tuned.get("calibration", {})
    return {
        "labels": labels,
        "measures": measures,
        "per_class": per_class,
        "confusion": _heat_rows(labels, tuned["confusion"]),
        "base_confusion": _heat_rows(labels, base["confusion"]) if base.get("confusion") else None,
        "calibration": calibration,
        "bins": [b for b in calibration.get("bins", []) if b["count"]],
        "most_wrong": tuned.get("most_wrong", []),
        "thresholds": tuned.get("thresholds", []),
        "epochs": metrics.get("epochs", []),
        "base_name": base.get("name", "Baseline"),
        "base_ece": base.get("ece"),
        "dev_examples": metrics.get("dev_examples", 0),
        "max_length": metrics.get("max_length"),
    }


def _heat_rows(labels: list[str], matrix: list[list[int]]) -> list[dict[str, Any]]:
    """Rows of the confusion matrix (true label) with each cell's count, share of its row and shade class."""
    rows = []
    for i, (label, counts) in enumerate(zip(labels, matrix, strict=True)):
        total = sum(counts)
        cells = []
        for j, count in enumerate(counts):
            share = count / total if total else 0.0
            cells.append({"count": count, "share": share, "heat": f"heat-{round(share * 10)}", "diagonal": i == j,
                          "predicted": labels[j], "true_index": i, "predicted_index": j})
        rows.append({"label": label, "total": total, "cells": cells})
    return rows


def threshold_outcome(evaluation, threshold: float) -> dict[str, Any] | None:
    """At ``threshold``: how many held-out texts would be answered “unsure”, and the accuracy on the others."""
    predictions = ((evaluation.metrics or {}).get("tuned") or {}).get("predictions") if evaluation else None
    if not predictions or not predictions["confidence"]:
        return None
    rows = list(zip(predictions["y"], predictions["predicted"], predictions["confidence"], strict=True))
    sure = [(y, p) for y, p, confidence in rows if confidence >= threshold]
    right = sum(1 for y, p in sure if y == p)
    return {"threshold": threshold, "rows": len(rows), "unsure": len(rows) - len(sure),
            "unsure_share": (len(rows) - len(sure)) / len(rows),
            "accuracy_when_sure": right / len(sure) if sure else None, "answered": len(sure)}


def cell_examples(evaluation, true_index: int, predicted_index: int) -> dict[str, Any] | None:
    """The held-out texts of one confusion-matrix cell (labelled ``true_index``, chosen ``predicted_index``)."""
    metrics = (evaluation.metrics or {}) if evaluation else {}
    predictions = (metrics.get("tuned") or {}).get("predictions")
    labels = metrics.get("labels") or []
    if not predictions or not (0 <= true_index < len(labels) and 0 <= predicted_index < len(labels)):
        return None
    texts = [
        {"text": text, "confidence": confidence}
        for text, y, p, confidence in zip(predictions["texts"], predictions["y"], predictions["predicted"],
                                          predictions["confidence"], strict=True)
        if y == true_index and p == predicted_index
    ]
    texts.sort(key=lambda row: -row["confidence"])
    return {"label": labels[true_index], "predicted": labels[predicted_index], "texts": texts,
            "true_index": true_index, "predicted_index": predicted_index}

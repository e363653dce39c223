"""A classifier's evaluation: scikit-learn's metrics, temperature scaling, and the frozen-embedding baseline.

Every number comes from scikit-learn (accuracy, per-class precision/recall/F1, macro-F1, one-vs-rest
ROC-AUC, the confusion matrix, the reliability curve's bins), so it compares with what people
publish. Probabilities are calibrated by temperature scaling (Guo et al., 2017): one scalar ``T``
divides the logits, fitted by minimising the log-loss on held-out rows. Which rows: the dataset's
validation split, which training never saw and early stopping never used (early stopping uses a
"dev" slice of the training split). The temperature the product serves is fitted on all of them;
the report's figures use two-fold cross-fitting (each half scored with the temperature fitted on the
other half), so the calibration figure is not the rows grading their own fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Confidence bins of the calibration figure.
CALIBRATION_BINS = 10
#: Examples the report lists under "most wrong".
MOST_WRONG = 10
#: Confidence thresholds the report shows the unsure share and the accuracy of the rest for.
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
#: Baseline regularisation strengths tried on the dev rows (logistic regression's C).
BASELINE_C = (0.1, 1.0, 10.0, 100.0)
#: Below this many held-out rows the temperature is fitted on them all and the report says so.
MIN_CROSS_FIT = 10
#: Held-out rows whose prediction the report keeps (for the threshold slider and the confusion cells' lists).
KEEP_PREDICTIONS = 2000
#: Characters of each kept text.
KEEP_TEXT_CHARS = 300


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the log-loss of ``softmax(logits / T)`` on these rows (1.0 when none)."""
    from scipy.optimize import minimize_scalar
    from sklearn.metrics import log_loss

    if len(y) == 0:
        return 1.0
    labels = list(range(logits.shape[1]))

    def loss(log_t: float) -> float:
        return log_loss(y, softmax(logits, float(np.exp(log_t))), labels=labels)

    # Wide bounds: a head started from a strongly regularised baseline gives small logits (T well below 1).
    found = minimize_scalar(loss, bounds=(np.log(1e-3), np.log(100.0)), method="bounded")
    return float(np.exp(found.x))


def cross_fitted_probabilities(logits: np.ndarray, y: np.ndarray, *, seed: int) -> tuple[np.ndarray, float, bool]:
    """(each row's probabilities from a temperature fitted without it, the temperature fitted on all, cross-fitted?)."""
    served = fit_temperature(logits, y)
    if len(y) < MIN_CROSS_FIT:
        return softmax(logits, served), served, False
    from sklearn.model_selection import KFold

    probabilities = np.zeros_like(logits, dtype=np.float64)
    for fit_rows, score_rows in KFold(n_splits=2, shuffle=True, random_state=seed).split(logits):
        probabilities[score_rows] = softmax(logits[score_rows], fit_temperature(logits[fit_rows], y[fit_rows]))
    return probabilities, served, True


def calibration(y: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """The reliability figure's bins (confidence of the chosen label against how often it is right) and the ECE."""
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, CALIBRATION_BINS - 1)
    bins, ece = [], 0.0
    for b in range(CALIBRATION_BINS):
        rows = which == b
        count = int(rows.sum())
        entry = {"low": round(float(edges[b]), 2), "high": round(float(edges[b + 1]), 2), "count": count,
                 "confidence": None, "accuracy": None}
        if count:
            entry["confidence"] = float(confidence[rows].mean())
            entry["accuracy"] = float(correct[rows].mean())
            ece += count / len(y) * abs(entry["accuracy"] - entry["confidence"])
        bins.append(entry)
    return {"bins": bins, "ece": float(ece)}


def _roc_auc(y: np.ndarray, probabilities: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    present = sorted(set(y.tolist()))
    if len(present) < 2:
        return None  # AUC needs both a positive and a negative row
    try:
        if probabilities.shape[1] == 2:
            return float(roc_auc_score(y, probabilities[:, 1]))
        if len(present) < probabilities.shape[1]:
            # A label with no held-out row has no ROC curve: average over the labels that have one.
            columns = probabilities[:, present]
            columns = columns / columns.sum(axis=1, keepdims=True)
            remap = {label: i for i, label in enumerate(present)}
            return float(roc_auc_score([remap[v] for v in y], columns, multi_class="ovr", average="macro"))
        return float(roc_auc_score(y, probabilities, multi_class="ovr", average="macro"))
    except ValueError:
        return None


def classification_metrics(y: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, ROC-AUC (one-vs-rest), per-class precision/recall/F1 and the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    index = list(range(len(labels)))
    predicted = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=index, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "macro_f1": float(f1_score(y, predicted, labels=index, average="macro", zero_division=0)),
        "roc_auc": _roc_auc(y, probabilities),
        "per_class": [
            {"label": label, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        ],
        # rows: the true label; columns: the predicted one (scikit-learn's convention)
        "confusion": confusion_matrix(y, predicted, labels=index).tolist(),
    }


def most_wrong(texts: Sequence[str], y: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]) -> list[dict]:
    """The wrong answers the model was surest of, with their probabilities: the first rows to check for bad labels."""
    predicted = probabilities.argmax(axis=1)
    wrong = [i for i in range(len(y)) if predicted[i] != y[i]]
    wrong.sort(key=lambda i: -probabilities[i, predicted[i]])
    return [
        {"text": texts[i], "label": labels[y[i]], "predicted": labels[predicted[i]],
         "confidence": float(probabilities[i, predicted[i]]),
         "label_probability": float(probabilities[i, y[i]])}
        for i in wrong[:MOST_WRONG]
    ]


def thresholds(y: np.ndarray, probabilities: np.ndarray) -> list[dict[str, Any]]:
    """For each threshold: the share the product would answer "unsure" on, and its accuracy on the rest."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    rows = []
    for threshold in THRESHOLDS:
        sure = confidence >= threshold
        rows.append({"threshold": threshold, "unsure_share": float(1 - sure.mean()) if len(y) else 0.0,
                     "accuracy_when_sure": float(correct[sure].mean()) if sure.any() else None})
    return rows


def fit_baseline(train_x: np.ndarray, train_y: np.ndarray, dev_x: np.ndarray, dev_y: np.ndarray, *, seed: int):
    """Logistic regression on frozen embeddings (class-balanced), C chosen on the dev rows: (model, C)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    def fit(c: float):
        return LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed).fit(train_x, train_y)

    if len(dev_y) == 0:
        return fit(10.0), 10.0
    scored = []
    for c in BASELINE_C:
        model = fit(c)
        scored.append((f1_score(dev_y, model.predict(dev_x), average="macro", zero_division=0), c, model))
    best = max(scored, key=lambda item: (item[0], -item[1]))  # ties: the stronger regularisation
    return best[2], best[1]


def baseline_probabilities(model, x: np.ndarray, num_labels: int) -> np.ndarray:
    """predict_proba with a column for every label (a label absent from training gets probability 0)."""
    probabilities = np.zeros((len(x), num_labels))
    probabilities[:, model.classes_] = model.predict_proba(x)
    return probabilities


def head_from_baseline(model, num_labels: int, hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """The baseline's weights as a (labels × hidden) head; binary logistic regression becomes two rows."""
    weight, bias = np.zeros((num_labels, hidden)), np.zeros(num_labels)
    if len(model.classes_) == 2 and model.coef_.shape[0] == 1:
        weight[model.classes_[1]], bias[model.classes_[1]] = model.coef_[0], model.intercept_[0]
    else:
        weight[model.classes_], bias[model.classes_] = model.coef_, model.intercept_
    return weight, bias


def predictions(texts: Sequence[str], y: np.ndarray, probabilities: np.ndarray) -> dict[str, list]:
    """The held-out rows' (text, label, chosen label, confidence), the first KEEP_PREDICTIONS of them."""
    keep = min(len(y), KEEP_PREDICTIONS)
    chosen = probabilities.argmax(axis=1)
    return {
        "texts": [text[:KEEP_TEXT_CHARS] for text in texts[:keep]],
        "y": [int(v) for v in y[:keep]],
        "predicted": [int(v) for v in chosen[:keep]],
        "confidence": [round(float(probabilities[i, chosen[i]]), 5) for i in range(keep)],
    }

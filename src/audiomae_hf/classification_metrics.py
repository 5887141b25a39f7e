"""Evaluation metrics of the classifier, from the `evaluate` modules shipped in `audiomae_hf/metrics` (offline)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import evaluate
import numpy as np
from transformers import EvalPrediction

METRICS_DIR = Path(__file__).parent / "metrics"


def load_metric(name: str) -> evaluate.EvaluationModule:
    """One of the metric modules shipped in `audiomae_hf/metrics`, loaded with `evaluate` without the network."""
    return evaluate.load(str(METRICS_DIR / f"{name}.py"))


def classification_metrics(multi_label: bool) -> Callable[[EvalPrediction], dict[str, float]]:
    """`compute_metrics` for the Trainer: accuracy for single-label tasks, mAP and macro AUC for multi-label ones."""
    if multi_label:
        metric = load_metric("mean_average_precision")

        def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
            scores = 1.0 / (1.0 + np.exp(-np.asarray(prediction.predictions, dtype=np.float64)))
            return metric.compute(predictions=scores, references=prediction.label_ids)

    else:
        metric = load_metric("accuracy")

        def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
            return metric.compute(
                predictions=np.argmax(prediction.predictions, axis=-1), references=prediction.label_ids
            )

    return compute_metrics

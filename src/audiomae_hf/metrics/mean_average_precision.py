"""Mean average precision (mAP) and macro ROC AUC over classes: the AudioSet metrics for multi-label tagging."""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

_DESCRIPTION = """
Mean average precision is the mean over classes of each class's average precision (the area under its
precision-recall curve, as sklearn's `average_precision_score` computes it) from per-class scores. Classes with no
positive reference have no defined average precision and are left out of the mean, as AudioSet evaluations do.
Macro AUC is the mean over classes of the ROC AUC, over the classes that have both positive and negative references.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): per-class scores of each clip (probabilities or logits; only their
        order within a class matters).
    references (`list` of `list` of `float`): multi-hot reference labels of each clip (0 or 1 per class).

Returns:
    mAP (`float`): mean average precision over classes with at least one positive.
    auc (`float`): macro ROC AUC over classes with positives and negatives (NaN if there is none).

Examples:
    >>> metric = evaluate.load("path/to/audiomae_hf/metrics/mean_average_precision.py")
    >>> metric.compute(predictions=[[0.9, 0.2], [0.1, 0.8]], references=[[1, 0], [0, 1]])
    {'mAP': 1.0, 'auc': 1.0}
"""

_CITATION = """
@inproceedings{gemmeke2017audioset,
  title={Audio Set: An ontology and human-labeled dataset for audio events},
  author={Gemmeke, Jort F. and others},
  booktitle={ICASSP},
  year={2017}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MeanAveragePrecision(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float32")),
                    "references": datasets.Sequence(datasets.Value("float32")),
                }
            ),
        )

    def _compute(self, predictions, references):
        scores = np.asarray(predictions, dtype=np.float64)
        targets = np.asarray(references, dtype=np.float64) > 0.5
        if scores.shape != targets.shape or scores.ndim != 2:
            raise ValueError(
                f"predictions {scores.shape} and references {targets.shape} must both be [clips, classes] arrays."
            )
        positives = targets.sum(axis=0)
        with_positives = np.flatnonzero(positives > 0)
        if len(with_positives) == 0:
            raise ValueError("No class has a positive reference: mean average precision is undefined.")
        average_precisions = [average_precision_score(targets[:, c], scores[:, c]) for c in with_positives]
        with_both = np.flatnonzero((positives > 0) & (positives < len(targets)))
        aucs = [roc_auc_score(targets[:, c], scores[:, c]) for c in with_both]
        return {"mAP": float(np.mean(average_precisions)), "auc": float(np.mean(aucs)) if aucs else float("nan")}

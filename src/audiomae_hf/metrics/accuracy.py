"""Accuracy: the fraction of clips whose predicted class is the reference class (single-label classification)."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Accuracy is the fraction of predictions equal to their references: (number correct) / (number of examples).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class indices.
    references (`list` of `int`): reference class indices.

Returns:
    accuracy (`float`): in [0, 1].

Examples:
    >>> accuracy = evaluate.load("path/to/audiomae_hf/metrics/accuracy.py")
    >>> accuracy.compute(predictions=[0, 1, 1], references=[0, 1, 0])
    {'accuracy': 0.6666666666666666}
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references):
        if len(references) == 0:
            raise ValueError("Accuracy of an empty evaluation set is undefined: pass at least one example.")
        return {"accuracy": float(np.mean(np.asarray(predictions) == np.asarray(references)))}

"""Labels of a classification task: reading them from any source's label column, the label space, the targets.

A row's labels may be a name, a list of names, names joined by `;`, or a `ClassLabel` index. Single-label targets are
class indices, multi-label targets multi-hot float32 vectors.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import torch

from .audio_decoding import describe_audio

MULTI_LABEL_SEPARATOR = ";"


def class_names_of(feature) -> list[str] | None:
    """Names of a `ClassLabel` feature, or of the `ClassLabel` inside a list feature; None otherwise."""
    if isinstance(feature, datasets.ClassLabel):
        return feature.names
    inner = getattr(feature, "feature", None)
    if isinstance(inner, datasets.ClassLabel):
        return inner.names
    return None


def is_list_feature(feature) -> bool:
    return isinstance(feature, (datasets.Sequence, datasets.LargeList, datasets.List, list))


def label_strings(value, class_names: Sequence[str] | None = None) -> list[str]:
    """
    The labels of one row as strings: a list stays a list, a string is split on `;`, a `ClassLabel` index becomes
    its name. An absent label (None, "", []) gives [].
    """
    if value is None:
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [name for item in value for name in label_strings(item, class_names)]
    if isinstance(value, str):
        return [part.strip() for part in value.split(MULTI_LABEL_SEPARATOR) if part.strip()]
    if isinstance(value, (int, np.integer)) and class_names is not None:
        return [class_names[int(value)]]
    if isinstance(value, float) and value.is_integer():
        return [str(int(value))]
    return [str(value)]


@dataclass
class LabelSpace:
    """The classes of a classification task and how a row's labels become a training target."""

    names: list[str]
    multi_label: bool

    @property
    def label2id(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.names)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    def encode(self, labels: list[str], where: str) -> int | np.ndarray:
        """A class index (single-label) or a multi-hot float32 vector (multi-label); `where` names the row."""
        if not labels:
            raise ValueError(f"{where} has no label.")
        label2id = self.label2id
        unknown = [label for label in labels if label not in label2id]
        if unknown:
            shown = self.names if len(self.names) <= 20 else self.names[:20] + ["..."]
            raise ValueError(
                f"{where} has label {unknown[0]!r}, which is not one of the {len(self.names)} training labels {shown}."
            )
        if not self.multi_label:
            if len(labels) > 1:
                raise ValueError(
                    f"{where} has {len(labels)} labels {labels} in a single-label task; pass --multi_label to train "
                    "a multi-label classifier."
                )
            return label2id[labels[0]]
        target = np.zeros(len(self.names), dtype=np.float32)
        target[[label2id[label] for label in labels]] = 1.0
        return target


def read_label_names(path: str | os.PathLike) -> list[str]:
    """Label names from a text file, one per line (blank lines ignored)."""
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if not names:
        raise ValueError(f"Label names file '{path}' lists no label.")
    if len(set(names)) != len(names):
        duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
        raise ValueError(f"Label names file '{path}' lists {duplicates} more than once.")
    return names


def row_description(dataset, split: str, row: int, audio_column: str) -> str:
    audio = dataset[row][audio_column] if isinstance(dataset, datasets.Dataset) else None
    return f"Row {row} of the {split} split" + (f" ({describe_audio(audio)})" if audio is not None else "")


def build_label_space(
    train_dataset: datasets.Dataset | datasets.IterableDataset,
    label_column: str,
    audio_column: str,
    multi_label: bool | None = None,
    label_names: list[str] | None = None,
) -> LabelSpace:
    """
    The label space of the training split: `label_names` if given, else its `ClassLabel` names, else the sorted set
    of its labels (a full pass over the label column, which a streamed split cannot afford: give `label_names`).
    Multi-label when `multi_label` says so, else when the column is a list or a row holds several labels.
    Raises a `ValueError` naming the first row without a label.
    """
    if label_column not in (train_dataset.column_names or []):
        raise ValueError(
            f"The train split has no label column '{label_column}' (its columns: {train_dataset.column_names}); "
            "set --label_column_name."
        )
    feature = train_dataset.features[label_column] if train_dataset.features else None
    class_names = class_names_of(feature)
    if isinstance(train_dataset, datasets.IterableDataset):
        names = label_names or class_names
        if names is None:
            raise ValueError(
                "A streamed train split has no label list to read up front: pass --label_names_file (one label per "
                "line), or use a dataset whose label column is a ClassLabel."
            )
        detected_multi_label = is_list_feature(feature)
        return LabelSpace(list(names), detected_multi_label if multi_label is None else multi_label)

    rows = [label_strings(value, class_names) for value in train_dataset[label_column]]
    for row, labels in enumerate(rows):
        if not labels:
            where = row_description(train_dataset, "train", row, audio_column)
            raise ValueError(f"{where} has no label in column '{label_column}'.")
    if multi_label is None:
        multi_label = is_list_feature(feature) or any(len(labels) > 1 for labels in rows)
    names = label_names or class_names or sorted({label for labels in rows for label in labels})
    label_space = LabelSpace(list(names), multi_label)
    for row, labels in enumerate(rows):
        label_space.encode(labels, where=f"Row {row} of the train split")
    return label_space


def check_labels(
    dataset: datasets.Dataset, label_space: LabelSpace, label_column: str, audio_column: str, split: str
) -> None:
    """Raise a `ValueError` naming the first row of `split` whose label is missing or not in `label_space`."""
    if label_column not in dataset.column_names:
        raise ValueError(
            f"The {split} split has no label column '{label_column}' (its columns: {dataset.column_names})."
        )
    class_names = class_names_of(dataset.features[label_column])
    for row, value in enumerate(dataset[label_column]):
        labels = label_strings(value, class_names)
        try:
            label_space.encode(labels, where=f"Row {row} of the {split} split")
        except ValueError as error:
            where = row_description(dataset, split, row, audio_column)
            raise ValueError(str(error).replace(f"Row {row} of the {split} split", where, 1)) from None


def class_balanced_weights(dataset: datasets.Dataset, label_space: LabelSpace, label_column: str) -> torch.Tensor:
    """
    Sampling weight of each clip for class-balanced training, as the release's `gen_weight.py` computes it: the sum,
    over the clip's labels, of one over the number of training clips carrying that label.
    """
    class_names = class_names_of(dataset.features[label_column])
    rows = [label_strings(value, class_names) for value in dataset[label_column]]
    counts = Counter(label for labels in rows for label in labels)
    return torch.tensor([sum(1.0 / counts[label] for label in labels) for labels in rows], dtype=torch.float64)

"""From undecoded rows to model inputs: the on-the-fly decoding transform and the collator.

CPU workers decode (`DecodeAudio`, a `datasets` transform); the collator computes the fbank of the whole batch at
once with the feature extractor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import datasets
import numpy as np
import torch

from .audio_decoding import SAMPLING_RATE, AudioDecodingError, describe_audio, load_waveform
from .feature_extraction_audiomae import AudioMAEFeatureExtractor
from .labels import LabelSpace, label_strings

logger = logging.getLogger(__name__)


class DecodeAudio:
    """
    Batched `datasets` transform: decode each row's clip to a 16 kHz mono `waveform` and turn its labels into a
    `labels` target. Used with `set_transform` (map-style) or `map` (streaming), so decoding happens on the fly.

    An unreadable clip raises an `AudioDecodingError` naming it, or, with `skip_bad_audio`, is logged, counted in
    `num_skipped`, and passed on as `waveform=None` for the collator to drop.
    """

    def __init__(
        self,
        audio_column: str,
        split: str,
        max_seconds: float | None = None,
        label_column: str | None = None,
        label_space: LabelSpace | None = None,
        class_names: Sequence[str] | None = None,
        skip_bad_audio: bool = False,
    ):
        self.audio_column = audio_column
        self.split = split
        self.max_seconds = max_seconds
        self.label_column = label_column
        self.label_space = label_space
        self.class_names = class_names
        self.skip_bad_audio = skip_bad_audio
        self.num_skipped = 0

    def decode(self, audio) -> np.ndarray | None:
        try:
            return load_waveform(audio, SAMPLING_RATE, self.max_seconds)
        except AudioDecodingError as error:
            if not self.skip_bad_audio:
                raise AudioDecodingError(
                    f"{error} (in the {self.split} split). Fix or remove the file, or pass --skip_bad_audio."
                ) from error
            self.num_skipped += 1
            logger.warning(f"Skipping a clip of the {self.split} split ({self.num_skipped} so far): {error}")
            return None

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        audios = batch[self.audio_column]
        features = {"waveform": [self.decode(audio) for audio in audios]}
        if self.label_space is not None:
            features["labels"] = [
                self.label_space.encode(
                    label_strings(value, self.class_names),
                    where=f"Clip {describe_audio(audio)} of the {self.split} split",
                )
                for value, audio in zip(batch[self.label_column], audios, strict=True)
            ]
        return features


def decode_on_the_fly(
    dataset: datasets.Dataset | datasets.IterableDataset, transform: DecodeAudio
) -> datasets.Dataset | datasets.IterableDataset:
    """Apply `transform` lazily: `set_transform` for a map-style dataset, a lazy `map` for a streamed one."""
    if isinstance(dataset, datasets.IterableDataset):
        return dataset.map(transform, batched=True, batch_size=16, remove_columns=dataset.column_names)
    dataset.set_transform(transform)
    return dataset


@dataclass
class AudioCollator:
    """
    Batch decoded examples: drop clips that failed to decode, compute the normalised fbank of all clips at once with
    the feature extractor (`input_values`, [B, target_length, num_mel_bins]), and stack the `labels` (int64 class
    indices, or float32 multi-hot rows) if the examples have them.
    """

    feature_extractor: AudioMAEFeatureExtractor

    def __call__(self, examples: Iterable[dict]) -> dict[str, torch.Tensor]:
        examples = list(examples)
        decoded = [example for example in examples if example["waveform"] is not None]
        if not decoded:
            raise ValueError(
                f"None of the {len(examples)} clips of this batch could be decoded (see the warnings above); "
                "remove the unreadable files from the data."
            )
        batch = {
            "input_values": self.feature_extractor(
                [np.asarray(example["waveform"], dtype=np.float32) for example in decoded],
                sampling_rate=SAMPLING_RATE,
                return_tensors="pt",
            )["input_values"]
        }
        if "labels" in decoded[0]:
            labels = [example["labels"] for example in decoded]
            batch["labels"] = (
                torch.tensor(np.stack(labels), dtype=torch.float32)
                if np.ndim(labels[0])
                else torch.tensor(labels, dtype=torch.long)
            )
        return batch

"""From undecoded rows to model inputs: the on-the-fly decoding transform and the collator.

CPU workers decode (`DecodeAudio`, a `datasets` transform); the collator computes the fbank of the whole batch at
once with the feature extractor, or, with `compute_features=False`, hands the padded waveforms on for
`AudioMAETrainer` to featurize on the training device (`featurize`), so that the workers only decode.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import datasets
import numpy as np
import torch

from .audio_decoding import SAMPLING_RATE, AudioDecodingError, audio_duration, describe_audio, load_waveform
from .feature_extraction_audiomae import AudioMAEFeatureExtractor, frame_samples
from .labels import LabelSpace, label_strings

logger = logging.getLogger(__name__)

# A clip shorter than one fbank frame is still audio: padded with silence to one frame, as padding to target_length
# would pad it anyway.
MIN_SAMPLES, _ = frame_samples(SAMPLING_RATE)


class DecodeAudio:
    """
    Batched `datasets` transform: decode each row's clip to a 16 kHz mono `waveform` and turn its labels into a
    `labels` target. Used with `set_transform` (map-style) or `map` (streaming), so decoding happens on the fly.

    An unreadable clip raises an `AudioDecodingError` naming it, or, with `skip_bad_audio`, is logged and passed on
    as `waveform=None` for the collator to drop (and count). A clip shorter than one 25 ms frame is
    padded with zeros to one frame. Each example also carries its `clip` name, for the collator's errors.

    With `random_crop_seconds` (`--max_length_seconds`, as in transformers' example script), a longer clip is read
    from a random offset (python's `random`, which the Trainer seeds in every worker) such that a segment of that
    length fits; its duration comes from the file's header, so only `max_seconds` are ever read, whatever the length
    of the file.
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
        random_crop_seconds: float | None = None,
    ):
        self.audio_column = audio_column
        self.split = split
        self.max_seconds = max_seconds
        self.label_column = label_column
        self.label_space = label_space
        self.class_names = class_names
        self.skip_bad_audio = skip_bad_audio
        self.random_crop_seconds = random_crop_seconds

    def decode(self, audio) -> np.ndarray | None:
        try:
            waveform = load_waveform(audio, SAMPLING_RATE, self.max_seconds, offset_seconds=self.crop_offset(audio))
        except AudioDecodingError as error:
            if not self.skip_bad_audio:
                raise AudioDecodingError(
                    f"{error} (in the {self.split} split). Fix or remove the file, or pass --skip_bad_audio."
                ) from error
            logger.warning(f"Skipping a clip of the {self.split} split: {error}")
            return None
        return np.pad(waveform, (0, max(0, MIN_SAMPLES - len(waveform))))

    def crop_offset(self, audio) -> float:
        """Seconds to skip: uniform over the starts of a `random_crop_seconds` segment; 0 without a random crop."""
        if self.random_crop_seconds is None:
            return 0.0
        return random.uniform(0.0, max(0.0, audio_duration(audio) - self.random_crop_seconds))

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        audios = batch[self.audio_column]
        features = {"waveform": [self.decode(audio) for audio in audios], "clip": list(map(describe_audio, audios))}
        if self.label_space is not None:
            features["labels"] = [
                self.label_space.encode(
                    label_strings(value, self.class_names),
                    where=f"Clip {describe_audio(audio)} of the {self.split} split",
                )
                for value, audio in zip(batch[self.label_column], audios, strict=True)
            ]
        return features


def split_decoder(split: str, data_args, window_seconds: float, **labels) -> DecodeAudio:
    """
    The `DecodeAudio` of a script's split: it reads the model's `window_seconds` of each clip, or, with
    `--max_length_seconds`, a random segment of that length of each training clip and the beginning of each
    evaluation clip. `labels` are `DecodeAudio`'s label arguments.
    """
    crop_seconds = data_args.max_length_seconds
    return DecodeAudio(
        data_args.audio_column_name,
        split,
        window_seconds if crop_seconds is None else min(crop_seconds, window_seconds),
        skip_bad_audio=data_args.skip_bad_audio,
        random_crop_seconds=crop_seconds if split == "train" else None,
        **labels,
    )


def decode_on_the_fly(
    dataset: datasets.Dataset | datasets.IterableDataset, transform: DecodeAudio
) -> datasets.Dataset | datasets.IterableDataset:
    """Apply `transform` lazily: `set_transform` for a map-style dataset, a lazy `map` for a streamed one."""
    if isinstance(dataset, datasets.IterableDataset):
        return dataset.map(transform, batched=True, batch_size=16, remove_columns=dataset.column_names)
    dataset.set_transform(transform)
    return dataset


def featurize(
    feature_extractor: AudioMAEFeatureExtractor,
    waveforms: Sequence[np.ndarray] | torch.Tensor,
    num_samples: Sequence[int] | None = None,
    clips: Sequence[str] | None = None,
) -> dict[str, torch.Tensor]:
    """
    The feature extractor's `input_values` (normalised fbank, `[B, target_length, num_mel_bins]`) and, if it returns
    one, `attention_mask` of a batch of 16 kHz clips, computed where the waveforms are (a padded `[B, samples]`
    tensor with `num_samples`, or a list of arrays). A clip the feature extractor refuses is named by its `clips`
    entry.
    """
    if num_samples is not None:
        waveforms = [waveform[:length] for waveform, length in zip(waveforms, num_samples, strict=True)]
    device = waveforms[0].device if isinstance(waveforms[0], torch.Tensor) else None
    try:
        return dict(feature_extractor(waveforms, sampling_rate=SAMPLING_RATE, return_tensors="pt", device=device))
    except ValueError as error:
        named = "; ".join(f"{index}: {clip}" for index, clip in enumerate(clips or []))
        raise ValueError(f"{error} The clips of this batch by index: {named}.") from error


@dataclass
class AudioCollator:
    """
    Batch decoded examples: drop clips that failed to decode (counted in `skipped_clips`, an int, when there are any:
    the decoding workers are other processes, so the count travels with the batch to `AudioMAETrainer`), compute the
    normalised fbank of all clips at once with the feature extractor (`input_values`, [B, target_length,
    num_mel_bins]), and stack the `labels` (int64 class indices, or float32 multi-hot rows) if the examples have them.

    With `compute_features=False` the batch holds the zero-padded float32 `waveforms` [B, samples], their
    `num_samples` [B] and the `clips` names instead of `input_values`: `AudioMAETrainer` then computes the fbank on
    the training device (`featurize`, the same numbers).
    """

    feature_extractor: AudioMAEFeatureExtractor
    compute_features: bool = True

    def __call__(self, examples: Iterable[dict]) -> dict[str, torch.Tensor]:
        examples = list(examples)
        decoded = [example for example in examples if example["waveform"] is not None]
        if not decoded:
            raise ValueError(
                f"None of the {len(examples)} clips of this batch could be decoded (see the warnings above); "
                "remove the unreadable files from the data."
            )
        waveforms = [np.asarray(example["waveform"], dtype=np.float32) for example in decoded]
        clips = [example.get("clip", f"<clip {index}>") for index, example in enumerate(decoded)]
        if self.compute_features:
            batch = featurize(self.feature_extractor, waveforms, clips=clips)
        else:
            batch = {
                "waveforms": torch.nn.utils.rnn.pad_sequence(list(map(torch.from_numpy, waveforms)), batch_first=True),
                "num_samples": torch.tensor(list(map(len, waveforms))),
                "clips": clips,
            }
        if len(decoded) < len(examples):
            batch["skipped_clips"] = len(examples) - len(decoded)
        if "labels" in decoded[0]:
            labels = [example["labels"] for example in decoded]
            batch["labels"] = (
                torch.tensor(np.stack(labels), dtype=torch.float32)
                if np.ndim(labels[0])
                else torch.tensor(labels, dtype=torch.long)
            )
        return batch

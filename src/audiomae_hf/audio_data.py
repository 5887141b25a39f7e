"""Audio datasets for Audio-MAE training: loading, decoding to 16 kHz mono, labels, augmentation and batching.

Audio is decoded with soundfile (WAV, FLAC, OGG/Vorbis, Opus, MP3 with libsndfile >= 1.1), so nothing here needs
FFmpeg, torchcodec or torchaudio. A split comes from one of three sources:

- a `datasets` dataset (a Hub name or a folder written by `save_to_disk`): its audio column, if it is an `Audio`
  feature, is read undecoded (`Audio(decode=False)`) and decoded here;
- an audio folder in `audiofolder` layout, `root/<label>/<clip>.wav`: the label is the name of the clip's folder;
- a CSV or JSON Lines manifest with a column of paths (relative paths are taken from the manifest's folder) and a
  column of labels. A multi-label row holds a list of labels (JSON) or the labels joined by `;` (CSV).

Every clip is checked where that is cheap and named where it is not: missing files and labels before training, an
unreadable file when it is decoded (or skipped and counted, with `skip_bad_audio`).
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import soundfile
import torch
from datasets.exceptions import DatasetGenerationError

from .feature_extraction_audiomae import AudioMAEFeatureExtractor, resample

logger = logging.getLogger(__name__)

SAMPLING_RATE = 16_000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64")
MULTI_LABEL_SEPARATOR = ";"
# The released recipe's SpecAugment widths (`freqm`, `timem`) are for a 1024-frame x 128-bin spectrogram.
REFERENCE_FRAMES, REFERENCE_MEL_BINS = 1024, 128


class AudioDecodingError(ValueError):
    """An audio file or blob that cannot be read as sound; the message names it."""


# ---------------------------------------------------------------------------------------------------------------------
# Decoding


def describe_audio(audio) -> str:
    """A short name for an audio value in error messages: its path if it has one."""
    if isinstance(audio, (str, os.PathLike)):
        return f"'{os.fspath(audio)}'"
    if isinstance(audio, dict) and audio.get("path"):
        return f"'{audio['path']}'"
    if isinstance(audio, dict) and audio.get("bytes") is not None:
        return f"<{len(audio['bytes'])} bytes of embedded audio>"
    return f"<{type(audio).__name__}>"


def _read_samples(audio, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Samples [frames, channels] and sampling rate of a path, an `Audio(decode=False)` dict or a decoded dict."""
    if isinstance(audio, dict) and audio.get("array") is not None:
        samples = np.asarray(audio["array"], dtype=np.float32)
        return (samples[:, None] if samples.ndim == 1 else samples.T), int(audio["sampling_rate"])
    if isinstance(audio, dict):
        source = io.BytesIO(audio["bytes"]) if audio.get("bytes") is not None else audio.get("path")
    else:
        source = audio
    if source is None:
        raise AudioDecodingError("it holds neither a path nor bytes")
    with soundfile.SoundFile(source) as sound_file:
        frames = -1 if max_seconds is None else math.ceil(max_seconds * sound_file.samplerate)
        return sound_file.read(frames=frames, dtype="float32", always_2d=True), sound_file.samplerate


def load_waveform(audio, sampling_rate: int = SAMPLING_RATE, max_seconds: float | None = None) -> np.ndarray:
    """
    Decode one clip to a mono float32 waveform at `sampling_rate`: channels are averaged, any other rate resampled.

    `audio` is a path, an `Audio(decode=False)` value (`{"path", "bytes"}`) or a decoded one (`{"array",
    "sampling_rate"}`). Only the first `max_seconds` are read. Raises `AudioDecodingError` naming the clip if it
    cannot be read, is empty, or holds NaN or infinite samples.
    """
    try:
        samples, source_rate = _read_samples(audio, max_seconds)
    except (soundfile.LibsndfileError, RuntimeError, OSError, TypeError, KeyError) as error:
        raise AudioDecodingError(f"Could not decode audio {describe_audio(audio)}: {error}") from error
    if samples.size == 0:
        raise AudioDecodingError(f"Audio {describe_audio(audio)} holds no samples.")
    mono = samples.mean(axis=1, dtype=np.float32)
    if not np.isfinite(mono).all():
        raise AudioDecodingError(f"Audio {describe_audio(audio)} holds NaN or infinite samples.")
    if source_rate == sampling_rate:
        return mono
    return resample(torch.from_numpy(mono), source_rate, sampling_rate).numpy()


def seconds_for_frames(num_frames: int) -> float:
    """Audio needed for `num_frames` fbank frames (25 ms windows every 10 ms), with a little room for resampling."""
    return (num_frames - 1) * 0.010 + 0.025 + 0.05


# ---------------------------------------------------------------------------------------------------------------------
# Loading splits


def audio_folder_dataset(root: str | os.PathLike, with_labels: bool = True) -> datasets.Dataset:
    """
    The clips under `root` in `audiofolder` layout (`root/<label>/<clip>.wav`) as a dataset of an `audio` column of
    paths and, with `with_labels`, a `label` column holding each clip's folder name.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"Audio folder '{root}' does not exist or is not a directory.")
    paths = sorted(path for path in root.rglob("*") if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file())
    if not paths:
        raise ValueError(f"Audio folder '{root}' holds no audio files ({', '.join(AUDIO_EXTENSIONS)}).")
    columns = {"audio": [str(path) for path in paths]}
    if with_labels:
        unlabelled = [str(path) for path in paths if path.parent == root]
        if unlabelled:
            raise ValueError(
                f"{len(unlabelled)} clips of '{root}' lie directly in it, outside a label folder (e.g. "
                f"'{unlabelled[0]}'): put every clip in a folder named after its label, root/<label>/<clip>."
            )
        columns["label"] = [path.parent.name for path in paths]
    return datasets.Dataset.from_dict(columns)


def manifest_dataset(path: str | os.PathLike, audio_column: str) -> datasets.Dataset:
    """A CSV or JSON (Lines) manifest as a dataset, with relative audio paths resolved from the manifest's folder."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Manifest '{path}' does not exist.")
    suffix = path.suffix.lower()
    builder = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json"}.get(suffix)
    if builder is None:
        raise ValueError(f"Manifest '{path}' must be a .csv, .tsv, .json or .jsonl file.")
    kwargs = {"delimiter": "\t"} if suffix == ".tsv" else {}
    # keep_default_na=False: an empty label stays "" (reported as missing) rather than becoming NaN.
    if builder == "csv":
        kwargs["keep_default_na"] = False
    header_lines = 1 if builder == "csv" else 0
    with open(path) as lines:
        if sum(1 for line in itertools.islice(lines, header_lines + 1) if line.strip()) <= header_lines:
            raise ValueError(f"Manifest '{path}' has no rows.")
    try:
        dataset = datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except (DatasetGenerationError, pa.ArrowInvalid) as error:
        raise ValueError(f"Could not read manifest '{path}': {error.__cause__ or error}") from error
    if audio_column not in dataset.column_names:
        raise ValueError(
            f"Manifest '{path}' has no audio column '{audio_column}' (its columns: {dataset.column_names}); "
            "set --audio_column_name."
        )
    folder = path.parent.resolve()

    def resolve(batch):
        return {audio_column: [None if p in (None, "") else str(folder / p) for p in batch[audio_column]]}

    return dataset.map(resolve, batched=True, desc=f"Resolving audio paths of {path.name}")


def load_split(
    *,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    split: str | None = None,
    audio_dir: str | None = None,
    manifest: str | None = None,
    audio_column: str = "audio",
    with_labels: bool = True,
    streaming: bool = False,
    cache_dir: str | None = None,
    token: str | None = None,
) -> datasets.Dataset | datasets.IterableDataset:
    """
    One split from exactly one source: `dataset_name` (+ `split`), `audio_dir`, or `manifest`. The audio column is
    left undecoded (paths or `{"path", "bytes"}`). `streaming` streams a Hub dataset as an `IterableDataset`; local
    sources are returned map-style (see `load_training_split`).
    """
    if sum(source is not None for source in (dataset_name, audio_dir, manifest)) != 1:
        raise ValueError("Give exactly one source per split: a dataset name, an audio folder, or a manifest file.")
    if audio_dir is not None:
        dataset = audio_folder_dataset(audio_dir, with_labels=with_labels)
    elif manifest is not None:
        dataset = manifest_dataset(manifest, audio_column)
    elif os.path.isdir(dataset_name) and os.path.exists(os.path.join(dataset_name, "dataset_dict.json")):
        saved = datasets.load_from_disk(dataset_name)
        if split not in saved:
            raise ValueError(f"Saved dataset '{dataset_name}' has no split '{split}' (its splits: {list(saved)}).")
        dataset = saved[split]
    elif os.path.isdir(dataset_name) and os.path.exists(os.path.join(dataset_name, "dataset_info.json")):
        dataset = datasets.load_from_disk(dataset_name)
    else:
        dataset = datasets.load_dataset(
            dataset_name, dataset_config_name, split=split, streaming=streaming, cache_dir=cache_dir, token=token
        )
    if audio_column not in (dataset.column_names or []):
        raise ValueError(
            f"The {split or 'given'} split has no audio column '{audio_column}' (its columns: {dataset.column_names});"
            " set --audio_column_name."
        )
    if isinstance(dataset.features.get(audio_column), datasets.Audio):
        # Decoded here with soundfile, so that no FFmpeg or torchcodec is needed.
        dataset = dataset.cast_column(audio_column, datasets.Audio(decode=False))
    if isinstance(dataset, datasets.Dataset) and len(dataset) == 0:
        raise ValueError(f"The {split or 'given'} split is empty.")
    return dataset


def audio_paths(dataset: datasets.Dataset, audio_column: str) -> list[str | None]:
    """The file path of each row that is stored as a path (None for rows holding bytes or decoded arrays)."""
    column = dataset.with_format("arrow")[audio_column]  # Arrow, so that embedded bytes are not copied out
    if not pa.types.is_struct(column.type):
        return column.to_pylist()
    names = [column.type.field(index).name for index in range(column.type.num_fields)]
    if "path" not in names:
        return [None] * len(column)
    paths = pc.struct_field(column, "path").to_pylist()
    if "bytes" not in names:
        return paths
    has_bytes = pc.is_valid(pc.struct_field(column, "bytes")).to_pylist()
    return [None if embedded else path for path, embedded in zip(paths, has_bytes, strict=True)]


def check_audio_files(
    dataset: datasets.Dataset, audio_column: str, split: str, skip_bad_audio: bool = False
) -> datasets.Dataset:
    """
    Check, before training, that every clip stored as a path exists (and, with `skip_bad_audio`, that its header
    reads). Missing files raise a `ValueError` naming them; with `skip_bad_audio` they are dropped, counted and
    logged instead.
    """
    bad_rows: dict[int, str] = {}
    for row, path in enumerate(audio_paths(dataset, audio_column)):
        if path is None:
            continue
        if not os.path.isfile(path):
            bad_rows[row] = f"'{path}' does not exist"
        elif skip_bad_audio:
            try:
                soundfile.info(path)
            except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
                bad_rows[row] = f"'{path}' cannot be read: {error}"
    if not bad_rows:
        return dataset
    examples = "; ".join(f"row {row}: {reason}" for row, reason in list(bad_rows.items())[:5])
    if not skip_bad_audio:
        raise ValueError(
            f"{len(bad_rows)} clips of the {split} split are missing ({examples}). Fix the paths, or pass "
            "--skip_bad_audio to leave them out."
        )
    logger.warning(f"Skipping {len(bad_rows)} of {len(dataset)} clips of the {split} split: {examples}")
    kept = [row for row in range(len(dataset)) if row not in bad_rows]
    if not kept:
        raise ValueError(f"No readable clip is left in the {split} split.")
    return dataset.select(kept)


@dataclass
class AudioDataArguments:
    """Where the training and evaluation audio comes from (one source per split) and how it is read."""

    dataset_name: str | None = field(
        default=None, metadata={"help": "A `datasets` name on the Hub, or a folder written by `save_to_disk`."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    train_split_name: str = field(default="train", metadata={"help": "Training split of --dataset_name."})
    eval_split_name: str = field(default="validation", metadata={"help": "Evaluation split of --dataset_name."})
    train_dir: str | None = field(
        default=None, metadata={"help": "Training audio folder in audiofolder layout: root/<label>/<clip>.wav."}
    )
    eval_dir: str | None = field(default=None, metadata={"help": "Evaluation audio folder, same layout."})
    train_file: str | None = field(
        default=None,
        metadata={"help": "Training manifest (.csv, .tsv, .json, .jsonl) with a column of audio paths (and labels)."},
    )
    eval_file: str | None = field(default=None, metadata={"help": "Evaluation manifest, same format."})
    audio_column_name: str = field(
        default="audio", metadata={"help": "Column holding the audio (an Audio feature, or file paths)."}
    )
    streaming: bool = field(
        default=False,
        metadata={
            "help": "Stream the data (an IterableDataset, for corpora that do not fit on disk); needs max_steps."
        },
    )
    shuffle_buffer_size: int = field(
        default=1000, metadata={"help": "Clips in the shuffle buffer of a streamed training split."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only this many training clips."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Keep only this many evaluation clips."})
    skip_bad_audio: bool = field(
        default=False,
        metadata={"help": "Skip (and count) missing or unreadable clips instead of stopping with an error."},
    )

    def source(self, which: Literal["train", "eval"]) -> dict | None:
        """`load_split` arguments of the train or eval split, or None if that split has no source."""
        directory, manifest = (
            (self.train_dir, self.train_file) if which == "train" else (self.eval_dir, self.eval_file)
        )
        if directory is not None and manifest is not None:
            raise ValueError(f"Give one source for the {which} split, not both --{which}_dir and --{which}_file.")
        if directory is not None:
            return {"audio_dir": directory}
        if manifest is not None:
            return {"manifest": manifest}
        if self.dataset_name is not None:
            split = self.train_split_name if which == "train" else self.eval_split_name
            return {"dataset_name": self.dataset_name, "dataset_config_name": self.dataset_config_name, "split": split}
        return None


def load_training_split(
    data_args: AudioDataArguments,
    which: Literal["train", "eval"],
    with_labels: bool,
    cache_dir: str | None = None,
    token: str | None = None,
) -> datasets.Dataset | datasets.IterableDataset:
    """
    The train or eval split described by `data_args`, cut to `max_*_samples` and checked (a `ValueError` if it has no
    source or no clips; missing files named or, with `skip_bad_audio`, dropped). Map-style unless a Hub dataset is
    streamed: local data is turned into a stream by `as_stream`, after its labels have been read.
    """
    source = data_args.source(which)
    if source is None:
        raise ValueError(
            f"No {which} data: pass --dataset_name, --{which}_dir (an audio folder) or --{which}_file (a manifest)."
        )
    dataset = load_split(
        **source,
        audio_column=data_args.audio_column_name,
        with_labels=with_labels,
        streaming=data_args.streaming,
        cache_dir=cache_dir,
        token=token,
    )
    max_samples = data_args.max_train_samples if which == "train" else data_args.max_eval_samples
    if isinstance(dataset, datasets.IterableDataset):
        return dataset if max_samples is None else dataset.take(max_samples)
    if max_samples is not None:
        dataset = dataset.select(range(min(max_samples, len(dataset))))
    return check_audio_files(dataset, data_args.audio_column_name, which, data_args.skip_bad_audio)


def as_stream(
    dataset: datasets.Dataset | datasets.IterableDataset, shuffle_seed: int | None, shuffle_buffer_size: int
) -> datasets.IterableDataset:
    """`dataset` as an `IterableDataset`, shuffled through a buffer if `shuffle_seed` is given (the training split)."""
    if isinstance(dataset, datasets.Dataset):
        dataset = dataset.to_iterable_dataset()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(seed=shuffle_seed, buffer_size=shuffle_buffer_size)
    return dataset


# ---------------------------------------------------------------------------------------------------------------------
# Labels


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


# ---------------------------------------------------------------------------------------------------------------------
# Per-example transform and batching


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


# ---------------------------------------------------------------------------------------------------------------------
# Spectrogram augmentation
#
# These run on the batched, normalised fbank inside the training step rather than in the data pipeline: they then
# draw from torch's global RNG right before the forward pass, in the same order in every run, so that a run resumed
# from a checkpoint (whose RNG state the Trainer restores) draws exactly what the uninterrupted run drew.


def scaled_mask_width(width: int, size: int, reference_size: int) -> int:
    """A SpecAugment width given for the reference 1024 x 128 input, in proportion for an axis of `size`."""
    return round(width * size / reference_size)


def spec_augment(
    input_values: torch.Tensor, max_frequency_mask: int, max_time_mask: int, fill_value: float
) -> torch.Tensor:
    """
    SpecAugment as the release applies it to each training clip: one band of up to `max_frequency_mask` mel bins and
    one span of up to `max_time_mask` frames set to `fill_value`. Width and start are drawn per clip as torchaudio's
    `FrequencyMasking` / `TimeMasking` draw them (width uniform in [0, max), start uniform where the band fits).
    """
    batch_size, num_frames, num_bins = input_values.shape
    masked = torch.zeros_like(input_values, dtype=torch.bool)
    for axis, size, max_width in ((2, num_bins, max_frequency_mask), (1, num_frames, max_time_mask)):
        if max_width <= 0:
            continue
        width = torch.rand(batch_size) * min(max_width, size)
        start = torch.rand(batch_size) * (size - width)
        position = torch.arange(size)
        in_band = (position >= start.long()[:, None]) & (position < (start + width).long()[:, None])  # [B, size]
        masked |= in_band[:, None, :] if axis == 2 else in_band[:, :, None]
    return input_values.masked_fill(masked.to(input_values.device), fill_value)


def roll_and_gain(input_values: torch.Tensor, log_gain_scale: float) -> torch.Tensor:
    """
    The release's `roll_mag_aug`, on the spectrogram: each clip is rolled in time by a random number of frames and
    scaled by a random gain g ~ Beta(10, 10) + 0.5 (about +-6 dB). Scaling a waveform by g adds 2 ln g to its log-mel
    power, `log_gain_scale` times 2 ln g to the normalised fbank. The roll spans the whole (padded) spectrogram.
    """
    batch_size, num_frames, _ = input_values.shape
    shifts = torch.randint(0, num_frames, (batch_size,))
    gains = torch.distributions.Beta(10.0, 10.0).sample((batch_size,)) + 0.5
    frame = (torch.arange(num_frames)[None, :] - shifts[:, None]) % num_frames  # [B, T]
    rolled = torch.gather(input_values, 1, frame.to(input_values.device)[..., None].expand_as(input_values))
    offsets = (2.0 * log_gain_scale * gains.log()).to(input_values)
    return rolled + offsets[:, None, None]


__all__ = [
    "as_stream",
    "AudioCollator",
    "AudioDataArguments",
    "AudioDecodingError",
    "DecodeAudio",
    "LabelSpace",
    "audio_folder_dataset",
    "build_label_space",
    "check_audio_files",
    "check_labels",
    "class_balanced_weights",
    "decode_on_the_fly",
    "load_split",
    "load_training_split",
    "load_waveform",
    "manifest_dataset",
    "roll_and_gain",
    "spec_augment",
]

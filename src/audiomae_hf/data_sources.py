"""Where training audio comes from: one split from one source, checked before training starts.

A split comes from one of three sources:

- a `datasets` dataset (a Hub name or a folder written by `save_to_disk`): its audio column, if it is an `Audio`
  feature, is read undecoded (`Audio(decode=False)`) and decoded by `audiomae_hf.audio_decoding`;
- an audio folder in `audiofolder` layout, `root/<label>/<clip>.wav`: the label is the name of the clip's folder;
- a CSV or JSON Lines manifest with a column of paths (relative paths are taken from the manifest's folder) and a
  column of labels. A multi-label row holds a list of labels (JSON) or the labels joined by `;` (CSV).

Every clip is checked where that is cheap and named where it is not: missing files before training, an unreadable
file when it is decoded (or skipped and counted, with `skip_bad_audio`).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import soundfile
from datasets.exceptions import DatasetGenerationError

from .audio_decoding import AUDIO_EXTENSIONS, find_audio_files

if TYPE_CHECKING:
    from .training_arguments import AudioDataArguments, RecipeTrainingArguments

logger = logging.getLogger(__name__)


def audio_folder_dataset(root: str | os.PathLike, with_labels: bool = True) -> datasets.Dataset:
    """
    The clips under `root` in `audiofolder` layout (`root/<label>/<clip>.wav`) as a dataset of an `audio` column of
    paths and, with `with_labels`, a `label` column holding each clip's folder name.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"Audio folder '{root}' does not exist or is not a directory.")
    paths = find_audio_files([root])
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
    empty_rows = [row for row, cell in enumerate(dataset[audio_column]) if cell is None or not str(cell).strip()]
    if empty_rows:
        # Rows are numbered from 0 after a CSV manifest's header line, as the other errors number them.
        first_line = empty_rows[0] + header_lines + 1
        raise ValueError(
            f"Manifest '{path}': {len(empty_rows)} rows have no audio path in column '{audio_column}', e.g. row "
            f"{empty_rows[0]} (line {first_line}); rows {empty_rows[:10]}. Fill in or remove them."
        )
    folder = path.parent.resolve()

    def resolve(batch):
        return {audio_column: [str(folder / str(p)) for p in batch[audio_column]]}

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


# A stream is shuffled by shard order, then through a buffer: the more shards, the better a corpus stored label by
# label comes out mixed. Each shard costs a little to open, so a local split is cut into about this many.
MAX_STREAM_SHARDS = 1024


def stream_shards(num_clips: int, readers: int) -> int:
    """
    Shards for a local split of `num_clips` clips streamed by `readers` (processes x DataLoader workers): a multiple
    of `readers`, so that each reads as many shards as the others, about `MAX_STREAM_SHARDS` of `ceil(num_clips /
    MAX_STREAM_SHARDS)` clips (one clip each for a split of fewer clips), so that padding the split to equal shards
    (`padded_to_multiple`) adds less than `readers` shards' worth of clips.
    """
    clips_per_shard = math.ceil(num_clips / MAX_STREAM_SHARDS)
    return readers * math.ceil(num_clips / (clips_per_shard * readers))


def padded_to_multiple(dataset: datasets.Dataset, multiple: int) -> datasets.Dataset:
    """`dataset` with rows spread over it repeated at its end to a multiple of `multiple` rows, as PyTorch's
    `DistributedSampler` pads, so that its equal shards give every process the same number of batches."""
    padding = -len(dataset) % multiple
    if not padding:
        return dataset
    repeated = dataset.select([index * len(dataset) // padding for index in range(padding)])
    return datasets.concatenate_datasets([dataset, repeated])


def as_stream(
    dataset: datasets.Dataset | datasets.IterableDataset,
    shuffle_seed: int | None,
    shuffle_buffer_size: int,
    readers: int = 1,
    equal_shards: bool = False,
) -> datasets.IterableDataset:
    """
    `dataset` as an `IterableDataset`, shuffled through a buffer if `shuffle_seed` is given (the training split). A
    local split is cut into `stream_shards` contiguous shards for `readers` (processes x DataLoader workers), padded
    to shards of one size first if `equal_shards`; a stream keeps its own shards.
    """
    if isinstance(dataset, datasets.Dataset):
        num_shards = stream_shards(len(dataset), readers)
        if equal_shards:
            dataset = padded_to_multiple(dataset, num_shards)
        dataset = dataset.to_iterable_dataset(num_shards=min(len(dataset), num_shards))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(seed=shuffle_seed, buffer_size=shuffle_buffer_size)
    return dataset


class StreamedSplits(NamedTuple):
    train: datasets.Dataset | datasets.IterableDataset | None
    eval: datasets.Dataset | datasets.IterableDataset | None
    # The training split is a stream of equal shards that the processes share out (`AudioMAETrainer`).
    train_shards_per_process: bool


def stream_splits(train_dataset, eval_dataset, training_args: RecipeTrainingArguments, data_args) -> StreamedSplits:
    """
    With `--streaming`, both splits as shuffled (train) or ordered (eval) iterable datasets, a local split in shards
    for every DataLoader worker. With several processes a local training split is padded to equal shards that the
    processes share out, so that each decodes only its own; a Hub stream's shards are files of any size, so its
    batches are read by the main process and sent to the others (accelerate's default), as are evaluation batches.
    """
    if not data_args.streaming:
        return StreamedSplits(train_dataset, eval_dataset, False)
    workers = max(1, training_args.dataloader_num_workers)
    shards_per_process = isinstance(train_dataset, datasets.Dataset) and training_args.world_size > 1
    if train_dataset is not None:
        readers = training_args.world_size * workers
        train_dataset = as_stream(
            train_dataset, training_args.seed, data_args.shuffle_buffer_size, readers, equal_shards=shards_per_process
        )
    if eval_dataset is not None:
        eval_dataset = as_stream(eval_dataset, None, data_args.shuffle_buffer_size, workers)
    return StreamedSplits(train_dataset, eval_dataset, shards_per_process)

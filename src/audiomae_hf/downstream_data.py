"""The paper's downstream corpora, from the layout each is distributed in to manifests the fine-tuning script reads.

Every function reads the corpus where its archive unpacks and writes JSON Lines manifests (`{"audio": absolute path,
"label": name or list of names}`) for `run_audio_classification --train_file/--eval_file`:

- ESC-50 (`ESC-50-master/`): `meta/esc50.csv` names each clip's fold; one fold is evaluated, the other four train.
- Speech Commands V2 and V1 (`speech_commands_v0.0x/`): word folders, `validation_list.txt` and `testing_list.txt`
  list the validation and test clips, every other clip trains. V1 is the 12-class task: ten words, `_unknown_` (every
  other word) and `_silence_` (1 s cut from `_background_noise_/`), with the training classes repeated up to half
  the size of `_unknown_` as the paper does (Table 3, note *).
- AudioSet: a segments CSV (`balanced_train_segments.csv`, `eval_segments.csv`, ...; `YTID, start_seconds,
  end_seconds, "positive_labels"`) and a folder of the clips you downloaded, each named `<YTID>.<ext>` or
  `Y<YTID>.<ext>`; labels become the display names of `audioset_class_labels_indices.csv`, in its order.
- VoxCeleb-1 (`vox1/` with `wav/` and `iden_split.txt`): split 1 trains, 2 validates, 3 tests; the label is the
  speaker id.

`python scripts/prepare_downstream_data.py --help` runs them from the command line.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import numpy as np
import soundfile

from .audio_decoding import AUDIO_EXTENSIONS, SAMPLING_RATE, load_waveform

logger = logging.getLogger(__name__)

ESC50_METADATA = Path("meta") / "esc50.csv"
ESC50_FOLDS = (1, 2, 3, 4, 5)
SPEECH_COMMANDS_V1_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE_LABEL = "_silence_"
UNKNOWN_LABEL = "_unknown_"
BACKGROUND_NOISE_FOLDER = "_background_noise_"
VOXCELEB_SPLITS = {"1": "train", "2": "validation", "3": "test"}


@contextmanager
def _written_atomically(path: Path) -> Iterator[Path]:
    """
    A temporary path to write, renamed to `path` once written: every process of a distributed run may prepare the
    same files, and none must read one that another is still writing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    yield temporary
    os.replace(temporary, path)


def write_manifest(path: str | Path, rows: Iterable[tuple[Path, str | list[str]]]) -> Path:
    """Write (audio path, label) rows as a JSON Lines manifest with absolute audio paths."""
    text = "".join(json.dumps({"audio": str(Path(audio).resolve()), "label": label}) + "\n" for audio, label in rows)
    path = Path(path)
    with _written_atomically(path) as temporary:
        temporary.write_text(text)
    return path


def esc50_fold_manifests(esc50_dir: str | Path, output_dir: str | Path, eval_fold: int) -> tuple[Path, Path]:
    """`output_dir/train.jsonl` (the four other folds) and `output_dir/eval.jsonl` (fold `eval_fold`) of ESC-50."""
    esc50_dir = Path(esc50_dir)
    if eval_fold not in ESC50_FOLDS:
        raise ValueError(f"ESC-50 has folds {ESC50_FOLDS}, not {eval_fold}.")
    metadata = esc50_dir / ESC50_METADATA
    if not metadata.is_file():
        raise ValueError(f"'{esc50_dir}' has no {ESC50_METADATA}: pass the folder the ESC-50 archive unpacks to.")
    with open(metadata, newline="") as table:
        rows = [
            (esc50_dir / "audio" / row["filename"], row["category"], int(row["fold"])) for row in csv.DictReader(table)
        ]
    output_dir = Path(output_dir)
    train = write_manifest(output_dir / "train.jsonl", [(a, label) for a, label, fold in rows if fold != eval_fold])
    evaluation = write_manifest(
        output_dir / "eval.jsonl", [(a, label) for a, label, fold in rows if fold == eval_fold]
    )
    return train, evaluation


def esc50_at_16k(esc50_dir: str | Path, output_dir: str | Path) -> Path:
    """
    A copy of ESC-50 resampled once to 16 kHz (the paper's input rate, App. B), laid out as the original: resampling
    a 5 s clip from 44.1 kHz took 0.3 s of CPU on this project's (loaded) 2-core machine, which every epoch of every
    fold would pay again. Clips already written are kept, so an interrupted or repeated run only writes what is
    missing.
    """
    esc50_dir, output_dir = Path(esc50_dir), Path(output_dir)
    metadata = esc50_dir / ESC50_METADATA
    if not metadata.is_file():
        raise ValueError(f"'{esc50_dir}' has no {ESC50_METADATA}: pass the folder the ESC-50 archive unpacks to.")
    (output_dir / "audio").mkdir(parents=True, exist_ok=True)
    with open(metadata, newline="") as table:
        for row in csv.DictReader(table):
            target = output_dir / "audio" / row["filename"]
            if not target.is_file():
                waveform = load_waveform(str(esc50_dir / "audio" / row["filename"]), SAMPLING_RATE)
                with _written_atomically(target) as temporary:
                    soundfile.write(temporary, waveform, SAMPLING_RATE, subtype="PCM_16")
    with _written_atomically(output_dir / ESC50_METADATA) as temporary:
        temporary.write_bytes(metadata.read_bytes())
    return output_dir


def _split_list(root: Path, name: str) -> set[str]:
    path = root / name
    if not path.is_file():
        raise ValueError(f"'{root}' has no {name}: pass the folder a Speech Commands archive unpacks to.")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _cut_silence(root: Path, output_dir: Path, split: str, count: int, rng: np.random.Generator) -> list[Path]:
    """`count` one-second clips cut at random from the background-noise recordings, written as 16 kHz wav files."""
    recordings = sorted((root / BACKGROUND_NOISE_FOLDER).glob("*.wav"))
    if not recordings:
        raise ValueError(f"'{root}' has no {BACKGROUND_NOISE_FOLDER}/*.wav to cut the {SILENCE_LABEL} class from.")
    noises = [load_waveform(path, SAMPLING_RATE) for path in recordings]  # mono 16 kHz, whatever the files are
    folder = output_dir / SILENCE_LABEL / split
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for index in range(count):
        noise = noises[index % len(noises)]
        start = int(rng.integers(0, max(1, len(noise) - SAMPLING_RATE)))
        path = folder / f"{SILENCE_LABEL}_{index:05d}.wav"
        soundfile.write(path, noise[start : start + SAMPLING_RATE], SAMPLING_RATE, subtype="PCM_16")
        clips.append(path)
    return clips


def _repeat_to(rows: list[tuple[Path, str]], size: int) -> list[tuple[Path, str]]:
    """`rows` repeated whole, then its first rows once more, to `size` rows (or `rows` if it already has that many)."""
    if len(rows) >= size:
        return rows
    return rows * (size // len(rows)) + rows[: size % len(rows)]


def speech_commands_manifests(
    root: str | Path, output_dir: str | Path, version: int, seed: int = 0
) -> dict[str, Path]:
    """
    `train.jsonl`, `validation.jsonl` and `test.jsonl` of Speech Commands V2 (35 words) or V1 (12 classes), split by
    `validation_list.txt` and `testing_list.txt`. For V1, `_silence_` clips (as many per split as an average word
    has) are cut from the background noise into `output_dir/_silence_/`, and in the training split every class but
    `_unknown_` is repeated up to half the size of `_unknown_`.
    """
    if version not in (1, 2):
        raise ValueError(f"Speech Commands version {version}: expected 1 (12 classes) or 2 (35 words).")
    root, output_dir = Path(root), Path(output_dir)
    validation, testing = _split_list(root, "validation_list.txt"), _split_list(root, "testing_list.txt")
    splits: dict[str, list[tuple[Path, str]]] = {"train": [], "validation": [], "test": []}
    for path in sorted(root.glob("*/*.wav")):
        word = path.parent.name
        if word == BACKGROUND_NOISE_FOLDER:
            continue
        relative = f"{word}/{path.name}"
        split = "validation" if relative in validation else "test" if relative in testing else "train"
        label = word if version == 2 or word in SPEECH_COMMANDS_V1_WORDS else UNKNOWN_LABEL
        splits[split].append((path, label))
    if version == 1:
        rng = np.random.default_rng(seed)
        for split, rows in splits.items():
            word_counts = Counter(label for _, label in rows if label != UNKNOWN_LABEL)
            count = round(sum(word_counts.values()) / max(1, len(word_counts)))
            rows += [(clip, SILENCE_LABEL) for clip in _cut_silence(root, output_dir, split, count, rng)]
        by_class: dict[str, list[tuple[Path, str]]] = {}
        for row in splits["train"]:
            by_class.setdefault(row[1], []).append(row)
        half_unknown = len(by_class.get(UNKNOWN_LABEL, [])) // 2
        splits["train"] = [
            row
            for label, rows in sorted(by_class.items())
            for row in (rows if label == UNKNOWN_LABEL else _repeat_to(rows, half_unknown))
        ]
    return {split: write_manifest(output_dir / f"{split}.jsonl", rows) for split, rows in splits.items()}


def audioset_display_names() -> dict[str, str]:
    """AudioSet's label ids (`/m/09x0r`) and their display names, in the order of the 527 classes."""
    text = (resources.files("audiomae_hf") / "audioset_class_labels_indices.csv").read_text(encoding="utf-8")
    return {row["mid"]: row["display_name"] for row in csv.DictReader(text.splitlines())}


def audioset_manifest(segments_csv: str | Path, audio_dir: str | Path, output_path: str | Path) -> tuple[Path, int]:
    """
    A multi-label manifest of the clips of an AudioSet segments CSV found in `audio_dir` (named `<YTID>.<ext>` or
    `Y<YTID>.<ext>`), each labelled with the display names of its positive labels. Returns the manifest and how many
    segments had no clip (AudioSet downloads are never complete: the paper had 1.96M of the 2.04M training clips).
    """
    names = audioset_display_names()
    clips = {
        path.stem: path
        for path in Path(audio_dir).rglob("*")
        if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file()
    }
    rows, missing = [], 0
    with open(segments_csv, newline="") as table:
        for row in csv.reader((line for line in table if not line.startswith("#")), skipinitialspace=True):
            if not row:
                continue
            youtube_id, labels = row[0], row[3]
            clip = clips.get(youtube_id) or clips.get(f"Y{youtube_id}")
            if clip is None:
                missing += 1
                continue
            rows.append((clip, [names[mid] for mid in labels.split(",")]))
    if missing:
        logger.warning(f"{missing} segments of {segments_csv} have no clip in {audio_dir}; they are left out.")
    return write_manifest(output_path, rows), missing


def audioset_label_names_file(path: str | Path) -> Path:
    """The 527 display names, one per line in class-index order, for `--label_names_file`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(audioset_display_names().values()) + "\n")
    return path


def voxceleb1_manifests(root: str | Path, output_dir: str | Path) -> dict[str, Path]:
    """`train.jsonl`, `validation.jsonl` and `test.jsonl` of VoxCeleb-1 identification, split by `iden_split.txt`."""
    root = Path(root)
    split_file = root / "iden_split.txt"
    if not split_file.is_file():
        raise ValueError(f"'{root}' has no iden_split.txt: pass the VoxCeleb-1 folder holding it and wav/.")
    splits: dict[str, list[tuple[Path, str]]] = {name: [] for name in VOXCELEB_SPLITS.values()}
    for line in split_file.read_text().splitlines():
        if not line.strip():
            continue
        split, relative = line.split()
        splits[VOXCELEB_SPLITS[split]].append((root / "wav" / relative, relative.split("/")[0]))
    return {split: write_manifest(Path(output_dir) / f"{split}.jsonl", rows) for split, rows in splits.items()}


def main(argv: list[str] | None = None) -> dict[str, Path]:
    """Write the manifests of one corpus, as the command line `argv` says; return them by split."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", choices=["esc50", "spc2", "spc1", "audioset", "voxceleb1"])
    parser.add_argument("root", help="Where the corpus unpacks (for audioset: the folder of downloaded clips).")
    parser.add_argument("output_dir", help="Where the manifests (and the V1 silence clips) are written.")
    parser.add_argument("--eval_fold", type=int, default=1, help="esc50: the fold to evaluate.")
    parser.add_argument("--segments", nargs="+", default=[], help="audioset: segments CSVs, one manifest each.")
    args = parser.parse_args(argv)
    output_dir = Path(args.output_dir)
    if args.corpus == "esc50":
        train, evaluation = esc50_fold_manifests(args.root, output_dir, args.eval_fold)
        manifests = {"train": train, "eval": evaluation}
    elif args.corpus in ("spc1", "spc2"):
        manifests = speech_commands_manifests(args.root, output_dir, version=int(args.corpus[-1]))
    elif args.corpus == "voxceleb1":
        manifests = voxceleb1_manifests(args.root, output_dir)
    else:
        if not args.segments:
            parser.error("audioset needs --segments, e.g. balanced_train_segments.csv eval_segments.csv")
        manifests = {"labels": audioset_label_names_file(output_dir / "labels.txt")}
        for segments in map(Path, args.segments):
            manifests[segments.stem] = audioset_manifest(segments, args.root, output_dir / f"{segments.stem}.jsonl")[0]
    for split, path in manifests.items():
        print(f"{split}: {path}")
    return manifests


__all__ = [
    "audioset_label_names_file",
    "audioset_manifest",
    "esc50_at_16k",
    "esc50_fold_manifests",
    "speech_commands_manifests",
    "voxceleb1_manifests",
    "write_manifest",
]

"""
Normalisation statistics of the Audio-MAE log-mel fbank for your own corpus.

`AudioMAEFeatureExtractor` normalises log-mel features as `(fbank - mean) / (2 * std)` with AudioSet's statistics by
default. To fine-tune on a corpus that sounds different, compute its own: the mean and standard deviation of every
value (all frames, all mel bins) of the un-normalised fbank, without the padding frames, over the whole corpus.
(AST's `get_norm_stats.py` instead averaged per-batch means and standard deviations of padded spectrograms; pooling
all values is the exact statistic and does not depend on batching or clip lengths.)

From Python:

```python
>>> from audiomae_hf.normalization_stats import compute_normalization_stats
>>> mean, std = compute_normalization_stats(waveforms)  # any iterable of 16 kHz mono clips
```

From the command line, on a folder of audio files (scanned recursively for .wav, .flac and .ogg) or a list of files:

```
audiomae-normalization-stats path/to/corpus
```
"""

import argparse
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile
import torch

from .feature_extraction_audiomae import _as_float_waveform, log_mel_fbank, resample

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def compute_normalization_stats(
    waveforms: Iterable[np.ndarray | torch.Tensor],
    sampling_rate: int = 16000,
    num_mel_bins: int = 128,
    max_frames: int | None = 1024,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> tuple[float, float]:
    """
    Mean and (population) standard deviation of the log-mel fbank values of a corpus, streamed: clips are consumed
    `batch_size` at a time and only running sums are kept, in float64.

    Args:
        waveforms (`Iterable` of 1-D `np.ndarray` or `torch.Tensor`):
            Mono clips at `sampling_rate`, each at least one 25 ms frame long; float, or int16 / int32 PCM.
        sampling_rate (`int`, *optional*, defaults to 16000):
            Sampling rate of the clips, and of the model.
        num_mel_bins (`int`, *optional*, defaults to 128):
            Mel bins of the fbank.
        max_frames (`int`, *optional*, defaults to 1024):
            Frames counted per clip: the feature extractor's `target_length`, since frames past it are cropped and
            never reach the model. `None` counts every frame.
        batch_size (`int`, *optional*, defaults to 32):
            Clips computed together.
        device (`str` or `torch.device`, *optional*, defaults to `"cpu"`):
            Where to compute the fbank.

    Returns:
        `tuple[float, float]`: `(mean, std)`, to pass as `AudioMAEFeatureExtractor(mean=mean, std=std)`.
    """
    count, total, total_of_squares = 0, 0.0, 0.0
    for batch in _batches(waveforms, batch_size):
        num_samples = torch.tensor([len(waveform) for waveform in batch])
        padded = torch.nn.utils.rnn.pad_sequence([waveform.to(device) for waveform in batch], batch_first=True)
        log_mel, num_frames = log_mel_fbank(padded, num_samples, sampling_rate, num_mel_bins, max_frames)
        # Frames past a clip's end are exactly zero: summing everything adds only the clips' own values.
        log_mel = log_mel.double()
        count += int(num_frames.sum()) * num_mel_bins
        total += float(log_mel.sum())
        total_of_squares += float(log_mel.square().sum())
    if count == 0:
        raise ValueError("No clips: the corpus is empty.")
    mean = total / count
    return mean, math.sqrt(max(total_of_squares / count - mean**2, 0.0))


def _batches(waveforms: Iterable[np.ndarray | torch.Tensor], batch_size: int) -> Iterator[list[torch.Tensor]]:
    batch = []
    for index, waveform in enumerate(waveforms):
        batch.append(_as_float_waveform(waveform, index))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def find_audio_files(paths: Iterable[str | Path]) -> list[Path]:
    """The given files, and the .wav, .flac and .ogg files under the given directories (recursively), sorted."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(file for file in path.rglob("*") if file.suffix.lower() in AUDIO_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"No such file or directory: {path}")
    return files


def read_mono(path: Path, sampling_rate: int) -> torch.Tensor:
    """Decode an audio file with soundfile, average its channels and resample it to `sampling_rate`."""
    samples, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = torch.from_numpy(samples.mean(axis=1))
    return resample(mono, file_rate, sampling_rate)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="audiomae-normalization-stats",
        description="Mean and std of the Audio-MAE log-mel fbank of an audio corpus, for AudioMAEFeatureExtractor.",
    )
    parser.add_argument("paths", nargs="+", help="audio files, or directories scanned for .wav/.flac/.ogg")
    parser.add_argument("--sampling-rate", type=int, default=16000, help="model sampling rate (default 16000)")
    parser.add_argument("--num-mel-bins", type=int, default=128, help="mel bins (default 128)")
    parser.add_argument(
        "--target-length", type=int, default=1024, help="frames counted per clip, 0 for all (default 1024)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="clips computed together (default 32)")
    parser.add_argument("--device", default="cpu", help="torch device for the fbank (default cpu)")
    args = parser.parse_args(argv)

    files = find_audio_files(args.paths)
    if not files:
        parser.error(f"no .wav, .flac or .ogg files in {' '.join(args.paths)}")

    def waveforms() -> Iterator[torch.Tensor]:
        for path in files:
            waveform = read_mono(path, args.sampling_rate)
            if len(waveform) < args.sampling_rate * 25 // 1000:
                parser.error(f"{path} is shorter than one 25 ms frame")
            yield waveform

    mean, std = compute_normalization_stats(
        waveforms(),
        sampling_rate=args.sampling_rate,
        num_mel_bins=args.num_mel_bins,
        max_frames=args.target_length or None,
        batch_size=args.batch_size,
        device=args.device,
    )
    print(f"files: {len(files)}")
    print(f"mean: {mean:.7g}")
    print(f"std: {std:.7g}")
    print(f"AudioMAEFeatureExtractor(mean={mean:.7g}, std={std:.7g})")


if __name__ == "__main__":
    main()

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

From the command line, on a folder of audio files (scanned recursively for the extensions training reads:
`audiomae_hf.audio_decoding.AUDIO_EXTENSIONS`) or a list of files:

```
audiomae-normalization-stats path/to/corpus
```

Each file is read through the package's decoding path (any rate and channel count, resampled to 16 kHz), and only the
audio the statistics count: the first `--target-length` frames (about 10 s), so an hour-long file costs no more
memory than a ten-second one. A file that cannot be decoded stops the run with an error naming it, or, with
`--skip-bad-audio`, is left out and counted.
"""

import argparse
import math
import sys
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from .audio_decoding import AUDIO_EXTENSIONS, AudioDecodingError, find_audio_files, load_waveform, seconds_for_frames
from .feature_extraction_audiomae import (
    FRAME_LENGTH_MS,
    _as_float_waveform,
    frame_samples,
    log_mel_fbank,
    validate_sampling_rate,
)


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
    sampling_rate = validate_sampling_rate(sampling_rate)
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="audiomae-normalization-stats",
        description="Mean and std of the Audio-MAE log-mel fbank of an audio corpus, for AudioMAEFeatureExtractor.",
    )
    parser.add_argument(
        "paths", nargs="+", help=f"audio files, or directories scanned for {', '.join(AUDIO_EXTENSIONS)}"
    )
    parser.add_argument("--sampling-rate", type=int, default=16000, help="model sampling rate (default 16000)")
    parser.add_argument("--num-mel-bins", type=int, default=128, help="mel bins (default 128)")
    parser.add_argument(
        "--target-length", type=int, default=1024, help="frames counted per clip, 0 for all (default 1024)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="clips computed together (default 32)")
    parser.add_argument("--device", default="cpu", help="torch device for the fbank (default cpu)")
    parser.add_argument(
        "--skip-bad-audio",
        action="store_true",
        help="leave out (and count) files that cannot be decoded or are too short, instead of stopping at the first",
    )
    args = parser.parse_args(argv)
    try:
        validate_sampling_rate(args.sampling_rate, "--sampling-rate")
    except ValueError as error:
        parser.error(str(error))

    files = find_audio_files(args.paths)
    if not files:
        parser.error(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in {' '.join(args.paths)}")
    max_seconds = seconds_for_frames(args.target_length) if args.target_length else None
    min_samples, _ = frame_samples(args.sampling_rate)
    skipped = []

    def waveforms() -> Iterator[np.ndarray]:
        for path in files:
            try:
                waveform = load_waveform(path, args.sampling_rate, max_seconds)
                if len(waveform) < min_samples:
                    raise AudioDecodingError(f"Audio '{path}' is shorter than one {FRAME_LENGTH_MS} ms frame.")
            except AudioDecodingError as error:
                if not args.skip_bad_audio:
                    parser.exit(1, f"{parser.prog}: error: {error} (pass --skip-bad-audio to leave such files out)\n")
                print(f"skipped: {error}", file=sys.stderr)
                skipped.append(path)
                continue
            yield waveform

    try:
        mean, std = compute_normalization_stats(
            waveforms(),
            sampling_rate=args.sampling_rate,
            num_mel_bins=args.num_mel_bins,
            max_frames=args.target_length or None,
            batch_size=args.batch_size,
            device=args.device,
        )
    except ValueError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")
    print(f"files: {len(files) - len(skipped)}")
    if skipped:
        print(f"skipped: {len(skipped)}")
    print(f"mean: {mean:.7g}")
    print(f"std: {std:.7g}")
    print(f"AudioMAEFeatureExtractor(mean={mean:.7g}, std={std:.7g})")


if __name__ == "__main__":
    main()

"""Decoding a clip to the model's input: a mono float32 waveform at 16 kHz.

This is the one decoding path of the package: the training data, the pipeline and the normalisation-statistics CLI
all read audio through `load_waveform`, which

- takes every form a clip comes in: a path (`str` or `pathlib.Path`), bytes, an `Audio(decode=False)` value
  (`{"path", "bytes"}`), a decoded one (`{"array", "sampling_rate"}`, or `"raw"` as transformers' pipelines name
  it), or the `torchcodec` `AudioDecoder` that `datasets` 5 returns for a decoded `Audio` column;
- reads only the window it is asked for (a file is seeked, never decoded whole to use ten seconds of it), so memory
  stays a small multiple of the window whatever the file's length;
- scales integer PCM to [-1, 1), averages channels, and resamples with soxr (the SoX resampler).

Files are decoded with soundfile (WAV, FLAC, OGG/Vorbis, Opus, MP3 with libsndfile >= 1.1), so nothing here needs
FFmpeg, torchcodec or torchaudio. A saved model folder carries a copy of this file for the pipeline it runs as
remote code, so it imports nothing from the package but the feature extractor, which is saved next to it.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile
import soxr

from .feature_extraction_audiomae import as_float_samples, check_sample_values, validate_sampling_rate

SAMPLING_RATE = 16_000

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64")

# Real recordings have a handful of channels and many samples: a 2-D array is read as (channels, samples) or
# (samples, channels) only when exactly one of its axes is this short.
MAX_CHANNELS = 64
# Multi-channel files are read and downmixed in blocks of this many frames, so only the mono window is held whole.
READ_BLOCK_FRAMES = 1 << 16


class AudioDecodingError(ValueError):
    """An audio file or blob that cannot be read as sound; the message names it."""


def describe_audio(audio) -> str:
    """A short name for an audio value in error messages: its path if it has one."""
    if isinstance(audio, (str, os.PathLike)):
        return f"'{os.fspath(audio)}'"
    if isinstance(audio, dict) and audio.get("path"):
        return f"'{audio['path']}'"
    samples = audio.get("array", audio.get("raw")) if isinstance(audio, dict) else None
    if samples is not None:
        return f"<array of shape {tuple(np.shape(samples))}>"
    if isinstance(audio, dict) and audio.get("bytes") is not None:
        return f"<{len(audio['bytes'])} bytes of embedded audio>"
    if isinstance(audio, (bytes, bytearray)):
        return f"<{len(audio)} bytes of audio>"
    return f"<{type(audio).__name__}>"


def load_waveform(
    audio,
    sampling_rate: int = SAMPLING_RATE,
    max_seconds: float | None = None,
    *,
    offset_seconds: float = 0.0,
) -> np.ndarray:
    """
    Decode one clip to a mono float32 waveform at `sampling_rate`: channels are averaged, integer PCM scaled to
    [-1, 1), any other rate resampled with soxr.

    Args:
        audio:
            A path (`str` or `os.PathLike`), `bytes`, an `Audio(decode=False)` value `{"path", "bytes"}`, a decoded
            one `{"array", "sampling_rate"}` (or `{"raw", "sampling_rate"}`; the array 1-D, `(channels, samples)` or
            `(samples, channels)`, float or int16/int32/uint8 PCM), or an `AudioDecoder` (anything with torchcodec's
            `get_samples_played_in_range`).
        sampling_rate (`int`, *optional*, defaults to 16000):
            The rate of the returned waveform.
        max_seconds (`float`, *optional*):
            Read at most this much audio; `None` reads to the end.
        offset_seconds (`float`, *optional*, defaults to 0):
            Where reading starts.

    Only the window `[offset_seconds, offset_seconds + max_seconds)` is read, and cropped before resampling. Raises
    `AudioDecodingError` naming the clip if it cannot be read, the window is empty, or it holds NaN, infinite or
    out-of-range samples.
    """
    sampling_rate = validate_sampling_rate(sampling_rate)
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds!r}.")
    if not offset_seconds >= 0:
        raise ValueError(f"offset_seconds must be zero or positive, got {offset_seconds!r}.")
    name = f"Audio {describe_audio(audio)}"
    try:
        mono, source_rate = _read_mono_window(audio, offset_seconds, max_seconds)
    except AudioDecodingError:
        raise
    except (soundfile.LibsndfileError, RuntimeError, OSError, TypeError, KeyError, ValueError) as error:
        raise AudioDecodingError(f"Could not decode audio {describe_audio(audio)}: {error}") from error
    if mono.size == 0:
        raise AudioDecodingError(
            f"{name} holds no samples" + (f" after {offset_seconds} s." if offset_seconds else ".")
        )
    waveform = resample(mono, source_rate, sampling_rate)
    # Checked after resampling, on the fewer samples: NaN and infinity propagate through the filter, and a peak
    # beyond any audio scale stays beyond it.
    try:
        check_sample_values(waveform, name)
    except ValueError as error:
        raise AudioDecodingError(str(error)) from None
    return waveform


def resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """
    Band-limited resampling of a float32 `waveform` (`(samples,)` or `(samples, channels)`) from `orig_sr` to
    `target_sr` Hz with soxr at its "HQ" setting (the SoX resampler's default quality, which librosa uses as
    "soxr_hq"): `round(samples * target_sr / orig_sr)` samples. Memory is the output plus a small fixed buffer.
    """
    if orig_sr == target_sr:
        return waveform
    return soxr.resample(waveform, orig_sr, target_sr, quality="HQ")


def audio_duration(audio) -> float:
    """
    Seconds of audio in a clip of any form `load_waveform` takes, from its header or metadata, without decoding it:
    what a random crop needs to choose its `offset_seconds`. Raises `AudioDecodingError` naming the clip if it
    cannot be read.
    """
    try:
        if _is_decoded_dict(audio):
            samples, source_rate = _decoded_samples(audio)
            if samples.ndim == 1:
                return len(samples) / source_rate
            if samples.ndim == 2:
                return samples.shape[1 - _channel_axis(samples.shape)] / source_rate
            raise AudioDecodingError(f"an array of shape {samples.shape} is not a clip.")
        if hasattr(audio, "get_samples_played_in_range"):
            return float(audio.metadata.duration_seconds)
        return soundfile.info(_sound_file_source(audio)).duration
    except AudioDecodingError as error:
        raise AudioDecodingError(f"Audio {describe_audio(audio)}: {error}") from None
    except (soundfile.LibsndfileError, RuntimeError, OSError, TypeError, KeyError, ValueError) as error:
        raise AudioDecodingError(f"Could not read audio {describe_audio(audio)}: {error}") from error


def find_audio_files(paths: Iterable[str | Path]) -> list[Path]:
    """The given files, and the audio files (by `AUDIO_EXTENSIONS`) under the given directories, recursively, sorted:
    the one scan of the training scripts' audio folders, the statistics CLI and the embeddings CLI."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(
                sorted(file for file in path.rglob("*") if file.suffix.lower() in AUDIO_EXTENSIONS and file.is_file())
            )
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"No such file or directory: {path}")
    return files


def seconds_for_frames(num_frames: int) -> float:
    """Audio needed for `num_frames` fbank frames (25 ms windows every 10 ms), with a little room for resampling."""
    return (num_frames - 1) * 0.010 + 0.025 + 0.05


def _read_mono_window(audio, offset_seconds: float, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """The window's mono float32 samples and their rate, from any form `load_waveform` takes."""
    if _is_decoded_dict(audio):
        samples, source_rate = _decoded_samples(audio)
        return _array_window_to_mono(samples, source_rate, offset_seconds, max_seconds), source_rate
    if hasattr(audio, "get_samples_played_in_range"):
        return _decoder_window_to_mono(audio, offset_seconds, max_seconds)
    with soundfile.SoundFile(_sound_file_source(audio)) as sound_file:
        return _read_file_window(sound_file, offset_seconds, max_seconds), sound_file.samplerate


def _is_decoded_dict(audio) -> bool:
    return isinstance(audio, dict) and (audio.get("array") is not None or audio.get("raw") is not None)


def _decoded_samples(audio: dict) -> tuple[np.ndarray, int]:
    if "sampling_rate" not in audio:
        raise AudioDecodingError('A decoded audio dict needs a "sampling_rate" next to its "array".')
    source_rate = validate_sampling_rate(audio["sampling_rate"], "The audio dict's sampling_rate")
    return _as_numpy(audio["array"] if audio.get("array") is not None else audio["raw"]), source_rate


def _as_numpy(samples) -> np.ndarray:
    """An array, list or torch tensor (on any device) as a numpy array."""
    if hasattr(samples, "detach"):
        samples = samples.detach().cpu()
    return np.asarray(samples)


def _sound_file_source(audio):
    """What `soundfile.SoundFile` opens for an encoded clip: a path, or the bytes as a file."""
    if isinstance(audio, dict):
        if audio.get("bytes") is not None:
            return io.BytesIO(audio["bytes"])
        if audio.get("path") is not None:
            return audio["path"]
        raise AudioDecodingError(
            'An audio dict needs "array" and "sampling_rate" (decoded) or "path" or "bytes" (undecoded); '
            f"got keys {sorted(audio)}."
        )
    if isinstance(audio, (bytes, bytearray)):
        return io.BytesIO(audio)
    if isinstance(audio, (str, os.PathLike)):
        return audio
    raise AudioDecodingError(
        f"Audio of type {type(audio).__name__} is not a clip: pass a path, bytes, a datasets `Audio` value or "
        'a {"array", "sampling_rate"} dict.'
    )


def _window(rate: int, offset_seconds: float, max_seconds: float | None) -> tuple[int, int | None]:
    """First sample and number of samples (None: to the end) of a window at `rate`."""
    count = None if max_seconds is None else math.ceil(max_seconds * rate)
    return round(offset_seconds * rate), count


def _read_file_window(sound_file: soundfile.SoundFile, offset_seconds: float, max_seconds: float | None) -> np.ndarray:
    start, count = _window(sound_file.samplerate, offset_seconds, max_seconds)
    available = max(sound_file.frames - start, 0)
    count = available if count is None else min(count, available)
    if count == 0:
        return np.zeros(0, np.float32)
    if start:
        sound_file.seek(start)
    # 16-bit PCM (most WAV and FLAC files) read as int16 and scaled here: the same float32 samples, 4x faster than
    # libsndfile's own conversion to float.
    dtype = "int16" if sound_file.subtype == "PCM_16" else "float32"
    if sound_file.channels == 1:
        return as_float_samples(sound_file.read(count, dtype=dtype), describe_audio(sound_file.name))
    mono = np.empty(count, np.float32)
    block = np.empty((min(count, READ_BLOCK_FRAMES), sound_file.channels), dtype)
    position = 0
    while position < count:
        read = as_float_samples(sound_file.read(out=block[: count - position]), describe_audio(sound_file.name))
        if len(read) == 0:  # the header promised more frames than the stream holds
            break
        read.mean(axis=1, dtype=np.float32, out=mono[position : position + len(read)])
        position += len(read)
    return mono[:position]


def _array_window_to_mono(samples, rate: int, offset_seconds: float, max_seconds: float | None) -> np.ndarray:
    if samples.size == 0:
        return np.zeros(0, np.float32)
    start, count = _window(rate, offset_seconds, max_seconds)
    window = slice(start, None if count is None else start + count)
    if samples.ndim == 1:
        return as_float_samples(samples[window], "The audio array").astype(np.float32, copy=False)
    if samples.ndim != 2:
        raise AudioDecodingError(
            f"An audio array of shape {samples.shape} is not a clip: pass (samples,), (channels, samples) or "
            "(samples, channels)."
        )
    channel_axis = _channel_axis(samples.shape)
    samples = samples[:, window] if channel_axis == 0 else samples[window]
    return as_float_samples(samples, "The audio array").mean(axis=channel_axis, dtype=np.float32)


def _channel_axis(shape: tuple[int, int]) -> int:
    """The axis of a 2-D audio array that holds the channels, when its layout is unambiguous."""
    is_channel_axis = [length <= MAX_CHANNELS for length in shape]
    if is_channel_axis == [True, False]:
        return 0
    if is_channel_axis == [False, True]:
        return 1
    raise AudioDecodingError(
        f"An audio array of shape {shape} has no clear channel axis: pass (channels, samples) or (samples, channels) "
        f"with at most {MAX_CHANNELS} channels and more samples than that, or a mono (samples,) array."
    )


def _decoder_window_to_mono(decoder, offset_seconds: float, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """The window of a torchcodec `AudioDecoder` (duck-typed: torchcodec need not be installed)."""
    stop_seconds = None if max_seconds is None else offset_seconds + max_seconds
    samples = decoder.get_samples_played_in_range(start_seconds=offset_seconds, stop_seconds=stop_seconds)
    data = _as_numpy(samples.data)  # (channels, samples), float32
    return data.mean(axis=0, dtype=np.float32), validate_sampling_rate(
        samples.sample_rate, "The decoder's sample_rate"
    )

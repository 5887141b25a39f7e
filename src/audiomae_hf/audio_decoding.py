"""Decoding a clip to the model's input: a mono float32 waveform at 16 kHz.

Audio is decoded with soundfile (WAV, FLAC, OGG/Vorbis, Opus, MP3 with libsndfile >= 1.1), so nothing here needs
FFmpeg, torchcodec or torchaudio. This is the one decoding path of the package: the training data, the pipeline and
the normalisation-statistics CLI all read audio through `load_waveform`.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np
import soundfile
import torch

from .feature_extraction_audiomae import resample

SAMPLING_RATE = 16_000


AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64")


class AudioDecodingError(ValueError):
    """An audio file or blob that cannot be read as sound; the message names it."""


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

"""Test helpers for audio input: a stand-in for torchcodec's AudioDecoder, long audio files written in no time, and the
peak memory of a piece of code measured in a fresh Python process."""

import math
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

PROBE = """
import gc


def _status(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(key))


gc.collect()
with open("/proc/self/clear_refs", "w") as clear_refs:
    clear_refs.write("5")  # resets the peak resident set size (VmHWM) to the current one
_before = _status("VmRSS")
{measured}
print("PEAK_INCREASE", _status("VmHWM") - _before)
"""


def peak_memory_increase(setup: str, measured: str, timeout: float = 300) -> int:
    """
    Bytes by which the resident memory of a fresh interpreter peaks, while it runs `measured`, above its level after
    `setup` (Linux only: the peak is reset through /proc/self/clear_refs, so what `setup` allocated and freed does not
    hide what `measured` allocates).
    """
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak resident memory")
    script = textwrap.dedent(setup) + PROBE.format(measured=textwrap.dedent(measured))
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return int(result.stdout.split("PEAK_INCREASE")[-1])


def write_long_wav(path: Path, seconds: int, sampling_rate: int, channels: int, head: np.ndarray) -> Path:
    """
    A 16-bit PCM WAV of `seconds` whose first frames are `head` (int16, `(frames, channels)`) and the rest silence,
    written as a sparse file: an hour of 48 kHz stereo (691 MB) takes no time and no disk.
    """
    data_bytes = seconds * sampling_rate * channels * 2
    block_align = channels * 2
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        channels,
        sampling_rate,
        sampling_rate * block_align,
        block_align,
        16,
        b"data",
        data_bytes,
    )
    with open(path, "wb") as file:
        file.write(header)
        file.write(head.astype("<i2").tobytes())
        file.truncate(len(header) + data_bytes)
    return path


class FakeAudioDecoder:
    """
    The API of `torchcodec.decoders.AudioDecoder`, which `datasets` 5 returns for a decoded `Audio` column (torchcodec
    and FFmpeg are not installed here): `metadata`, `get_samples_played_in_range` and `get_all_samples` returning
    `AudioSamples` with `data` `(channels, samples)` and `sample_rate`, and the `["array"]` / `["sampling_rate"]`
    access `datasets` adds. Records the ranges asked for; decoding the whole file fails the test.
    """

    def __init__(self, samples: np.ndarray, sample_rate: int):
        self.data = torch.from_numpy(np.atleast_2d(samples.T).copy())  # (channels, samples)
        self.metadata = SimpleNamespace(
            sample_rate=sample_rate, num_channels=len(self.data), duration_seconds=self.data.shape[1] / sample_rate
        )
        self.requested_ranges = []

    def get_samples_played_in_range(self, start_seconds=0.0, stop_seconds=None):
        self.requested_ranges.append((start_seconds, stop_seconds))
        rate = self.metadata.sample_rate
        # The samples played in [start, stop): those whose start time lies in the range.
        stop = None if stop_seconds is None else math.ceil(stop_seconds * rate)
        data = self.data[:, math.ceil(start_seconds * rate) : stop]
        return SimpleNamespace(
            data=data, sample_rate=rate, pts_seconds=start_seconds, duration_seconds=data.shape[1] / rate
        )

    def get_all_samples(self):
        raise AssertionError("decoded the whole file")

    def __getitem__(self, key):
        raise AssertionError(f"decoded the whole file through ['{key}']")

"""Peak memory of a piece of code, measured in a fresh Python process; and long audio files written in no time."""

import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

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

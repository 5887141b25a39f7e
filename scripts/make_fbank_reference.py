"""Write `tests/fixtures/fbank_reference.npz`: the official Audio-MAE log-mel fbank of the test signals, computed by
the real `torchaudio.compliance.kaldi.fbank`.

How the committed fixture was produced (torchaudio cannot be installed next to this project's torch, but its Kaldi
module is pure Python and its fbank path needs nothing from the rest of torchaudio):

    /work/main/.venv/bin/pip download --no-deps torchaudio==2.11.0 -d /tmp/ta
    cd /tmp/ta && unzip -q torchaudio-2.11.0-cp311-cp311-manylinux_2_28_x86_64.whl -d unpacked
    .venv/bin/python scripts/make_fbank_reference.py --torchaudio-dir /tmp/ta/unpacked

with torch 2.13.0 (CPU). For every signal of `tests/fixtures/fbank_signals.py` it runs the official preprocessing
(Audio-MAE `dataset.py`, `_wav2fbank`: subtract the waveform mean, then Kaldi fbank with `htk_compat=True,
use_energy=False, window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10`) twice: in float64 (the
reference) and in float32 (what the official code runs). It stores, per signal:

- `<name>/reference`: the float64 log-mel, [frames, 128], frames cropped to 1024 as Audio-MAE crops;
- `<name>/float32_error`: max |float32 log-mel - float64 log-mel|, torchaudio's own float32 rounding error, from
  which the tests derive their tolerance;
- `<name>/checksum`: (sum, sum of squares) of the float32 waveform, so the tests notice if the regenerated signals
  ever drift from the ones the reference was computed on.
"""

import argparse
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import torch

REPOSITORY = Path(__file__).resolve().parent.parent
TARGET_LENGTH = 1024
OFFICIAL_FBANK_OPTIONS = {
    "htk_compat": True,
    "sample_frequency": 16000,
    "use_energy": False,
    "window_type": "hanning",
    "num_mel_bins": 128,
    "dither": 0.0,
    "frame_shift": 10,
}


def load_module(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_torchaudio_kaldi(torchaudio_dir: Path) -> types.ModuleType:
    # kaldi.py does `import torchaudio` only for `torchaudio.functional.create_dct`, which `mfcc` uses and `fbank`
    # does not: an empty module stands in for the compiled package that does not match this torch.
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    return load_module("torchaudio_compliance_kaldi", torchaudio_dir / "torchaudio" / "compliance" / "kaldi.py")


def official_log_mel(kaldi: types.ModuleType, waveform: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    waveform = torch.from_numpy(waveform).to(dtype).unsqueeze(0)
    waveform = waveform - waveform.mean()
    return kaldi.fbank(waveform, **OFFICIAL_FBANK_OPTIONS)[:TARGET_LENGTH]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torchaudio-dir", type=Path, required=True, help="unpacked torchaudio wheel")
    parser.add_argument("--output", type=Path, default=REPOSITORY / "tests" / "fixtures" / "fbank_reference.npz")
    args = parser.parse_args(argv)

    kaldi = load_torchaudio_kaldi(args.torchaudio_dir)
    signals = load_module("fbank_signals", REPOSITORY / "tests" / "fixtures" / "fbank_signals.py")
    arrays = {}
    for name, waveform in signals.make_test_signals().items():
        reference = official_log_mel(kaldi, waveform, torch.float64)
        float32_error = (official_log_mel(kaldi, waveform, torch.float32).double() - reference).abs().max()
        waveform64 = waveform.astype(np.float64)
        arrays[f"{name}/reference"] = reference.numpy()
        arrays[f"{name}/float32_error"] = np.float64(float32_error)
        arrays[f"{name}/checksum"] = np.array([waveform64.sum(), (waveform64**2).sum()])
        print(f"{name:>20}: {reference.shape[0]:5d} frames, torchaudio float32 error {float32_error:.2e}")
    np.savez_compressed(args.output, **arrays)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

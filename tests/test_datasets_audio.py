"""
`datasets` `Audio` columns, as docs/install.md describes them: decoded by `datasets` itself where the `[audio]` extra
can load FFmpeg, and by the package through `Audio(decode=False)` everywhere.
"""

import io

import datasets
import numpy as np
import pytest
import soundfile

from audiomae_hf.audio_decoding import load_waveform


def torchcodec_loads_ffmpeg() -> bool:
    try:
        from torchcodec.decoders import AudioDecoder  # noqa: F401
    except ImportError:
        return False
    except RuntimeError:  # "Could not load libtorchcodec": torchcodec is installed, FFmpeg's libraries are not
        return False
    return True


def tone(seconds: float, rate: int) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


@pytest.mark.skipif(not torchcodec_loads_ffmpeg(), reason="needs the [audio] extra and FFmpeg's shared libraries")
def test_audiofolder_audio_column_decodes_at_16_khz_with_the_audio_extra(tmp_path):
    for label, audio_format, rate in (("dog", "WAV", 44_100), ("siren", "FLAC", 48_000)):
        (tmp_path / label).mkdir()
        soundfile.write(tmp_path / label / f"clip.{audio_format.lower()}", tone(1.0, rate), rate, format=audio_format)
    dataset = datasets.load_dataset("audiofolder", data_dir=str(tmp_path), split="train")
    dataset = dataset.cast_column("audio", datasets.Audio(sampling_rate=16_000))
    assert dataset.features["label"].names == ["dog", "siren"]
    for row in dataset:
        samples = row["audio"].get_all_samples()
        assert samples.sample_rate == 16_000
        assert samples.data.shape == (1, 16_000)


def test_undecoded_audio_column_decodes_with_load_waveform_without_torchcodec():
    flac = io.BytesIO()
    soundfile.write(flac, tone(1.0, 48_000), 48_000, format="FLAC")
    # A table with an `Audio` column as a Hub parquet file holds it: bytes and path per row.
    dataset = datasets.Dataset.from_dict({"audio": [{"bytes": flac.getvalue(), "path": "clip.flac"}]})
    dataset = dataset.cast_column("audio", datasets.Audio(decode=False))
    waveform = load_waveform(dataset[0]["audio"], 16_000)
    assert waveform.shape == (16_000,)
    assert waveform.dtype == np.float32

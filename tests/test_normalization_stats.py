"""Normalisation statistics of a corpus: `compute_normalization_stats` and the `audiomae-normalization-stats` CLI."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from audiomae_hf.audio_decoding import AUDIO_EXTENSIONS, resample
from audiomae_hf.feature_extraction_audiomae import log_mel_fbank
from audiomae_hf.normalization_stats import compute_normalization_stats, find_audio_files, main


def corpus(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = [400, 3000, 16000, 7777, 170_000]
    return [(rng.uniform(0.01, 0.5) * rng.standard_normal(length)).astype(np.float32) for length in lengths]


def direct_stats(clips, max_frames=1024) -> tuple[float, float]:
    values = np.concatenate(
        [
            log_mel_fbank(torch.from_numpy(clip)[None], max_frames=max_frames)[0][0].double().numpy().ravel()
            for clip in clips
        ]
    )
    return values.mean(), values.std()


def test_stats_are_mean_and_std_of_every_unpadded_log_mel_value():
    clips = corpus()
    np.testing.assert_allclose(compute_normalization_stats(clips, batch_size=3), direct_stats(clips), rtol=1e-6)


def test_stats_do_not_depend_on_batching():
    clips = corpus()
    np.testing.assert_allclose(
        compute_normalization_stats(clips, batch_size=1), compute_normalization_stats(clips, batch_size=5), rtol=1e-9
    )


def test_frames_past_max_frames_are_not_counted():
    clips = corpus()
    np.testing.assert_allclose(
        compute_normalization_stats(clips, max_frames=None), direct_stats(clips, max_frames=None), rtol=1e-6
    )
    assert compute_normalization_stats(clips, max_frames=None) != compute_normalization_stats(clips)


def test_stats_stream_from_a_generator():
    clips = corpus()
    assert compute_normalization_stats(clip for clip in clips) == compute_normalization_stats(clips)


def test_empty_corpus_raises():
    with pytest.raises(ValueError, match="empty"):
        compute_normalization_stats([])


def test_find_audio_files_scans_directories_recursively_for_the_extensions_training_reads(tmp_path):
    (tmp_path / "nested").mkdir()
    for name in ["a.wav", "nested/b.FLAC", "nested/c.ogg", "notes.txt", "nested/d.mp3", "nested/e.opus", "f.csv"]:
        (tmp_path / name).touch()
    found = [path.name for path in find_audio_files([tmp_path])]
    assert found == ["a.wav", "b.FLAC", "c.ogg", "d.mp3", "e.opus"]
    assert all(Path(name).suffix.lower() in AUDIO_EXTENSIONS for name in found)


def test_cli_prints_the_stats_of_a_folder_of_audio_files_and_the_extractor_line(tmp_path, capsys):
    clips = corpus()
    (tmp_path / "speaker").mkdir()
    soundfile.write(tmp_path / "mono.wav", clips[2], 16000, subtype="FLOAT")
    soundfile.write(tmp_path / "speaker" / "pcm16.flac", clips[3], 16000, subtype="PCM_16")
    stereo_44k = np.stack([clips[4][:44100], 0.5 * clips[4][:44100]], axis=1)
    soundfile.write(tmp_path / "speaker" / "stereo_44k.wav", stereo_44k, 44100, subtype="FLOAT")

    main([str(tmp_path)])

    decoded = [
        clips[2],
        soundfile.read(tmp_path / "speaker" / "pcm16.flac", dtype="float32")[0],
        resample(stereo_44k.mean(axis=1, dtype=np.float32), 44100, 16000),
    ]
    mean, std = compute_normalization_stats(decoded)
    printed = capsys.readouterr().out
    assert "files: 3" in printed
    assert f"AudioMAEFeatureExtractor(mean={mean:.7g}, std={std:.7g})" in printed


def test_cli_takes_a_list_of_files(tmp_path, capsys):
    clips = corpus()
    for index in (1, 2):
        soundfile.write(tmp_path / f"{index}.wav", clips[index], 16000, subtype="FLOAT")
    main([str(tmp_path / "1.wav"), str(tmp_path / "2.wav")])
    mean, std = compute_normalization_stats(clips[1:3])
    assert f"mean: {mean:.7g}" in capsys.readouterr().out

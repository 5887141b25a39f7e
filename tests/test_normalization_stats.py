"""Normalisation statistics of a corpus: `compute_normalization_stats` and the `audiomae-normalization-stats` CLI."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from audio_test_helpers import peak_memory_increase, write_long_wav

from audiomae_hf.audio_decoding import AUDIO_EXTENSIONS, find_audio_files, load_waveform, resample
from audiomae_hf.feature_extraction_audiomae import log_mel_fbank
from audiomae_hf.normalization_stats import compute_normalization_stats, main


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


@pytest.mark.parametrize("bad_rate", [0, -16000])
def test_a_bad_sampling_rate_is_an_error_naming_it(bad_rate, tmp_path, capsys):
    with pytest.raises(ValueError, match="^sampling_rate must be a positive whole number"):
        compute_normalization_stats(corpus(), sampling_rate=bad_rate)
    soundfile.write(tmp_path / "clip.wav", corpus()[2], 16000)
    with pytest.raises(SystemExit):
        main([str(tmp_path), f"--sampling-rate={bad_rate}"])
    assert "--sampling-rate must be a positive whole number" in capsys.readouterr().err


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


def test_cli_counts_mp3_and_opus_files_as_training_does(tmp_path, capsys):
    clips = corpus()
    soundfile.write(tmp_path / "a.mp3", clips[2], 16000, format="MP3")
    soundfile.write(tmp_path / "b.opus", clips[4][:48000], 48000, format="OGG", subtype="OPUS")
    main([str(tmp_path)])
    decoded = [load_waveform(tmp_path / "a.mp3", max_seconds=10.305), load_waveform(tmp_path / "b.opus")]
    mean, std = compute_normalization_stats(decoded)
    printed = capsys.readouterr().out
    assert "files: 2" in printed
    assert f"AudioMAEFeatureExtractor(mean={mean:.7g}, std={std:.7g})" in printed


@pytest.fixture
def corpus_with_a_nan_file(tmp_path):
    clips = corpus()
    for index in (1, 2):
        soundfile.write(tmp_path / f"{index}.wav", clips[index], 16000, subtype="FLOAT")
    broken = clips[3].copy()
    broken[500] = np.nan
    soundfile.write(tmp_path / "broken.wav", broken, 16000, subtype="FLOAT")
    return tmp_path, clips[1:3]


def test_cli_stops_at_a_bad_file_with_an_error_naming_it_not_a_traceback(corpus_with_a_nan_file, capsys):
    folder, _ = corpus_with_a_nan_file
    with pytest.raises(SystemExit) as exit_info:
        main([str(folder)])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert f"'{folder / 'broken.wav'}' contains NaN or infinite samples" in error
    assert "--skip-bad-audio" in error and "Traceback" not in error


def test_cli_skip_bad_audio_leaves_bad_files_out_and_counts_them(corpus_with_a_nan_file, capsys):
    folder, good_clips = corpus_with_a_nan_file
    (folder / "corrupt.flac").write_bytes(b"fLaC not really")
    soundfile.write(folder / "too_short.wav", np.zeros(100, np.float32), 16000)
    main([str(folder), "--skip-bad-audio"])
    mean, std = compute_normalization_stats(good_clips)
    captured = capsys.readouterr()
    assert "files: 2" in captured.out and "skipped: 3" in captured.out
    assert f"mean: {mean:.7g}" in captured.out
    assert "corrupt.flac" in captured.err and "broken.wav" in captured.err and "too_short.wav" in captured.err


def test_cli_with_every_file_bad_says_so(tmp_path, capsys):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF nothing")
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--skip-bad-audio"])
    assert "No clips" in capsys.readouterr().err


def test_cli_on_an_hour_long_48khz_stereo_file_costs_only_the_counted_window(tmp_path):
    """Issue 9: a 20 min file took 7.9 GB. The CLI reads the `--target-length` frames it counts (10.3 s). Measured
    peak growth on a 1 h 48 kHz stereo WAV, after an 11 s one: 10.4 MB, mostly the fbank's working memory for 1024
    frames; the decoded window (10.3 s of 48 kHz stereo float32) is 4 MB. Bound: 16 MB + 4 x that window."""
    head = np.resize(corpus()[4], (48000 * 11, 1)) * np.array([3e4, 2e4])
    hour = write_long_wav(tmp_path / "hour.wav", 3600, 48000, 2, head)
    eleven_seconds = tmp_path / "eleven_seconds.wav"
    soundfile.write(eleven_seconds, head.astype(np.int16), 48000)
    increase = peak_memory_increase(
        f"from audiomae_hf.normalization_stats import main\nmain([{str(eleven_seconds)!r}])",
        f"main([{str(hour)!r}])",
    )
    assert increase < 16e6 + 4 * (10.3 * 48000 * 2 * 4)

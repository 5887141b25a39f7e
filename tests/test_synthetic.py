import csv
import hashlib

import numpy as np
import pytest
import soundfile

from audiomae_hf.synthetic import (
    EVENT_GENERATORS,
    SAMPLING_RATE,
    SOUND_EVENT_CLASSES,
    synthesize_clip,
    write_audioset_standin,
    write_esc50_standin,
    write_sound_event_corpus,
    write_sound_event_split,
    write_speech_commands_standin,
    write_voxceleb1_standin,
)


def _digests(directory):
    return {
        path.relative_to(directory): hashlib.sha256(path.read_bytes()).hexdigest() for path in directory.rglob("*.wav")
    }


def _dominant_frequency(signal):
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return np.fft.rfftfreq(len(signal), 1 / SAMPLING_RATE)[np.argmax(spectrum)]


def test_a_clip_has_the_requested_duration_and_stays_below_full_scale():
    for label in SOUND_EVENT_CLASSES:
        clip = synthesize_clip(label, np.random.default_rng(0), duration_s=1.5)
        assert clip.shape == (round(1.5 * SAMPLING_RATE),)
        assert clip.dtype == np.float32
        assert 0.05 < np.abs(clip).max() < 1.0


def test_an_unknown_class_is_rejected_naming_the_known_ones():
    with pytest.raises(ValueError, match="chirp_up"):
        synthesize_clip("birdsong", np.random.default_rng(0))


def test_the_event_stands_out_of_the_background_noise():
    clip = synthesize_clip("pure_tone", np.random.default_rng(3))
    frame_energy = (clip[: len(clip) // 160 * 160].reshape(-1, 160) ** 2).mean(axis=1)
    # Some frames hold only background, others the event on top of it at a positive signal-to-noise ratio.
    assert frame_energy.max() > 2 * np.median(np.sort(frame_energy)[: len(frame_energy) // 5])


def test_a_pure_tone_concentrates_its_energy_at_one_frequency():
    tone = EVENT_GENERATORS["pure_tone"](SAMPLING_RATE, SAMPLING_RATE, np.random.default_rng(0))
    power = np.abs(np.fft.rfft(tone * np.hanning(len(tone)))) ** 2
    peak = np.argmax(power)
    assert power[peak - 3 : peak + 4].sum() > 0.95 * power.sum()


def test_an_up_chirp_rises_and_a_down_chirp_falls():
    for seed in range(5):
        rising = EVENT_GENERATORS["chirp_up"](SAMPLING_RATE, SAMPLING_RATE, np.random.default_rng(seed))
        falling = EVENT_GENERATORS["chirp_down"](SAMPLING_RATE, SAMPLING_RATE, np.random.default_rng(seed))
        quarter = SAMPLING_RATE // 4
        assert _dominant_frequency(rising[-quarter:]) > 1.5 * _dominant_frequency(rising[:quarter])
        assert _dominant_frequency(falling[:quarter]) > 1.5 * _dominant_frequency(falling[-quarter:])


def test_a_harmonic_stack_has_its_overtones_at_multiples_of_the_fundamental():
    stack = EVENT_GENERATORS["harmonic_stack"](SAMPLING_RATE, SAMPLING_RATE, np.random.default_rng(0))
    spectrum = np.abs(np.fft.rfft(stack))
    fundamental = np.argmax(spectrum)  # 1 Hz bins: a one-second signal
    assert spectrum[2 * fundamental] > 0.1 * spectrum[fundamental]
    assert spectrum[int(1.5 * fundamental)] < 0.01 * spectrum[fundamental]


def test_a_click_train_is_silent_between_its_clicks():
    clicks = EVENT_GENERATORS["click_train"](SAMPLING_RATE, SAMPLING_RATE, np.random.default_rng(0))
    assert np.mean(clicks == 0) > 0.5


def test_the_same_seed_writes_byte_identical_files(tmp_path):
    write_sound_event_split(tmp_path / "first", clips_per_class=2, seed=7, classes=("pure_tone", "chirp_up"))
    write_sound_event_split(tmp_path / "second", clips_per_class=2, seed=7, classes=("pure_tone", "chirp_up"))
    assert _digests(tmp_path / "first") == _digests(tmp_path / "second")


def test_another_seed_writes_other_clips(tmp_path):
    write_sound_event_split(tmp_path / "first", clips_per_class=1, seed=7, classes=("pure_tone",))
    write_sound_event_split(tmp_path / "second", clips_per_class=1, seed=8, classes=("pure_tone",))
    assert _digests(tmp_path / "first") != _digests(tmp_path / "second")


def test_a_clip_does_not_depend_on_which_other_classes_are_written(tmp_path):
    write_sound_event_split(tmp_path / "one", clips_per_class=1, seed=7, classes=("noise_burst",))
    write_sound_event_split(tmp_path / "all", clips_per_class=1, seed=7)
    relative = "noise_burst/noise_burst_0000.wav"
    assert (tmp_path / "one" / relative).read_bytes() == (tmp_path / "all" / relative).read_bytes()


def test_a_corpus_has_one_audiofolder_per_split_with_one_folder_per_class(tmp_path):
    splits = write_sound_event_corpus(tmp_path, clips_per_class={"train": 2, "eval": 1}, seed=0)
    assert splits == {"train": tmp_path / "train", "eval": tmp_path / "eval"}
    for split, count in (("train", 2), ("eval", 1)):
        assert sorted(path.name for path in (tmp_path / split).iterdir()) == sorted(SOUND_EVENT_CLASSES)
        for label in SOUND_EVENT_CLASSES:
            files = sorted((tmp_path / split / label).glob("*.wav"))
            assert len(files) == count
            info = soundfile.info(files[0])
            assert (info.samplerate, info.channels, info.subtype) == (SAMPLING_RATE, 1, "PCM_16")


def test_no_clip_appears_in_two_splits(tmp_path):
    write_sound_event_corpus(tmp_path, clips_per_class={"pretrain": 3, "train": 3, "eval": 3}, seed=0)
    digests = [set(_digests(tmp_path / split).values()) for split in ("pretrain", "train", "eval")]
    assert sum(map(len, digests)) == len(set.union(*digests)) == 3 * 3 * len(SOUND_EVENT_CLASSES)


# Stand-ins of the downstream corpora


def _shape(path):
    info = soundfile.info(path)
    return info.samplerate, info.channels, info.duration


def test_the_esc50_standin_has_five_second_44_khz_clips_and_a_metadata_row_per_clip(tmp_path):
    root = write_esc50_standin(tmp_path, categories=("dog", "rain"), clips_per_fold=1)
    with open(root / "meta" / "esc50.csv", newline="") as table:
        rows = list(csv.DictReader(table))
    assert list(rows[0]) == ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
    assert sorted((row["fold"], row["category"]) for row in rows) == sorted(
        (str(fold), category) for fold in range(1, 6) for category in ("dog", "rain")
    )
    for row in rows:
        assert row["filename"].startswith(f"{row['fold']}-") and row["filename"].endswith(f"-{row['target']}.wav")
        assert _shape(root / "audio" / row["filename"]) == (44_100, 1, 5.0)


def test_the_speech_commands_standin_lists_its_validation_and_test_clips(tmp_path):
    root = write_speech_commands_standin(tmp_path, ("yes", "no"), {"train": 2, "validation": 1, "test": 1})
    validation = (root / "validation_list.txt").read_text().split()
    testing = (root / "testing_list.txt").read_text().split()
    assert len(validation) == len(testing) == 2 and not set(validation) & set(testing)
    clips = sorted(path.relative_to(root).as_posix() for path in root.glob("[!_]*/*.wav"))
    assert len(clips) == 8 and set(validation) | set(testing) < set(clips)
    assert all(_shape(root / clip) == (16_000, 1, 1.0) for clip in clips)
    assert all("_nohash_" in clip for clip in clips)
    assert sorted(path.name for path in (root / "_background_noise_").glob("*.wav"))


def test_the_audioset_standin_is_a_segments_csv_of_label_ids_and_ten_second_clips(tmp_path):
    segments = write_audioset_standin(tmp_path, label_ids=("/m/09x0r", "/m/04rlf"), num_clips=4)
    lines = segments.read_text().splitlines()
    assert [line for line in lines if line.startswith("#")][
        -1
    ] == "# YTID, start_seconds, end_seconds, positive_labels"
    rows = list(csv.reader((line for line in lines if not line.startswith("#")), skipinitialspace=True))
    assert len(rows) == 5 and {len(row[3].split(",")) for row in rows} == {1, 2}
    assert {mid for row in rows for mid in row[3].split(",")} == {"/m/09x0r", "/m/04rlf"}
    clips = sorted((tmp_path / "audio").iterdir())
    assert [clip.stem for clip in clips] == sorted(f"Y{row[0]}" for row in rows[:4])  # the fifth is not downloaded
    assert all(_shape(clip) == (16_000, 1, 10.0) for clip in clips)


def test_the_voxceleb1_standin_splits_each_speakers_utterances_in_iden_split(tmp_path):
    root = write_voxceleb1_standin(tmp_path, num_speakers=2, utterances_per_split={"1": 2, "2": 1, "3": 1})
    lines = [line.split() for line in (root / "iden_split.txt").read_text().splitlines()]
    assert sorted(split for split, _ in lines) == ["1"] * 4 + ["2"] * 2 + ["3"] * 2
    for _, relative in lines:
        speaker, _video, name = relative.split("/")
        assert speaker in ("id10001", "id10002") and name.endswith(".wav")
        samplerate, channels, duration = _shape(root / "wav" / relative)
        assert (samplerate, channels) == (16_000, 1) and 4.0 <= duration <= 8.0


def test_a_standin_is_the_same_for_the_same_seed(tmp_path):
    write_voxceleb1_standin(tmp_path / "first", num_speakers=1, seed=3)
    write_voxceleb1_standin(tmp_path / "second", num_speakers=1, seed=3)
    assert _digests(tmp_path / "first") == _digests(tmp_path / "second")

"""Specification of audio loading, labels, bad-input handling, batching and spectrogram augmentation."""

import csv
import json
import math
import tempfile
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile
import torch
from audio_test_helpers import peak_memory_increase, write_long_wav
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiomae_hf import AudioMAEFeatureExtractor
from audiomae_hf.audio_decoding import AudioDecodingError, load_waveform
from audiomae_hf.augmentation import (
    TrainingAugmentation,
    noise_and_shift,
    normalised_units,
    roll_and_gain,
    scaled_mask_width,
    spec_augment,
)
from audiomae_hf.batching import AudioCollator, DecodeAudio, split_decoder
from audiomae_hf.data_sources import (
    MAX_STREAM_SHARDS,
    as_stream,
    audio_folder_dataset,
    check_audio_files,
    load_split,
    load_training_split,
    manifest_dataset,
    padded_to_multiple,
    stream_shards,
)
from audiomae_hf.labels import LabelSpace, build_label_space, check_labels, class_balanced_weights, read_label_names
from audiomae_hf.training_arguments import AudioDataArguments


def write_tone(path, frequency=440.0, seconds=1.0, sampling_rate=16_000, channels=1):
    path.parent.mkdir(parents=True, exist_ok=True)
    time = np.arange(int(seconds * sampling_rate)) / sampling_rate
    tone = 0.5 * np.sin(2 * np.pi * frequency * time).astype(np.float32)
    soundfile.write(path, np.stack([tone] * channels, axis=1) if channels > 1 else tone, sampling_rate)
    return path


@pytest.fixture
def folder(tmp_path):
    for label, frequency in (("low", 300.0), ("high", 3000.0)):
        for index in range(2):
            write_tone(tmp_path / "train" / label / f"{index}.wav", frequency)
    return tmp_path / "train"


# Decoding


def test_load_waveform_downmixes_channels_by_their_mean(tmp_path):
    path = tmp_path / "stereo.wav"
    left = np.full(1600, 0.5, dtype=np.float32)
    soundfile.write(path, np.stack([left, -0.25 * np.ones_like(left)], axis=1), 16_000)
    np.testing.assert_allclose(load_waveform(str(path)), 0.125, atol=1e-4)


@pytest.mark.parametrize("sampling_rate", [8_000, 22_050, 44_100])
def test_load_waveform_resamples_any_rate_to_16_khz(tmp_path, sampling_rate):
    path = write_tone(tmp_path / "clip.wav", seconds=1.0, sampling_rate=sampling_rate)
    waveform = load_waveform(str(path))
    assert waveform.dtype == np.float32
    assert len(waveform) == 16_000
    spectrum = np.abs(np.fft.rfft(waveform))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 Hz bins over one second


def test_load_waveform_reads_only_max_seconds(tmp_path):
    path = write_tone(tmp_path / "long.wav", seconds=3.0)
    assert len(load_waveform(str(path), max_seconds=1.0)) == 16_000


def test_load_waveform_decodes_embedded_bytes(tmp_path):
    path = write_tone(tmp_path / "clip.wav", seconds=0.5)
    waveform = load_waveform({"path": "clip.wav", "bytes": path.read_bytes()})
    np.testing.assert_allclose(waveform, load_waveform(str(path)))


def test_load_waveform_names_a_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00 this is not audio")
    with pytest.raises(AudioDecodingError, match="corrupt.wav"):
        load_waveform(str(path))


def test_load_waveform_rejects_an_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(AudioDecodingError, match="empty.wav.*no samples"):
        load_waveform(str(path))


# Loading splits


def test_audio_folder_takes_each_label_from_the_clip_folder(folder):
    dataset = audio_folder_dataset(folder)
    assert sorted(zip(dataset["label"], [p.split("/")[-1] for p in dataset["audio"]], strict=True)) == [
        ("high", "0.wav"),
        ("high", "1.wav"),
        ("low", "0.wav"),
        ("low", "1.wav"),
    ]


def test_audio_folder_without_audio_is_an_error(tmp_path):
    (tmp_path / "empty" / "label").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no audio files"):
        audio_folder_dataset(tmp_path / "empty")


def test_audio_folder_clip_outside_a_label_folder_is_an_error(folder):
    write_tone(folder / "stray.wav")
    with pytest.raises(ValueError, match="stray.wav"):
        audio_folder_dataset(folder)


def test_audio_folder_without_labels_takes_every_clip(folder):
    write_tone(folder / "stray.wav")
    assert len(audio_folder_dataset(folder, with_labels=False)) == 5


def test_manifest_paths_are_relative_to_the_manifest(tmp_path):
    write_tone(tmp_path / "clips" / "a.wav")
    (tmp_path / "train.csv").write_text("audio,label\nclips/a.wav,dog\n")
    dataset = manifest_dataset(tmp_path / "train.csv", "audio")
    assert dataset[0]["audio"] == str(tmp_path / "clips" / "a.wav")


def test_manifest_without_the_audio_column_names_the_columns(tmp_path):
    (tmp_path / "train.csv").write_text("file,label\na.wav,dog\n")
    with pytest.raises(ValueError, match=r"no audio column 'audio'.*\['file', 'label'\]"):
        manifest_dataset(tmp_path / "train.csv", "audio")


def test_manifest_with_no_rows_is_an_empty_split_error(tmp_path):
    (tmp_path / "train.jsonl").write_text("")
    with pytest.raises(ValueError):
        manifest_dataset(tmp_path / "train.jsonl", "audio")


def test_saved_dataset_with_an_audio_feature_is_read_undecoded(folder, tmp_path):
    dataset = audio_folder_dataset(folder).cast_column("audio", datasets.Audio())
    datasets.DatasetDict({"train": dataset}).save_to_disk(tmp_path / "saved")
    loaded = load_split(dataset_name=str(tmp_path / "saved"), split="train")
    assert loaded.features["audio"].decode is False
    assert len(load_waveform(loaded[0]["audio"])) == 16_000


def test_saved_dataset_without_the_requested_split_names_its_splits(folder, tmp_path):
    datasets.DatasetDict({"train": audio_folder_dataset(folder)}).save_to_disk(tmp_path / "saved")
    with pytest.raises(ValueError, match=r"no split 'validation'.*\['train'\]"):
        load_split(dataset_name=str(tmp_path / "saved"), split="validation")


def test_a_local_split_streams_every_clip_once_shuffled(folder):
    dataset = load_training_split(AudioDataArguments(train_dir=str(folder), streaming=True), "train", True)
    stream = as_stream(dataset, shuffle_seed=0, shuffle_buffer_size=10)
    assert isinstance(stream, datasets.IterableDataset)
    assert sorted(example["audio"] for example in stream) == sorted(dataset["audio"])


@pytest.mark.parametrize("num_clips, readers", [(70, 4), (1_500, 4), (100_000, 3), (2_000_000, 64), (3, 4)])
def test_a_local_stream_is_cut_into_as_many_shards_per_reader_with_little_padding(num_clips, readers):
    shards = stream_shards(num_clips, readers)
    clips_per_shard = math.ceil(num_clips / shards)
    assert shards % readers == 0
    assert shards <= MAX_STREAM_SHARDS + readers
    assert shards * clips_per_shard - num_clips < readers * clips_per_shard  # the padding to equal shards


def test_padding_to_equal_shards_repeats_rows_spread_over_the_split():
    dataset = datasets.Dataset.from_dict({"audio": [f"{index}.wav" for index in range(70)]})
    padded = padded_to_multiple(dataset, stream_shards(70, 4))
    assert list(padded["audio"]) == [*dataset["audio"], "0.wav", "35.wav"]
    assert padded_to_multiple(padded, 72) is padded


def test_a_streamed_local_split_keeps_every_dataloader_worker_busy():
    """Measured before: streamed as one shard, so datasets stopped the second worker ("Too many dataloader workers")."""
    dataset = datasets.Dataset.from_dict({"audio": [f"{index}.wav" for index in range(20)]})
    stream = as_stream(dataset, shuffle_seed=0, shuffle_buffer_size=4, readers=2)

    def tag_with_worker(example):
        return {"worker": torch.utils.data.get_worker_info().id}

    loader = torch.utils.data.DataLoader(stream.map(tag_with_worker), batch_size=5, num_workers=2)
    rows = [
        (worker, clip)
        for batch in loader
        for worker, clip in zip(batch["worker"].tolist(), batch["audio"], strict=True)
    ]
    assert {worker for worker, _ in rows} == {0, 1}
    assert sorted(clip for _, clip in rows) == sorted(dataset["audio"])


def test_a_split_without_a_source_is_an_error():
    with pytest.raises(ValueError, match="No eval data"):
        load_training_split(AudioDataArguments(train_dir="somewhere"), "eval", with_labels=True)


# Missing and unreadable files


def test_missing_files_are_named_before_training(tmp_path):
    dataset = datasets.Dataset.from_dict({"audio": [str(tmp_path / "gone.wav")], "label": ["dog"]})
    with pytest.raises(ValueError, match="gone.wav.*--skip_bad_audio"):
        check_audio_files(dataset, "audio", "train")


def test_skip_bad_audio_drops_missing_and_unreadable_files(folder, tmp_path):
    (tmp_path / "corrupt.wav").write_bytes(b"not audio at all")
    paths = [str(p) for p in sorted(folder.rglob("*.wav"))] + [
        str(tmp_path / "gone.wav"),
        str(tmp_path / "corrupt.wav"),
    ]
    dataset = datasets.Dataset.from_dict({"audio": paths})
    assert check_audio_files(dataset, "audio", "train", skip_bad_audio=True)["audio"] == paths[:4]


def test_decoding_a_corrupt_clip_names_it_and_the_way_out(tmp_path):
    (tmp_path / "corrupt.wav").write_bytes(b"not audio at all")
    decode = DecodeAudio("audio", "train")
    with pytest.raises(AudioDecodingError, match="corrupt.wav.*train split.*--skip_bad_audio"):
        decode({"audio": [str(tmp_path / "corrupt.wav")]})


def test_skipped_clips_are_counted_and_dropped_from_the_batch(folder, tmp_path):
    (tmp_path / "corrupt.wav").write_bytes(b"not audio at all")
    decode = DecodeAudio("audio", "train", skip_bad_audio=True)
    examples = decode({"audio": [str(folder / "low" / "0.wav"), str(tmp_path / "corrupt.wav")]})
    assert examples["waveform"][1] is None
    batch = AudioCollator(AudioMAEFeatureExtractor(feature_size=32, num_mel_bins=32, target_length=64))(
        [{"waveform": waveform} for waveform in examples["waveform"]]
    )
    assert batch["input_values"].shape == (1, 64, 32) and batch["skipped_clips"] == 1


def test_a_batch_of_only_undecodable_clips_is_an_error():
    collator = AudioCollator(AudioMAEFeatureExtractor())
    with pytest.raises(ValueError, match="None of the 2 clips"):
        collator([{"waveform": None}, {"waveform": None}])


# Labels


def test_single_label_space_is_the_sorted_training_labels(folder):
    label_space = build_label_space(audio_folder_dataset(folder), "label", "audio")
    assert label_space == LabelSpace(["high", "low"], multi_label=False)


def test_semicolon_separated_labels_make_a_multi_label_task(tmp_path):
    write_tone(tmp_path / "a.wav")
    write_tone(tmp_path / "b.wav")
    (tmp_path / "train.csv").write_text("audio,label\na.wav,dog;cat\nb.wav,cat\n")
    label_space = build_label_space(manifest_dataset(tmp_path / "train.csv", "audio"), "label", "audio")
    assert label_space == LabelSpace(["cat", "dog"], multi_label=True)
    np.testing.assert_array_equal(label_space.encode(["dog", "cat"], "row"), [1.0, 1.0])


def test_json_label_lists_make_a_multi_label_task(tmp_path):
    write_tone(tmp_path / "a.wav")
    (tmp_path / "train.jsonl").write_text(json.dumps({"audio": "a.wav", "label": ["speech"]}) + "\n")
    label_space = build_label_space(manifest_dataset(tmp_path / "train.jsonl", "audio"), "label", "audio")
    assert label_space.multi_label


def test_class_label_features_give_their_names_in_order():
    features = datasets.Features({"audio": datasets.Value("string"), "label": datasets.ClassLabel(names=["z", "a"])})
    dataset = datasets.Dataset.from_dict({"audio": ["x.wav", "y.wav"], "label": [0, 1]}, features=features)
    assert build_label_space(dataset, "label", "audio").names == ["z", "a"]


def test_a_missing_training_label_names_the_row(tmp_path):
    write_tone(tmp_path / "a.wav")
    write_tone(tmp_path / "b.wav")
    (tmp_path / "train.csv").write_text("audio,label\na.wav,dog\nb.wav,\n")
    with pytest.raises(ValueError, match="Row 1 of the train split.*b.wav.*has no label"):
        build_label_space(manifest_dataset(tmp_path / "train.csv", "audio"), "label", "audio")


def test_an_unknown_eval_label_names_the_clip_and_the_training_labels(folder, tmp_path):
    eval_dataset = datasets.Dataset.from_dict({"audio": [str(tmp_path / "c.wav")], "label": ["cat"]})
    with pytest.raises(ValueError, match=r"Row 0 of the eval split \('.*c.wav'\) has label 'cat'.*\['high', 'low'\]"):
        check_labels(eval_dataset, LabelSpace(["high", "low"], False), "label", "audio", "eval")


def test_several_labels_in_a_forced_single_label_task_are_an_error():
    dataset = datasets.Dataset.from_dict({"audio": ["a.wav"], "label": ["dog;cat"]})
    with pytest.raises(ValueError, match="2 labels.*--multi_label"):
        build_label_space(dataset, "label", "audio", multi_label=False)


def test_a_missing_label_column_names_the_columns(folder):
    with pytest.raises(ValueError, match=r"no label column 'tag'.*\['audio', 'label'\]"):
        build_label_space(audio_folder_dataset(folder), "tag", "audio")


def test_a_streamed_split_needs_label_names_up_front(folder):
    with pytest.raises(ValueError, match="--label_names_file"):
        build_label_space(audio_folder_dataset(folder).to_iterable_dataset(), "label", "audio")


def test_class_balanced_weights_sum_one_over_each_label_count():
    dataset = datasets.Dataset.from_dict({"label": [["a"], ["a"], ["a", "b"], ["c"]]})
    weights = class_balanced_weights(dataset, LabelSpace(["a", "b", "c"], True), "label")
    np.testing.assert_allclose(weights, [1 / 3, 1 / 3, 1 / 3 + 1, 1])


# Batching


def test_collator_batches_fbank_and_class_indices(folder):
    decode = DecodeAudio("audio", "train", label_column="label", label_space=LabelSpace(["high", "low"], False))
    examples = decode(audio_folder_dataset(folder)[:3])
    collator = AudioCollator(AudioMAEFeatureExtractor(feature_size=32, num_mel_bins=32, target_length=128))
    batch = collator([dict(zip(examples, values, strict=True)) for values in zip(*examples.values(), strict=True)])
    assert batch["input_values"].shape == (3, 128, 32) and batch["input_values"].dtype == torch.float32
    assert batch["labels"].dtype == torch.int64 and batch["labels"].tolist() == [0, 0, 1]


def test_collator_stacks_multi_hot_targets_as_floats():
    collator = AudioCollator(AudioMAEFeatureExtractor(feature_size=32, num_mel_bins=32, target_length=64))
    waveform = np.zeros(8000, dtype=np.float32)
    targets = [np.array([1, 0, 1], np.float32), np.array([0, 1, 0], np.float32)]
    batch = collator([{"waveform": waveform, "labels": target} for target in targets])
    assert batch["labels"].dtype == torch.float32 and batch["labels"].tolist() == [[1, 0, 1], [0, 1, 0]]


# Spectrogram augmentation


def test_spec_augment_masks_at_most_one_band_and_one_span_per_clip():
    torch.manual_seed(0)
    input_values = torch.randn(64, 100, 40)
    augmented = spec_augment(input_values, max_frequency_mask=10, max_time_mask=20, fill_value=7.0)
    masked = augmented == 7.0
    masked_bins = masked.all(dim=1).sum(dim=1)  # bins masked over all frames
    masked_frames = masked.all(dim=2).sum(dim=1)
    # torchaudio's draw: a real width below the maximum, whose band can straddle one more whole bin or frame
    assert masked_bins.max() <= 10 and masked_frames.max() <= 20
    assert masked_bins.float().mean() > 2 and masked_frames.float().mean() > 5
    assert torch.equal(augmented[~masked], input_values[~masked])


def test_spec_augment_with_zero_widths_changes_nothing():
    input_values = torch.randn(2, 16, 8)
    assert torch.equal(spec_augment(input_values, 0, 0, fill_value=0.0), input_values)


def test_mask_widths_scale_with_the_input_size():
    assert scaled_mask_width(192, 1024, 1024) == 192
    assert scaled_mask_width(192, 128, 1024) == 24
    assert scaled_mask_width(48, 64, 128) == 24


def test_roll_and_gain_rolls_each_clip_and_shifts_it_by_a_constant():
    torch.manual_seed(0)
    input_values = torch.randn(8, 50, 4)
    augmented = roll_and_gain(input_values, log_gain_scale=0.5)
    for clip, original in zip(augmented, input_values, strict=True):
        candidates = [torch.roll(original, shift, dims=0) for shift in range(50)]
        rolled = min(candidates, key=lambda candidate: (clip - candidate).std().item())
        constant = (clip - rolled).mean()
        torch.testing.assert_close(clip, rolled + constant)
        # a gain g in [0.5, 1.5] adds 2 ln g to the log-mel power, times the normalisation scale
        assert 0.5 * 2 * np.log(0.5) <= constant <= 0.5 * 2 * np.log(1.5)


def test_noise_and_shift_adds_at_most_a_tenth_and_shifts_each_clip_by_at_most_ten_frames():
    torch.manual_seed(0)
    input_values = torch.randn(16, 60, 4)
    augmented = noise_and_shift(input_values)
    shifts = []
    for clip, original in zip(augmented, input_values, strict=True):
        # the release's `noise`: uniform noise in [0, level), level < 0.1, then a cyclic shift in [-10, 10)
        candidates = {shift: clip - torch.roll(original, shift, dims=0) for shift in range(-10, 10)}
        shift, noise = min(candidates.items(), key=lambda item: item[1].abs().max().item())
        assert 0 <= noise.min() and noise.max() < 0.1
        shifts.append(shift)
    assert len(set(shifts)) > 1  # drawn per clip


def test_the_noise_option_adds_noise_after_spec_augment():
    torch.manual_seed(0)
    batch = {"input_values": torch.zeros(4, 64, 8), "labels": torch.tensor([0, 1, 0, 1])}
    augmentation = TrainingAugmentation(log_gain_scale=1.0, mask_fill_value=-5.0, max_time_mask=32, noise=True)
    assert not augmentation.is_identity
    augmented = augmentation(batch)["input_values"]
    # masked frames (-5) got noise too, so no value equals the fill value exactly, and none moved more than 0.1
    assert (augmented != -5.0).all()
    assert ((augmented >= -5.0) & (augmented < -4.9) | (augmented >= 0) & (augmented < 0.1)).all()


def test_label_names_file_fixes_the_classes_and_their_order(folder, tmp_path):
    (tmp_path / "labels.txt").write_text("low\nhigh\nunused\n")
    label_space = build_label_space(
        audio_folder_dataset(folder), "label", "audio", label_names=read_label_names(tmp_path / "labels.txt")
    )
    assert label_space.names == ["low", "high", "unused"]


def test_a_training_label_outside_the_label_names_file_is_an_error(folder):
    with pytest.raises(ValueError, match="Row 0 of the train split has label 'high'"):
        build_label_space(audio_folder_dataset(folder), "label", "audio", label_names=["low"])


def test_spec_augment_masks_with_the_normalised_value_of_a_raw_log_mel_zero():
    # The release masks the raw log-mel fbank with zeros before normalising. The feature extractor pads a short clip
    # with raw log-mel zeros too, and normalises them: its padding frames are that value, found without the formula.
    feature_extractor = AudioMAEFeatureExtractor(
        feature_size=32, num_mel_bins=32, target_length=64, mean=-3.0, std=2.5
    )
    padded = feature_extractor(np.zeros(4_000, dtype=np.float32), sampling_rate=16_000)["input_values"][0]
    raw_zero = float(padded[-1, 0])
    assert np.all(padded[23:] == raw_zero) and raw_zero != 0.0  # 23 frames of audio in 0.25 s
    log_gain_scale, mask_fill_value = normalised_units(feature_extractor)
    augmentation = TrainingAugmentation(log_gain_scale, mask_fill_value, max_frequency_mask=10, max_time_mask=20)
    torch.manual_seed(0)
    input_values = torch.randn(16, 64, 32)
    augmented = augmentation({"input_values": input_values})["input_values"]
    changed = augmented != input_values
    assert changed.any() and torch.allclose(augmented[changed], torch.tensor(raw_zero), rtol=0, atol=1e-6)


def test_a_clip_the_feature_extractor_refuses_is_named_by_the_collator():
    collator = AudioCollator(AudioMAEFeatureExtractor(feature_size=32, num_mel_bins=32, target_length=64))
    examples = [{"waveform": np.zeros(8_000, np.float32), "clip": "'a.wav'"}]
    examples.append({"waveform": np.zeros(100, np.float32), "clip": "'tiny.wav'"})
    with pytest.raises(ValueError, match="by index: 0: 'a.wav'; 1: 'tiny.wav'"):
        collator(examples)


def test_a_clip_shorter_than_one_frame_is_padded_to_one_frame_of_silence(tmp_path):
    path = write_tone(tmp_path / "blip.wav", seconds=0.01)
    [waveform] = DecodeAudio("audio", "train")({"audio": [str(path)]})["waveform"]
    assert len(waveform) == 400 and np.all(waveform[160:] == 0) and np.any(waveform[:160] != 0)


def test_an_empty_audio_cell_of_a_manifest_names_its_row(tmp_path):
    write_tone(tmp_path / "a.wav")
    (tmp_path / "train.csv").write_text("audio,label\na.wav,dog\n,cat\n  ,cat\n")
    with pytest.raises(
        ValueError, match=r"train.csv': 2 rows have no audio path in column 'audio', e.g. row 1 \(line 3\)"
    ):
        manifest_dataset(tmp_path / "train.csv", "audio")


# Fuzzing the manifest reader: whatever a CSV or JSON Lines manifest holds, a dataset or a ValueError. 40 examples
# each take about 3 s; 400 each (about 35 s) found nothing else.

CELLS = st.one_of(
    st.sampled_from(["", " ", "a.wav", "clips/b.wav", "dog", "dog;cat", ";", "1", "2.5", "NaN", "null", '"', "x,y"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
)
COLUMNS = st.lists(st.sampled_from(["audio", "label", "path", "extra", ""]), min_size=1, max_size=3, unique=True)


def read_manifest_and_labels(path):
    """What the scripts do with a manifest: read it, then its labels if it has a label column."""
    dataset = manifest_dataset(path, "audio")
    assert all(isinstance(audio, str) and audio.strip() for audio in dataset["audio"])
    if "label" in dataset.column_names:
        build_label_space(dataset, "label", "audio")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns=COLUMNS, rows=st.lists(st.lists(CELLS, min_size=0, max_size=4), min_size=0, max_size=4))
def test_any_csv_manifest_gives_a_dataset_or_a_value_error(columns, rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.csv"
        with open(path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(columns)
            writer.writerows(rows)
        try:
            read_manifest_and_labels(path)
        except ValueError:
            pass


JSON_VALUES = st.one_of(
    CELLS,
    st.none(),
    st.integers(-3, 3),
    st.booleans(),
    st.lists(CELLS, max_size=3),
    st.dictionaries(CELLS, CELLS, max_size=2),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.dictionaries(st.sampled_from(["audio", "label", "extra"]), JSON_VALUES), min_size=0, max_size=4)
)
def test_any_json_lines_manifest_gives_a_dataset_or_a_value_error(rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        try:
            read_manifest_and_labels(path)
        except ValueError:
            pass


@pytest.mark.parametrize("max_length_seconds", [None, 5.0], ids=["model_window", "random_crop"])
def test_training_decodes_only_a_window_of_an_hour_long_48khz_stereo_file(tmp_path, max_length_seconds):
    """Issue 9: a 1 h file must not be decoded whole, not even for a random crop (its offset comes from the header).
    Bound: 16 MB + 4 x the 10.3 s window of 48 kHz stereo float32 (4 MB)."""
    head = (np.random.default_rng(0).standard_normal((48000, 2)) * 3000).astype(np.int16)
    path = write_long_wav(tmp_path / "hour.wav", 3600, 48000, 2, head)
    increase = peak_memory_increase(
        f"""
        import random
        from audiomae_hf.audio_decoding import seconds_for_frames
        from audiomae_hf.batching import split_decoder
        from audiomae_hf.training_arguments import AudioDataArguments
        random.seed(0)
        decode = split_decoder(
            "train", AudioDataArguments(max_length_seconds={max_length_seconds!r}), seconds_for_frames(1024)
        )
        decode({{"audio": [{str(path)!r}]}})
        """,
        f"waveforms = [decode({{'audio': [{str(path)!r}]}})['waveform'][0] for _ in range(3)]",
    )
    assert increase < 16e6 + 4 * (10.3 * 48000 * 2 * 4)


def test_a_random_crop_starts_anywhere_in_a_long_file_and_has_the_cropped_length(tmp_path):
    ramp = np.arange(160_000, dtype=np.float32) / 160_000  # 10 s at 16 kHz: each sample tells its position
    soundfile.write(tmp_path / "long.wav", ramp, 16_000, subtype="FLOAT")
    decode = split_decoder("train", AudioDataArguments(max_length_seconds=1.0), 10.3)
    segments = [decode({"audio": [str(tmp_path / "long.wav")]})["waveform"][0] for _ in range(30)]
    assert {len(segment) for segment in segments} == {16_000}
    starts = [float(segment[0]) for segment in segments]
    assert min(starts) < 0.3 and max(starts) > 0.6  # offsets over the whole clip, not only its beginning

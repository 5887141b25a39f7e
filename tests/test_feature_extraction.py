"""AudioMAEFeatureExtractor: the official Audio-MAE log-mel fbank, batched in torch."""

import importlib.util
import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import ASTFeatureExtractor, AutoFeatureExtractor

from audiomae_hf import AudioMAEFeatureExtractor
from audiomae_hf.feature_extraction_audiomae import kaldi_mel_filter_bank, log_mel_fbank

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLING_RATE = 16000


def _load_signal_module():
    spec = importlib.util.spec_from_file_location("fbank_signals", FIXTURES / "fbank_signals.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIGNALS = _load_signal_module().make_test_signals()
REFERENCE = dict(np.load(FIXTURES / "fbank_reference.npz"))


def log_mel(waveform, **kwargs) -> np.ndarray:
    """Un-normalised log-mel of one clip, [target_length, num_mel_bins]."""
    extractor = AudioMAEFeatureExtractor(do_normalize=False, **kwargs)
    return extractor(waveform, sampling_rate=SAMPLING_RATE, return_tensors="np")["input_values"][0]


def num_frames(num_samples: int) -> int:
    return (num_samples - 400) // 160 + 1


def plain_kaldi_fbank(waveform: np.ndarray) -> np.ndarray:
    """Kaldi fbank with Audio-MAE's options written out frame by frame in float64, as Kaldi's documentation states
    it: a slow reference that shares only the mel filters (which the torchaudio fixture checks) with the package."""
    waveform = waveform.astype(np.float64) - waveform.mean()
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)
    filters = kaldi_mel_filter_bank(128, 512, SAMPLING_RATE).double().numpy()
    rows = []
    for start in range(0, len(waveform) - 399, 160):
        frame = waveform[start : start + 400]
        frame = frame - frame.mean()
        frame = frame - 0.97 * np.concatenate(([frame[0]], frame[:-1]))
        power = np.abs(np.fft.rfft(frame * window, n=512)) ** 2
        rows.append(np.log(np.maximum(power @ filters, np.finfo(np.float32).eps)))
    return np.array(rows)


# Equality with the official preprocessing (torchaudio.compliance.kaldi.fbank, see scripts/make_fbank_reference.py)


def test_regenerated_signals_are_the_ones_the_reference_was_computed_from():
    for name, waveform in SIGNALS.items():
        waveform = waveform.astype(np.float64)
        checksum = [waveform.sum(), (waveform**2).sum()]
        np.testing.assert_allclose(checksum, REFERENCE[f"{name}/checksum"], rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_log_mel_matches_torchaudio_float64_within_twice_torchaudio_float32_error(name):
    reference = REFERENCE[f"{name}/reference"]
    allowed = max(1e-4, 2 * float(REFERENCE[f"{name}/float32_error"]))
    ours = log_mel(SIGNALS[name])[: len(reference)]
    assert np.abs(ours - reference).max() <= allowed


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_log_mel_is_float64_accurate_up_to_rounding_the_result_to_float32(name):
    # Far inside the bound above: a float32 FFT anywhere would show up here first (errors of 1e-4 to 1e-2).
    reference = REFERENCE[f"{name}/reference"]
    assert np.abs(log_mel(SIGNALS[name])[: len(reference)] - reference).max() <= 2e-6


@pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")
@pytest.mark.parametrize("name", ["white_noise", "chirp", "speech_like", "clipped_tone"])
def test_log_mel_matches_transformers_ast_feature_extractor_numpy_path(name):
    # The AST extractor computes the same Kaldi-style fbank in numpy, without the clip-mean subtraction. Its mel
    # filters are float64 where Kaldi's are float32: in a weak band beside a strong FFT bin that moves the log by up
    # to 3.1e-4 (measured, on the chirp); elsewhere the two agree to 1e-4.
    waveform = SIGNALS[name] - SIGNALS[name].mean()
    extractor = ASTFeatureExtractor(num_mel_bins=128, max_length=1024, do_normalize=False)
    theirs = extractor(waveform, sampling_rate=SAMPLING_RATE, return_tensors="np")["input_values"][0]
    np.testing.assert_allclose(log_mel(waveform), theirs, rtol=0, atol=5e-4)


@settings(max_examples=25, deadline=None)
@given(
    num_samples=st.integers(400, 3000),
    amplitude=st.sampled_from([1e-6, 1e-4, 1e-2, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_log_mel_matches_a_plain_frame_by_frame_float64_fbank(num_samples, amplitude, seed):
    waveform = (amplitude * np.random.default_rng(seed).standard_normal(num_samples)).astype(np.float32)
    expected = plain_kaldi_fbank(waveform)
    np.testing.assert_allclose(log_mel(waveform)[: len(expected)], expected, rtol=0, atol=1e-4)


# Pad or crop, then normalise


def test_output_is_float32_batch_by_time_by_frequency():
    features = AudioMAEFeatureExtractor()(np.zeros((3, 16000), np.float32), sampling_rate=16000, return_tensors="np")
    assert features["input_values"].shape == (3, 1024, 128)
    assert features["input_values"].dtype == np.float32


def test_short_clips_are_padded_with_zeros_in_the_log_mel_domain():
    features = log_mel(SIGNALS["white_noise"])
    assert np.all(features[num_frames(len(SIGNALS["white_noise"])) :] == 0.0)


def test_long_clips_are_cropped_to_target_length_frames():
    waveform = SIGNALS["long_noise_and_tone"]
    assert num_frames(len(waveform)) > 1024
    np.testing.assert_array_equal(log_mel(waveform), log_mel(waveform[: 1023 * 160 + 400]))


def test_normalization_subtracts_mean_and_divides_by_twice_std():
    waveform = SIGNALS["speech_like"]
    extractor = AudioMAEFeatureExtractor(mean=-3.0, std=2.5)
    normalized = extractor(waveform, sampling_rate=16000, return_tensors="np")["input_values"][0]
    np.testing.assert_allclose(normalized, (log_mel(waveform) + 3.0) / 5.0, rtol=1e-6, atol=1e-6)


def test_padding_frames_normalize_like_a_log_mel_of_zero():
    extractor = AudioMAEFeatureExtractor()
    normalized = extractor(np.ones(4000, np.float32), sampling_rate=16000, return_tensors="np")["input_values"][0]
    np.testing.assert_allclose(normalized[num_frames(4000) :], (0.0 - extractor.mean) / (2 * extractor.std))


def test_attention_mask_marks_frames_computed_from_audio():
    extractor = AudioMAEFeatureExtractor(return_attention_mask=True)
    clips = [np.ones(400, np.float32), np.ones(16000, np.float32), np.ones(170_000, np.float32)]
    mask = extractor(clips, sampling_rate=16000, return_tensors="np")["attention_mask"]
    assert mask.shape == (3, 1024)
    assert mask.sum(axis=1).tolist() == [1, num_frames(16000), 1024]
    assert np.all(np.diff(mask, axis=1) <= 0), "audio frames come first, padding after"


def test_attention_mask_only_when_asked():
    extractor = AudioMAEFeatureExtractor()
    assert "attention_mask" not in extractor(np.ones(800, np.float32), sampling_rate=16000)
    assert "attention_mask" in extractor(np.ones(800, np.float32), sampling_rate=16000, return_attention_mask=True)


def test_target_length_and_num_mel_bins_are_configurable():
    features = log_mel(SIGNALS["chirp"], num_mel_bins=64, feature_size=64, target_length=100)
    assert features.shape == (100, 64)


# padding, max_length, truncation: counted in frames


def frames_of(features, name="input_values") -> list[int]:
    return [len(clip) for clip in features[name]]


def test_defaults_pad_and_crop_every_clip_to_target_length():
    extractor = AudioMAEFeatureExtractor(target_length=64)
    clips = [np.ones(4000, np.float32), np.ones(16000, np.float32)]  # 23 and 98 frames
    assert frames_of(extractor(clips, sampling_rate=16000)) == [64, 64]


def test_padding_longest_pads_to_the_longest_clip_up_to_max_length():
    extractor = AudioMAEFeatureExtractor(target_length=1024, return_attention_mask=True)
    clips = [np.ones(4000, np.float32), np.ones(8000, np.float32)]  # 23 and 48 frames
    features = extractor(clips, sampling_rate=16000, padding="longest", return_tensors="np")
    assert features["input_values"].shape == (2, 48, 128)
    assert features["attention_mask"].sum(axis=1).tolist() == [23, 48]
    assert extractor(clips, sampling_rate=16000, padding=True, max_length=30, return_tensors="np")[
        "input_values"
    ].shape == (2, 30, 128)


def test_padding_longest_gives_the_same_frames_as_the_default_padding():
    extractor = AudioMAEFeatureExtractor(target_length=64)
    clips = [SIGNALS["speech_like"][:4000], SIGNALS["white_noise"][:8000]]
    longest = extractor(clips, sampling_rate=16000, padding="longest", return_tensors="np")["input_values"]
    default = extractor(clips, sampling_rate=16000, return_tensors="np")["input_values"]
    np.testing.assert_array_equal(longest, default[:, :48])


def test_pad_to_multiple_of_rounds_the_frames_up():
    features = AudioMAEFeatureExtractor()(
        np.ones(7000, np.float32), sampling_rate=16000, padding="longest", pad_to_multiple_of=16, return_tensors="np"
    )
    assert features["input_values"].shape == (1, 48, 128)  # 42 frames -> 48


def test_max_length_is_in_frames_and_crops_with_truncation():
    extractor = AudioMAEFeatureExtractor(target_length=1024)
    features = extractor(SIGNALS["speech_like"], sampling_rate=16000, max_length=32, return_tensors="np")
    assert features["input_values"].shape == (1, 32, 128)
    np.testing.assert_array_equal(
        features["input_values"][0], extractor(SIGNALS["speech_like"], sampling_rate=16000)["input_values"][0][:32]
    )


def test_without_truncation_longer_clips_keep_all_their_frames():
    clip = np.ones(16000, np.float32)  # 98 frames
    features = AudioMAEFeatureExtractor(target_length=64)(clip, sampling_rate=16000, truncation=False)
    assert frames_of(features) == [98]


def test_padding_false_leaves_each_clip_its_own_frames():
    extractor = AudioMAEFeatureExtractor(return_attention_mask=True)
    features = extractor([np.ones(4000, np.float32), np.ones(8000, np.float32)], sampling_rate=16000, padding=False)
    assert frames_of(features) == [23, 48] and frames_of(features, "attention_mask") == [23, 48]
    same_length = extractor([np.ones(4000, np.float32)] * 2, sampling_rate=16000, padding=False, return_tensors="pt")
    assert same_length["input_values"].shape == (2, 23, 128)


def test_padding_false_refuses_to_stack_clips_of_different_lengths():
    with pytest.raises(ValueError, match=r"padding=False leaves clips of different lengths \(\[23, 48\] frames\)"):
        AudioMAEFeatureExtractor()(
            [np.ones(4000, np.float32), np.ones(8000, np.float32)],
            sampling_rate=16000,
            padding=False,
            return_tensors="np",
        )


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"padding": "shortest"}, "padding='shortest' is not a padding strategy"),
        ({"max_length": 0}, "max_length must be a positive number of frames"),
        ({"max_length": 10.5}, "max_length must be a positive number of frames"),
        ({"pad_to_multiple_of": -16}, "pad_to_multiple_of must be a positive number of frames"),
        ({"truncation": "longest_first"}, "truncation must be True or False"),
    ],
)
def test_unsupported_padding_options_are_refused(option, match):
    with pytest.raises(ValueError, match=match):
        AudioMAEFeatureExtractor()(np.ones(800, np.float32), sampling_rate=16000, **option)


def test_unknown_keyword_arguments_are_refused_not_ignored():
    with pytest.raises(TypeError, match="max_length_seconds"):
        AudioMAEFeatureExtractor()(np.ones(800, np.float32), sampling_rate=16000, max_length_seconds=10)


@settings(max_examples=20, deadline=None)
@given(
    lengths=st.lists(st.integers(400, 6000), min_size=1, max_size=3),
    padding=st.sampled_from(["max_length", "longest", True]),
    max_length=st.one_of(st.none(), st.integers(1, 60)),
    truncation=st.booleans(),
    pad_to_multiple_of=st.one_of(st.none(), st.integers(1, 16)),
)
def test_any_padding_option_gives_each_clip_its_frames_then_padding(
    lengths, padding, max_length, truncation, pad_to_multiple_of
):
    extractor = AudioMAEFeatureExtractor(target_length=40, return_attention_mask=True, do_normalize=False)
    clips = [SIGNALS["white_noise"][:length] for length in lengths]
    features = extractor(
        clips,
        sampling_rate=16000,
        padding=padding,
        max_length=max_length,
        truncation=truncation,
        pad_to_multiple_of=pad_to_multiple_of,
        return_tensors="np",
    )
    limit = max_length or 40
    own_frames = [min(num_frames(length), limit) if truncation else num_frames(length) for length in lengths]
    frames = max(own_frames) if padding != "max_length" else max(limit, max(own_frames))
    if pad_to_multiple_of:
        frames = math.ceil(frames / pad_to_multiple_of) * pad_to_multiple_of
    assert features["input_values"].shape == (len(clips), frames, 128)
    assert features["attention_mask"].sum(axis=1).tolist() == own_frames
    for clip, values, own in zip(clips, features["input_values"], own_frames, strict=True):
        np.testing.assert_allclose(values[:own], log_mel(clip, target_length=own), rtol=0, atol=1e-6)
        assert np.all(values[own:] == 0)


# Input forms


def test_ragged_list_gives_each_clip_the_features_it_has_alone():
    clips = [SIGNALS["white_noise"], SIGNALS["shortest"], SIGNALS["speech_like"]]
    batch = AudioMAEFeatureExtractor(do_normalize=False)(clips, sampling_rate=16000, return_tensors="np")
    for clip, features in zip(clips, batch["input_values"], strict=True):
        np.testing.assert_allclose(features, log_mel(clip), rtol=0, atol=1e-6)


def test_2d_array_is_a_batch_of_mono_clips():
    batch = np.stack([SIGNALS["tone_1khz"][:8000], SIGNALS["white_noise"][:8000]])
    features = AudioMAEFeatureExtractor(do_normalize=False)(batch, sampling_rate=16000, return_tensors="np")
    assert features["input_values"].shape[0] == 2
    np.testing.assert_allclose(features["input_values"][1], log_mel(batch[1]), rtol=0, atol=1e-6)


def test_samples_by_channels_audio_gets_a_short_error_saying_to_downmix_the_channels():
    # A (samples, channels) clip looks like a batch of `samples` clips of `channels` samples each; the error used to
    # list all 16000 of them (149 KB).
    stereo = np.zeros((16000, 2), np.float32)
    with pytest.raises(ValueError, match=r"\(samples, channels\), downmix the channels") as error:
        AudioMAEFeatureExtractor()(stereo, sampling_rate=16000)
    assert len(str(error.value)) < 400


def test_many_too_short_clips_are_listed_briefly():
    with pytest.raises(ValueError, match=r"\{0: 10, 1: 10, 2: 10, 3: 10, 4: 10\} and 995 more") as error:
        AudioMAEFeatureExtractor()([np.zeros(10, np.float32)] * 1000, sampling_rate=16000)
    assert len(str(error.value)) < 300


def test_torch_tensors_and_numpy_arrays_give_the_same_features():
    waveform = SIGNALS["speech_like"]
    np.testing.assert_array_equal(log_mel(torch.from_numpy(waveform)), log_mel(waveform))


def test_a_list_of_floats_is_one_clip():
    waveform = SIGNALS["odd_length_noise"][:1000]
    np.testing.assert_array_equal(log_mel(waveform.tolist()), log_mel(waveform))


@pytest.mark.parametrize(
    ("dtype", "zero", "full_scale"), [(np.int16, 0, 2**15), (np.int32, 0, 2**31), (np.uint8, 128, 2**7)]
)
def test_integer_pcm_is_scaled_to_unit_range(dtype, zero, full_scale):
    pcm = (SIGNALS["speech_like"] * (full_scale - 1) + zero).astype(dtype)
    np.testing.assert_allclose(log_mel(pcm), log_mel((pcm.astype(np.float64) - zero) / full_scale), rtol=0, atol=1e-5)


def test_return_tensors_pt_gives_torch_tensors():
    features = AudioMAEFeatureExtractor()(
        np.ones(800, np.float32), sampling_rate=16000, return_tensors="pt", device="cpu"
    )
    assert isinstance(features["input_values"], torch.Tensor)


def test_return_tensors_none_gives_a_list_of_arrays():
    features = AudioMAEFeatureExtractor()([np.ones(800, np.float32)] * 2, sampling_rate=16000)
    assert isinstance(features["input_values"], list) and len(features["input_values"]) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_runs_on_the_requested_device_and_agrees_with_the_cpu():
    extractor = AudioMAEFeatureExtractor()
    waveform = SIGNALS["speech_like"]
    on_gpu = extractor(waveform, sampling_rate=16000, return_tensors="pt", device="cuda")["input_values"]
    assert on_gpu.device.type == "cuda"
    on_cpu = extractor(waveform, sampling_rate=16000, return_tensors="pt")["input_values"]
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=0, atol=1e-4)


# Bad input


def test_wrong_sampling_rate_names_expected_and_given():
    with pytest.raises(ValueError, match=r"16000 and not 44100"):
        AudioMAEFeatureExtractor()(np.ones(800, np.float32), sampling_rate=44100)


def test_wrong_sampling_rate_tells_a_remote_code_user_how_to_resample():
    with pytest.raises(ValueError, match=r"soxr.resample\(waveform, 44100, 16000\).*trust_remote_code=True") as error:
        AudioMAEFeatureExtractor()(np.ones(800, np.float32), sampling_rate=44100)
    assert "audiomae_hf.feature_extraction_audiomae.resample" not in str(error.value)


@pytest.mark.parametrize("bad_rate", [0, -16000, 16000.5, float("inf"), "16000"])
def test_a_bad_sampling_rate_argument_is_a_value_error_naming_it(bad_rate):
    with pytest.raises(ValueError, match=r"^sampling_rate must be a positive whole number"):
        AudioMAEFeatureExtractor()(np.ones(800, np.float32), sampling_rate=bad_rate)
    with pytest.raises(ValueError, match=r"^sampling_rate must be a positive whole number"):
        AudioMAEFeatureExtractor(sampling_rate=bad_rate)


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"std": 0}, "std must be positive"),
        ({"std": -4.5}, "std must be positive"),
        ({"std": float("nan")}, "std must be a finite number"),
        ({"mean": float("inf")}, "mean must be a finite number"),
        ({"padding_value": float("nan")}, "padding_value must be a finite number"),
        ({"target_length": 0}, "target_length must be a positive integer"),
        ({"num_mel_bins": 12.5}, "num_mel_bins must be a positive integer"),
    ],
)
def test_settings_that_would_give_non_finite_features_are_refused(setting, match):
    with pytest.raises(ValueError, match=match):
        AudioMAEFeatureExtractor(**setting)


def test_a_saved_preprocessor_config_with_std_zero_is_refused_at_load(tmp_path):
    # Issue 9: `std: 0` in preprocessor_config.json gave infinite features.
    AudioMAEFeatureExtractor().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "preprocessor_config.json").read_text())
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({**config, "std": 0}))
    with pytest.raises(ValueError, match="std must be positive"):
        AutoFeatureExtractor.from_pretrained(tmp_path)


@pytest.mark.parametrize("peak", [4e18, 1e12, 2.0**31 * 1.001])
def test_samples_beyond_int32_full_scale_are_an_error_naming_the_clip(peak):
    # Issue 9: from ~4e18 the features were all NaN.
    waveform = SIGNALS["white_noise"].astype(np.float64) / np.abs(SIGNALS["white_noise"]).max() * peak
    with pytest.raises(ValueError, match=r"Clip 1 has peak amplitude"):
        AudioMAEFeatureExtractor()([np.ones(800), waveform], sampling_rate=16000)


@pytest.mark.parametrize("peak", [1.0, 2.0**15, 2.0**31])
def test_samples_up_to_int32_full_scale_give_finite_features(peak):
    waveform = SIGNALS["white_noise"].astype(np.float64) / np.abs(SIGNALS["white_noise"]).max() * peak
    features = AudioMAEFeatureExtractor()(waveform, sampling_rate=16000, return_tensors="np")["input_values"]
    assert np.isfinite(features).all()


def test_missing_sampling_rate_logs_a_warning(caplog):
    logger = logging.getLogger("audiomae_hf.feature_extraction_audiomae")
    logger.addHandler(caplog.handler)
    try:
        AudioMAEFeatureExtractor()(np.ones(800, np.float32))
    finally:
        logger.removeHandler(caplog.handler)
    assert "sampling_rate" in caplog.text


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_samples_raise(bad_value):
    waveform = np.ones(800, np.float32)
    waveform[10] = bad_value
    with pytest.raises(ValueError, match="Clip 1 contains NaN or infinite"):
        AudioMAEFeatureExtractor()([np.ones(800, np.float32), waveform], sampling_rate=16000)


@pytest.mark.parametrize("empty", [[], np.zeros(0, np.float32), np.zeros((0, 800), np.float32), [np.zeros(0)]])
def test_empty_input_raises(empty):
    with pytest.raises(ValueError, match="empty"):
        AudioMAEFeatureExtractor()(empty, sampling_rate=16000)


def test_clip_shorter_than_one_frame_raises_with_its_index_and_length():
    with pytest.raises(ValueError, match=r"\{1: 399\}"):
        AudioMAEFeatureExtractor()([np.ones(400, np.float32), np.ones(399, np.float32)], sampling_rate=16000)


def test_3d_input_raises():
    with pytest.raises(ValueError, match="shape"):
        AudioMAEFeatureExtractor()(np.zeros((2, 2, 800), np.float32), sampling_rate=16000)


@pytest.mark.parametrize(
    "nested",
    [[np.zeros((2, 800), np.float32)], [[[0.0] * 800, [0.0] * 800]], [[[0.0] * 800], [0.0] * 800]],
    ids=["2d_clip", "nested_lists", "ragged_nesting"],
)
def test_a_list_of_anything_but_1d_clips_raises(nested):
    with pytest.raises(ValueError, match="Clip 0"):
        AudioMAEFeatureExtractor()(nested, sampling_rate=16000)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.bool_, np.complex64])
def test_other_sample_types_are_refused(dtype):
    with pytest.raises(ValueError, match="dtype"):
        AudioMAEFeatureExtractor()(np.zeros(800, dtype), sampling_rate=16000)


# Properties


@settings(max_examples=25, deadline=None)
@given(
    num_samples=st.integers(400, 4000),
    amplitude=st.floats(1e-6, 1.0),
    dtype=st.sampled_from(["float32", "float64", "int16"]),
    as_tensor=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_valid_clip_gives_finite_features_one_frame_per_10_ms(num_samples, amplitude, dtype, as_tensor, seed):
    waveform = amplitude * np.random.default_rng(seed).uniform(-1, 1, num_samples)
    waveform = (waveform * 32767).astype(np.int16) if dtype == "int16" else waveform.astype(dtype)
    waveform = torch.from_numpy(waveform) if as_tensor else waveform
    features = AudioMAEFeatureExtractor(return_attention_mask=True)(waveform, sampling_rate=16000, return_tensors="np")
    assert features["input_values"].shape == (1, 1024, 128)
    assert np.isfinite(features["input_values"]).all()
    assert features["attention_mask"].sum() == num_frames(num_samples)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(400, 5000), min_size=2, max_size=4), seed=st.integers(0, 2**16))
def test_a_clips_features_do_not_depend_on_the_rest_of_the_batch(lengths, seed):
    rng = np.random.default_rng(seed)
    clips = [rng.standard_normal(length).astype(np.float32) for length in lengths]
    batch, _ = log_mel_fbank(
        torch.nn.utils.rnn.pad_sequence([torch.from_numpy(c) for c in clips], batch_first=True), torch.tensor(lengths)
    )
    for clip, features in zip(clips, batch, strict=True):
        alone, _ = log_mel_fbank(torch.from_numpy(clip)[None])
        torch.testing.assert_close(features[: alone.shape[1]], alone[0], rtol=0, atol=1e-6)
        assert torch.all(features[alone.shape[1] :] == 0)


@settings(max_examples=25, deadline=None)
@given(offset=st.floats(-0.5, 0.5), seed=st.integers(0, 2**16))
def test_a_constant_offset_does_not_change_the_features(offset, seed):
    waveform = 0.1 * np.random.default_rng(seed).standard_normal(2000)
    np.testing.assert_allclose(log_mel(waveform + offset), log_mel(waveform), rtol=0, atol=1e-4)


# Saving and use as model input


def test_save_pretrained_and_auto_feature_extractor_round_trip(tmp_path):
    extractor = AudioMAEFeatureExtractor(mean=-5.0, std=3.0, target_length=512, return_attention_mask=True)
    extractor.save_pretrained(tmp_path)
    loaded = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert isinstance(loaded, AudioMAEFeatureExtractor)
    assert loaded.to_dict() == extractor.to_dict()


def test_output_is_valid_model_input_values():
    from audiomae_hf import AudioMAEConfig, AudioMAEModel

    config = AudioMAEConfig(
        num_mel_bins=32,
        target_length=64,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        decoder_attention="global",
    )
    extractor = AudioMAEFeatureExtractor(feature_size=32, num_mel_bins=32, target_length=64)
    features = extractor([np.ones(8000, np.float32)] * 2, sampling_rate=16000, return_tensors="pt")
    output = AudioMAEModel(config)(input_values=features["input_values"])
    assert output.last_hidden_state.shape[0] == 2

"""Integration with transformers: Auto classes, the audio-classification pipeline, Hub remote code."""

import json
import textwrap

import numpy as np
import pytest
import soundfile
import torch
from audio_test_helpers import FakeAudioDecoder, peak_memory_increase, write_long_wav
from hypothesis import given, settings
from hypothesis import strategies as st
from remote_code import run_without_the_package
from tiny_configs import tiny_config
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForAudioClassification,
    AutoModelForPreTraining,
    pipeline,
)

from audiomae_hf import (
    AudioMAEAudioClassificationPipeline,
    AudioMAEConfig,
    AudioMAEFeatureExtractor,
    AudioMAEForAudioClassification,
    AudioMAEForPreTraining,
    AudioMAEModel,
)
from audiomae_hf.audio_decoding import AudioDecodingError, load_waveform

LABELS = ["dog", "rain", "siren"]


def labelled_config(**overrides) -> AudioMAEConfig:
    labels = dict(id2label=dict(enumerate(LABELS)), label2id={label: index for index, label in enumerate(LABELS)})
    return tiny_config(**labels, **overrides)


def save_classifier(folder, **overrides):
    torch.manual_seed(0)
    model = AudioMAEForAudioClassification(labelled_config(**overrides)).eval()
    model.save_pretrained(folder)
    AudioMAEFeatureExtractor(num_mel_bins=32, target_length=128).save_pretrained(folder)
    return model


def tone(seconds=1.0, rate=16000, frequency=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="module")
def classifier_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier")
    save_classifier(folder)
    return folder


def test_auto_classes_resolve_the_audiomae_model_type(classifier_folder):
    assert isinstance(AutoConfig.from_pretrained(classifier_folder), AudioMAEConfig)
    assert isinstance(AutoFeatureExtractor.from_pretrained(classifier_folder), AudioMAEFeatureExtractor)
    assert isinstance(AutoModel.from_pretrained(classifier_folder), AudioMAEModel)
    assert isinstance(
        AutoModelForAudioClassification.from_pretrained(classifier_folder), AudioMAEForAudioClassification
    )
    assert isinstance(AutoModelForPreTraining.from_config(labelled_config()), AudioMAEForPreTraining)


def test_saved_folder_has_safetensors_code_and_a_complete_auto_map(classifier_folder):
    names = {path.name for path in classifier_folder.iterdir()}
    assert {"model.safetensors", "config.json", "preprocessor_config.json", "modeling_audiomae.py"} <= names
    assert {"configuration_audiomae.py", "feature_extraction_audiomae.py"} <= names
    auto_map = json.loads((classifier_folder / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_audiomae.AudioMAEConfig",
        "AutoModel": "modeling_audiomae.AudioMAEModel",
        "AutoModelForPreTraining": "modeling_audiomae.AudioMAEForPreTraining",
        "AutoModelForAudioClassification": "modeling_audiomae.AudioMAEForAudioClassification",
    }
    preprocessor = json.loads((classifier_folder / "preprocessor_config.json").read_text())
    assert preprocessor["auto_map"] == {"AutoFeatureExtractor": "feature_extraction_audiomae.AudioMAEFeatureExtractor"}


def test_pipeline_classifies_a_wav_file_path_at_another_sampling_rate(classifier_folder, tmp_path):
    path = tmp_path / "clip.wav"
    soundfile.write(path, np.stack([tone(rate=44100), tone(rate=44100)], axis=1), 44100)  # stereo, 44.1 kHz
    classify = pipeline("audio-classification", model=str(classifier_folder))
    predictions = classify(str(path))
    assert [p["label"] for p in predictions] == [p["label"] for p in classify(tone())]
    assert sorted(p["label"] for p in predictions) == sorted(LABELS)
    assert sum(p["score"] for p in predictions) == pytest.approx(1.0, abs=1e-5)


def test_pipeline_accepts_an_array_and_a_datasets_style_dict(classifier_folder):
    classify = pipeline("audio-classification", model=str(classifier_folder))
    from_array = classify(tone())
    from_dict = classify({"array": tone(), "sampling_rate": 16000})
    assert from_array == from_dict
    resampled = classify({"array": tone(rate=8000), "sampling_rate": 8000}, top_k=1)
    assert len(resampled) == 1 and resampled[0]["label"] in LABELS


def test_pipeline_scores_match_the_model_on_feature_extractor_output(classifier_folder):
    model = AudioMAEForAudioClassification.from_pretrained(classifier_folder).eval()
    features = AudioMAEFeatureExtractor.from_pretrained(classifier_folder)(
        tone(), sampling_rate=16000, return_tensors="pt"
    )
    with torch.no_grad():
        probabilities = model(**features).logits.softmax(-1)[0]
    predictions = pipeline("audio-classification", model=str(classifier_folder))(tone())
    for prediction in predictions:
        assert prediction["score"] == pytest.approx(probabilities[LABELS.index(prediction["label"])].item(), abs=1e-6)


def test_multi_label_models_give_independent_sigmoid_scores(tmp_path):
    model = save_classifier(tmp_path, problem_type="multi_label_classification")
    features = AudioMAEFeatureExtractor(num_mel_bins=32, target_length=128)(
        tone(), sampling_rate=16000, return_tensors="pt"
    )
    with torch.no_grad():
        sigmoid = model(**features).logits.sigmoid()[0]
    predictions = pipeline("audio-classification", model=str(tmp_path))(tone())
    for prediction in predictions:
        assert prediction["score"] == pytest.approx(sigmoid[LABELS.index(prediction["label"])].item(), abs=1e-6)


def test_saved_folder_loads_as_remote_code_where_the_package_cannot_be_imported(classifier_folder, tmp_path):
    features = AudioMAEFeatureExtractor(num_mel_bins=32, target_length=128)(
        tone(), sampling_rate=16000, return_tensors="pt"
    )
    with torch.no_grad():
        expected = AudioMAEForAudioClassification.from_pretrained(classifier_folder).eval()(**features).logits
    np.save(tmp_path / "expected.npy", expected.numpy())
    script = textwrap.dedent(
        f"""
        import numpy as np, torch
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification, AutoModelForPreTraining
        folder = {str(classifier_folder)!r}
        extractor = AutoFeatureExtractor.from_pretrained(folder, trust_remote_code=True)
        model = AutoModelForAudioClassification.from_pretrained(folder, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        t = np.arange(16000) / 16000
        features = extractor((0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), sampling_rate=16000, return_tensors="pt")
        with torch.no_grad():
            logits = model(**features).logits
        np.testing.assert_array_equal(logits.numpy(), np.load({str(tmp_path / "expected.npy")!r}))
        AutoModelForPreTraining.from_pretrained(folder, trust_remote_code=True)
        print("remote code ok")
        """
    )
    assert "remote code ok" in run_without_the_package(script, tmp_path)


# The pipeline's decoding: the features it computes, compared with the feature extractor's on known audio


def band_limited_noise(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """The same continuous signal sampled at any `rate`: 300 sinusoids between 50 Hz and 7 kHz, random phases (energy in
    most mel bands, and nothing near 8 kHz, where resampling must cut)."""
    rng = np.random.default_rng(seed)
    frequencies, phases = rng.uniform(50, 7000, 300), rng.uniform(0, 2 * np.pi, 300)
    t = np.arange(int(seconds * rate)) / rate
    return (0.01 * np.sin(2 * np.pi * frequencies[:, None] * t + phases[:, None]).sum(axis=0)).astype(np.float32)


def pipeline_features(classify, inputs) -> np.ndarray:
    return classify.preprocess(inputs)["input_values"][0].numpy()


def extractor_features(waveform: np.ndarray) -> np.ndarray:
    extractor = AudioMAEFeatureExtractor(num_mel_bins=32, target_length=128)
    return extractor(waveform, sampling_rate=16000, return_tensors="np")["input_values"][0]


@pytest.fixture(scope="module")
def classify(classifier_folder):
    return pipeline("audio-classification", model=str(classifier_folder))


def test_pipeline_resamples_a_44khz_file_to_the_features_of_the_same_signal_at_16khz(classify, tmp_path):
    """Measured: 1.6e-4 largest difference of the normalised features (2e-5 over the mel bands below 7 kHz); the
    44.1 kHz samples taken as 16 kHz ones differ by up to 2.3 (0.86 on average)."""
    path = tmp_path / "clip_44k.wav"
    soundfile.write(path, band_limited_noise(1.5, 44100), 44100, subtype="FLOAT")
    features = pipeline_features(classify, str(path))
    expected = extractor_features(band_limited_noise(1.5, 16000))
    np.testing.assert_allclose(features, expected, rtol=0, atol=1e-3)


def test_pipeline_downmixes_a_stereo_file_by_averaging_its_different_channels(classify, tmp_path):
    left, right = band_limited_noise(1.0, 16000, seed=1), band_limited_noise(1.0, 16000, seed=2)
    path = tmp_path / "different_channels.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    features = pipeline_features(classify, str(path))
    np.testing.assert_allclose(features, extractor_features((left + right) / 2), rtol=0, atol=1e-5)
    assert np.abs(features - extractor_features(left)).max() > 0.1


def test_pipeline_scales_int16_samples_at_44khz_as_at_16khz(classify):
    # Issue 9: {"array": int16, "sampling_rate": 44100} was classified unscaled (16 kHz int16 was scaled).
    pcm = (band_limited_noise(1.0, 44100) * 2**15).astype(np.int16)
    features = pipeline_features(classify, {"array": pcm, "sampling_rate": 44100})
    floats = pipeline_features(classify, {"array": pcm / 2**15, "sampling_rate": 44100})
    np.testing.assert_allclose(features, floats, rtol=0, atol=1e-5)


@pytest.mark.parametrize(("layout", "rate"), [("channels_last", 16000), ("channels_first", 22050)])
def test_pipeline_downmixes_multichannel_arrays_in_a_dict(classify, layout, rate):
    channels = np.stack([band_limited_noise(1.0, rate, seed) for seed in range(3)])  # (channels, samples)
    samples = channels.T if layout == "channels_last" else channels
    features = pipeline_features(classify, {"array": samples, "sampling_rate": rate})
    mono = pipeline_features(classify, {"array": channels.mean(axis=0), "sampling_rate": rate})
    np.testing.assert_allclose(features, mono, rtol=0, atol=1e-6)


def test_pipeline_classifies_datasets_rows_decoded_and_undecoded_and_paths_alike(classify, tmp_path):
    from datasets import Audio, Dataset

    samples = np.stack([band_limited_noise(1.0, 22050, 1), band_limited_noise(1.0, 22050, 2)], axis=1)
    path = tmp_path / "row.flac"
    soundfile.write(path, samples, 22050, subtype="PCM_24")
    undecoded = Dataset.from_dict({"audio": [str(path)]}).cast_column("audio", Audio(decode=False))[0]["audio"]
    decoded, rate = soundfile.read(path, dtype="float32")
    rows = {
        "undecoded": undecoded,
        "bytes_only": {"path": None, "bytes": path.read_bytes()},
        "decoded_dict": {"path": str(path), "array": decoded.mean(axis=1), "sampling_rate": rate},
        "audio_decoder": FakeAudioDecoder(decoded, rate),  # what datasets 5 returns for a decoded Audio column
        "pathlib": path,
    }
    expected = classify(str(path))
    for name, row in rows.items():
        predictions = classify(row)
        assert [p["label"] for p in predictions] == [p["label"] for p in expected], name
        np.testing.assert_allclose([p["score"] for p in predictions], [p["score"] for p in expected], atol=1e-5)


@pytest.mark.parametrize("bad_rate", [0, -16000, 16000.5])
def test_pipeline_names_a_bad_sampling_rate(classify, bad_rate):
    with pytest.raises(ValueError, match=r"sampling_rate must be a positive whole number.*got " + str(bad_rate)):
        classify({"array": tone(), "sampling_rate": bad_rate})


@pytest.mark.parametrize("empty", [[], np.zeros(0, np.float32)], ids=["empty_batch", "empty_clip"])
def test_pipeline_refuses_no_audio_clearly(classify, empty):
    with pytest.raises(ValueError, match="No clips to classify|holds no samples"):
        classify(empty)


def test_pipeline_on_an_hour_long_48khz_stereo_wav_reads_only_what_the_model_sees(classifier_folder, tmp_path):
    """Issue 9: a 1 h 48 kHz stereo WAV peaked at 22.1 GB. The model sees 128 frames (1.3 s) here, so the pipeline
    reads 1.4 s; measured peak growth: 4.8 MB. Bound: 16 MB + 4 x the decoded window (10.3 s, the default
    target_length's, of 48 kHz stereo float32: 4 MB), so the bound holds for full-size models too."""
    path = write_long_wav(tmp_path / "hour.wav", 3600, 48000, 2, (band_limited_noise(11, 48000)[:, None] * [3e4, 2e4]))
    short = tmp_path / "short.wav"
    soundfile.write(short, tone(rate=48000), 48000)
    increase = peak_memory_increase(
        f"""
        import audiomae_hf
        from transformers import pipeline
        classify = pipeline("audio-classification", model={str(classifier_folder)!r})
        classify({str(short)!r})
        """,
        f"predictions = classify({str(path)!r})",
    )
    assert increase < 16e6 + 4 * (10.3 * 48000 * 2 * 4)


# Registration: Audio-MAE models only, and remote code


def test_other_models_keep_the_stock_audio_classification_pipeline(tmp_path):
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification
    from transformers.pipelines.audio_classification import AudioClassificationPipeline

    config = ASTConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, max_length=128, num_labels=2
    )
    ASTForAudioClassification(config).save_pretrained(tmp_path)
    ASTFeatureExtractor(max_length=128).save_pretrained(tmp_path)
    classify = pipeline("audio-classification", model=str(tmp_path))
    assert type(classify) is AudioClassificationPipeline
    assert len(classify(tone())) == 2


def test_audiomae_models_get_the_package_pipeline(classify):
    assert type(classify) is AudioMAEAudioClassificationPipeline


def test_saved_folder_carries_the_pipeline_code_and_a_custom_pipelines_entry(classifier_folder):
    assert {"pipeline_audiomae.py", "audio_decoding.py"} <= {path.name for path in classifier_folder.iterdir()}
    custom_pipelines = json.loads((classifier_folder / "config.json").read_text())["custom_pipelines"]
    assert custom_pipelines == {
        "audiomae-audio-classification": {
            "impl": "pipeline_audiomae.AudioMAEAudioClassificationPipeline",
            "pt": ["AutoModelForAudioClassification"],
            "type": "audio",
        }
    }


def test_remote_code_pipeline_decodes_files_and_datasets_rows_without_the_package_or_ffmpeg(
    classifier_folder, classify, tmp_path
):
    path = tmp_path / "stereo_44k.wav"
    soundfile.write(path, np.stack([tone(rate=44100), band_limited_noise(1.0, 44100)], axis=1), 44100)
    expected = {"file": classify(str(path)), "row": classify({"array": tone(rate=8000), "sampling_rate": 8000})}
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    script = textwrap.dedent(
        f"""
        import json
        import numpy as np
        from transformers import pipeline
        classify = pipeline(model={str(classifier_folder)!r}, trust_remote_code=True)
        assert type(classify).__name__ == "AudioMAEAudioClassificationPipeline", type(classify)
        assert type(classify).__module__.startswith("transformers_modules"), type(classify).__module__
        t = np.arange(8000) / 8000
        row = {{"array": (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), "sampling_rate": 8000}}
        got = {{"file": classify({str(path)!r}), "row": classify(row)}}
        expected = json.load(open({str(tmp_path / "expected.json")!r}))
        for name in expected:
            assert [p["label"] for p in got[name]] == [p["label"] for p in expected[name]], (name, got, expected)
            np.testing.assert_allclose([p["score"] for p in got[name]], [p["score"] for p in expected[name]], atol=1e-6)
        print("remote pipeline ok")
        """
    )
    assert "remote pipeline ok" in run_without_the_package(script, tmp_path)


# Fuzz: the pipeline's input forms


@settings(max_examples=15, deadline=None)
@given(
    form=st.sampled_from(["array", "int16_array", "tensor", "stereo_array", "dict", "raw_dict", "wav_bytes", "path"]),
    rate=st.sampled_from([8000, 16000, 44100, 48000]),
    seconds=st.floats(0.03, 2.0),
    seed=st.integers(0, 2**16),
)
def test_every_input_form_gives_the_features_of_its_decoded_waveform(
    classify, tmp_path_factory, form, rate, seconds, seed
):
    rate = 16000 if form in ("array", "int16_array", "tensor", "stereo_array") else rate  # bare arrays: model rate
    stereo = np.random.default_rng(seed).standard_normal((int(seconds * rate), 2)).astype(np.float32)
    stereo = np.clip(0.2 * stereo, -1, 0.99)
    mono, pcm = stereo[:, 0], (stereo[:, 0] * 2**15).astype(np.int16)
    samples = {"int16_array": pcm, "stereo_array": stereo, "dict": stereo, "wav_bytes": stereo, "path": stereo}
    samples = samples.get(form, mono)
    inputs = {
        "array": mono,
        "int16_array": pcm,
        "tensor": torch.from_numpy(mono),
        "stereo_array": stereo,
        "dict": {"array": stereo.T, "sampling_rate": rate},
        "raw_dict": {"raw": mono.astype(np.float64), "sampling_rate": rate},
    }.get(form)
    if form in ("wav_bytes", "path"):
        path = tmp_path_factory.mktemp("fuzz") / "clip.wav"
        soundfile.write(path, stereo, rate, subtype="FLOAT")
        inputs = path.read_bytes() if form == "wav_bytes" else path
    waveform = load_waveform({"array": samples, "sampling_rate": rate})
    if len(waveform) < 400:  # shorter than one 25 ms frame
        with pytest.raises(ValueError, match="shorter than one 25 ms frame"):
            classify.preprocess(inputs)
        return
    features = pipeline_features(classify, inputs)
    assert np.isfinite(features).all()
    np.testing.assert_allclose(features, extractor_features(waveform), rtol=0, atol=1e-5)


def test_pipeline_decodes_a_url_without_ffmpeg(classify, tmp_path):
    import functools
    import http.server
    import threading

    path = tmp_path / "served.flac"
    soundfile.write(path, band_limited_noise(1.0, 22050), 22050)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        features = pipeline_features(classify, f"http://127.0.0.1:{server.server_port}/served.flac")
    finally:
        server.shutdown()
    np.testing.assert_array_equal(features, pipeline_features(classify, path))


def test_a_format_soundfile_cannot_read_is_an_error_naming_the_file_without_ffmpeg(classify, tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    path = tmp_path / "clip.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A not something libsndfile reads")
    with pytest.raises(AudioDecodingError, match="clip.m4a"):
        classify(str(path))


def test_a_format_soundfile_cannot_read_goes_to_the_stock_ffmpeg_path_when_ffmpeg_is_installed(
    classify, tmp_path, monkeypatch
):
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    path = tmp_path / "clip.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A not something libsndfile reads")
    # The stock code then runs the ffmpeg binary, which this machine does not have.
    with pytest.raises(ValueError, match="ffmpeg was not found"):
        classify(str(path))

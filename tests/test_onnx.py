"""ONNX export: graphs exported by `audiomae-export-onnx`, run with onnxruntime, against the PyTorch model.

Exporting takes about ten seconds a graph on a quiet CPU, so one tiny classifier folder is exported once for the
module. Bounds below are a few times the worst difference measured (noted next to each).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_configs import tiny_config

from audiomae_hf import AudioMAEFeatureExtractor, AudioMAEForAudioClassification, AudioMAEForPreTraining, AudioMAEModel
from audiomae_hf.onnx_export import export_fbank, export_onnx, main

ort = pytest.importorskip("onnxruntime")

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLING_RATE = 16000


def tiny_feature_extractor() -> AudioMAEFeatureExtractor:
    config = tiny_config()
    return AudioMAEFeatureExtractor(num_mel_bins=config.num_mel_bins, target_length=config.target_length)


def run(path: Path, inputs: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})


def clips(*lengths: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.1, length).astype(np.float32) for length in lengths]


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return AudioMAEForAudioClassification(tiny_config()).eval()


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory) -> Path:
    """The tiny classifier's folder, exported by the command line."""
    folder = tmp_path_factory.mktemp("classifier")
    classifier.save_pretrained(folder)
    tiny_feature_extractor().save_pretrained(folder)
    output_dir = tmp_path_factory.mktemp("onnx")
    main([str(folder), str(output_dir)])
    return output_dir


def test_the_command_line_writes_every_graph_and_the_configs_next_to_them(exported):
    assert {path.name for path in exported.iterdir()} == {
        "fbank.onnx",
        "encoder.onnx",
        "audio_encoder.onnx",
        "classifier.onnx",
        "audio_classifier.onnx",
        "config.json",
        "preprocessor_config.json",
    }
    assert json.loads((exported / "config.json").read_text())["id2label"] == {
        "0": "LABEL_0",
        "1": "LABEL_1",
        "2": "LABEL_2",
    }


def test_the_fbank_graph_equals_the_feature_extractor_for_any_batch_and_clip_length(exported):
    feature_extractor = tiny_feature_extractor()
    # Shorter than target_length (padded), exactly one frame, and longer than target_length (cropped).
    for length, batch_size in ((3000, 1), (400, 2), (2 * SAMPLING_RATE + 77, 3)):
        batch = np.stack(clips(*[length] * batch_size))
        expected = feature_extractor(list(batch), sampling_rate=SAMPLING_RATE, return_tensors="np")["input_values"]
        [features] = run(exported / "fbank.onnx", batch)
        assert features.shape == expected.shape == (batch_size, 128, 32)
        # Measured: at most 1.2e-7 (normalised units).
        np.testing.assert_allclose(features, expected, rtol=0, atol=1e-6)


def test_the_fbank_graph_is_float64_accurate_against_torchaudio(tmp_path):
    """The float64 stages survive the export: torchaudio in float32 is off by up to 1.5e-2 on these signals."""
    spec = importlib.util.spec_from_file_location("fbank_signals", FIXTURES / "fbank_signals.py")
    signals = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(signals)
    reference = dict(np.load(FIXTURES / "fbank_reference.npz"))
    export_fbank(AudioMAEFeatureExtractor(do_normalize=False), tmp_path / "fbank.onnx")

    for name, waveform in signals.make_test_signals().items():
        expected = reference[f"{name}/reference"]
        [log_mel] = run(tmp_path / "fbank.onnx", waveform.astype(np.float32)[None])
        # Measured: at most 1.15e-6 (speech_like); the PyTorch feature extractor is held to 2e-6 on the same signals.
        assert np.abs(log_mel[0, : len(expected)] - expected).max() <= 2e-6, name


def test_the_encoder_graph_matches_pytorch_for_any_batch_and_time_length(exported, classifier):
    encoder = classifier.audiomae
    for batch_size, time in ((1, 16), (3, 48), (2, 128)):
        input_values = torch.randn(batch_size, time, 32, generator=torch.Generator().manual_seed(time))
        with torch.no_grad():
            expected = encoder(input_values)
        last_hidden_state, pooler_output = run(exported / "encoder.onnx", input_values.numpy())
        # Measured: at most 1.2e-6.
        np.testing.assert_allclose(last_hidden_state, expected.last_hidden_state.numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(pooler_output, expected.pooler_output.numpy(), rtol=0, atol=1e-5)


def test_the_classifier_graph_matches_pytorch_logits(exported, classifier):
    input_values = torch.randn(4, 64, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = classifier(input_values).logits.numpy()
    [logits] = run(exported / "classifier.onnx", input_values.numpy())
    # Measured: at most 7.2e-7.
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-5)


def test_the_audio_classifier_graph_turns_raw_audio_into_the_models_logits(exported, classifier):
    waveforms = np.stack(clips(20_000, 20_000, seed=2))
    inputs = tiny_feature_extractor()(list(waveforms), sampling_rate=SAMPLING_RATE, return_tensors="pt")
    with torch.no_grad():
        expected = classifier(**inputs).logits.numpy()
    [logits] = run(exported / "audio_classifier.onnx", waveforms)
    # Measured: at most 4.2e-7.
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-5)


def test_the_audio_encoder_graph_turns_raw_audio_into_clip_embeddings(exported, classifier):
    [waveform] = clips(12_345, seed=3)
    inputs = tiny_feature_extractor()(waveform, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    with torch.no_grad():
        expected = classifier.audiomae(**inputs).pooler_output.numpy()
    _, pooler_output = run(exported / "audio_encoder.onnx", waveform[None])
    # Measured: at most 4.8e-7.
    np.testing.assert_allclose(pooler_output, expected, rtol=0, atol=1e-5)


def test_a_pretrained_folder_exports_its_encoder_and_no_classifier(tmp_path):
    torch.manual_seed(0)
    AudioMAEForPreTraining(tiny_config()).save_pretrained(tmp_path / "pretrained")
    tiny_feature_extractor().save_pretrained(tmp_path / "pretrained")

    paths = export_onnx(tmp_path / "pretrained", tmp_path / "onnx")

    assert set(paths) == {"fbank", "encoder", "audio_encoder"}
    encoder = AudioMAEModel.from_pretrained(tmp_path / "pretrained").eval()
    input_values = torch.randn(2, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = encoder(input_values).last_hidden_state.numpy()
    last_hidden_state, _ = run(paths["encoder"], input_values.numpy())
    np.testing.assert_allclose(last_hidden_state, expected, rtol=0, atol=1e-5)

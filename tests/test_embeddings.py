"""Clip embeddings of audio files and datasets: the encoder's pooler_output (or a hidden layer's), batched."""

import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile
import torch
from safetensors import safe_open
from tiny_configs import tiny_config

from audiomae_hf import AudioMAEFeatureExtractor, AudioMAEForAudioClassification
from audiomae_hf.embeddings import add_embedding_columns, embed_clips, load_encoder, main

SAMPLING_RATE = 16000
# Shorter than the tiny model's 1.28 s (padded), about as long, and longer (cropped): batches of mixed lengths.
CLIP_SECONDS = {"dog/bark.wav": 0.5, "dog/growl.wav": 1.3, "rain.wav": 2.0}


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    """A fine-tuned classifier's folder: embeddings come from its encoder, the head is left out."""
    folder = tmp_path_factory.mktemp("classifier")
    torch.manual_seed(0)
    config = tiny_config()
    AudioMAEForAudioClassification(config).save_pretrained(folder)
    AudioMAEFeatureExtractor(num_mel_bins=config.num_mel_bins, target_length=config.target_length).save_pretrained(
        folder
    )
    return folder


@pytest.fixture(scope="module")
def audio_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    for name, seconds in CLIP_SECONDS.items():
        (folder / name).parent.mkdir(exist_ok=True)
        soundfile.write(folder / name, rng.normal(0, 0.1, int(seconds * SAMPLING_RATE)), SAMPLING_RATE)
    return folder


@pytest.fixture(scope="module")
def encoder(model_folder):
    return load_encoder(model_folder)


def pooler_output_of(encoder, path: Path) -> np.ndarray:
    """The model's own pooler_output for one file, read whole and featurized alone."""
    model, feature_extractor = encoder
    waveform, _ = soundfile.read(path, dtype="float32")
    inputs = feature_extractor(waveform, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).pooler_output[0].numpy()


def test_clip_embeddings_equal_the_models_pooler_output_for_each_clip(encoder, audio_folder):
    files = [audio_folder / name for name in CLIP_SECONDS]
    embeddings = embed_clips(*encoder, files, batch_size=2, progress=False)

    assert list(embeddings) == ["pooler_output"]
    assert embeddings["pooler_output"].shape == (3, tiny_config().hidden_size)
    assert embeddings["pooler_output"].dtype == np.float32
    for row, path in enumerate(files):
        # Measured: at most 3.6e-7 (batched and padded against alone).
        np.testing.assert_allclose(embeddings["pooler_output"][row], pooler_output_of(encoder, path), atol=2e-6)


def test_the_last_hidden_layer_embedding_is_the_pooler_output_and_earlier_layers_differ(encoder, audio_folder):
    files = [audio_folder / name for name in CLIP_SECONDS]
    last_layer = tiny_config().num_hidden_layers
    embeddings = embed_clips(*encoder, files, layers=[0, last_layer], progress=False)

    assert list(embeddings) == ["pooler_output", "hidden_state_0", f"hidden_state_{last_layer}"]
    # Measured: equal to the bit.
    np.testing.assert_allclose(embeddings[f"hidden_state_{last_layer}"], embeddings["pooler_output"], atol=1e-6)
    assert not np.allclose(embeddings["hidden_state_0"], embeddings["pooler_output"], atol=1e-3)


def test_a_layer_the_encoder_does_not_have_is_refused(encoder, audio_folder):
    with pytest.raises(ValueError, match=r"layers must lie in \[0, 2\]"):
        embed_clips(*encoder, [audio_folder / "rain.wav"], layers=[3], progress=False)


def test_a_dataset_gets_a_column_per_embedding(encoder, audio_folder):
    files = [str(audio_folder / name) for name in CLIP_SECONDS]
    dataset = datasets.Dataset.from_dict({"audio": files, "label": [0, 0, 1]}).cast_column("audio", datasets.Audio())

    embedded = add_embedding_columns(dataset, *encoder, layers=[1], batch_size=2)

    assert embedded.column_names == ["audio", "label", "pooler_output", "hidden_state_1"]
    expected = embed_clips(*encoder, files, layers=[1], progress=False)
    np.testing.assert_allclose(np.array(embedded["pooler_output"]), expected["pooler_output"], atol=1e-6)
    np.testing.assert_allclose(np.array(embedded["hidden_state_1"]), expected["hidden_state_1"], atol=1e-6)


def test_the_command_line_writes_an_audio_folders_embeddings_and_clip_names_to_safetensors(
    model_folder, audio_folder, encoder, tmp_path
):
    main([str(model_folder), str(audio_folder), str(tmp_path / "embeddings.safetensors"), "--batch_size", "2"])

    with safe_open(tmp_path / "embeddings.safetensors", framework="np") as file:
        clips = json.loads(file.metadata()["clips"])
        pooler_output = file.get_tensor("pooler_output")
    assert clips == sorted(CLIP_SECONDS)
    for row, name in enumerate(clips):
        np.testing.assert_allclose(pooler_output[row], pooler_output_of(encoder, audio_folder / name), atol=2e-6)


def test_the_command_line_writes_numpy_for_an_audio_folder(model_folder, audio_folder, tmp_path):
    main([str(model_folder), str(audio_folder), str(tmp_path / "embeddings.npz"), "--layers", "1"])

    saved = np.load(tmp_path / "embeddings.npz")
    assert list(saved["clips"]) == sorted(CLIP_SECONDS)
    assert saved["pooler_output"].shape == saved["hidden_state_1"].shape == (3, tiny_config().hidden_size)


def test_the_command_line_saves_a_dataset_with_its_embedding_columns(model_folder, audio_folder, tmp_path):
    files = [str(audio_folder / name) for name in CLIP_SECONDS]
    datasets.Dataset.from_dict({"audio": files}).cast_column("audio", datasets.Audio()).save_to_disk(tmp_path / "ds")

    main([str(model_folder), str(tmp_path / "ds"), str(tmp_path / "embedded")])

    embedded = datasets.load_from_disk(tmp_path / "embedded")
    assert embedded.column_names == ["audio", "pooler_output"]
    assert np.array(embedded["pooler_output"]).shape == (3, tiny_config().hidden_size)

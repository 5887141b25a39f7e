"""Integration with transformers: Auto classes, the audio-classification pipeline, Hub remote code."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile
import torch
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
    AudioMAEConfig,
    AudioMAEFeatureExtractor,
    AudioMAEForAudioClassification,
    AudioMAEForPreTraining,
    AudioMAEModel,
)

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
        import sys
        sys.modules["audiomae_hf"] = None  # any `import audiomae_hf` now raises ImportError
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
    environment = {"HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "remote code ok" in result.stdout

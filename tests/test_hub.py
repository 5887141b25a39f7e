import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.utils import filter_repo_objects
from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS

from audiomae_hf import (
    AudioMAEConfig,
    AudioMAEFeatureExtractor,
    AudioMAEForAudioClassification,
    AudioMAEForPreTraining,
)
from audiomae_hf.hub import OFFICIAL_WEIGHTS_LICENSE, push_model_folder, render_model_card, template_path

LABELS = {0: "chirp_up", 1: "pure_tone", 2: "click_train"}


def tiny_config(**overrides) -> AudioMAEConfig:
    fields = dict(
        num_mel_bins=32,
        target_length=64,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        decoder_hidden_size=32,
        decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2,
        decoder_attention="global",
        id2label=LABELS,
        label2id={label: index for index, label in LABELS.items()},
    )
    return AudioMAEConfig(**{**fields, **overrides})


def save_model_folder(model, folder: Path) -> Path:
    """Save the way the training scripts do: model, model code and feature extractor side by side."""
    config = model.config
    model.save_pretrained(folder)
    AudioMAEFeatureExtractor(
        feature_size=config.num_mel_bins, num_mel_bins=config.num_mel_bins, target_length=config.target_length
    ).save_pretrained(folder)
    return folder


@pytest.fixture
def classifier_folder(tmp_path) -> Path:
    return save_model_folder(AudioMAEForAudioClassification(tiny_config()), tmp_path / "classifier")


@pytest.fixture
def clip_in_working_directory(tmp_path, monkeypatch):
    """The snippets read `clip.wav`."""
    monkeypatch.chdir(tmp_path)
    soundfile.write("clip.wav", np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32), 16_000)


def classifier_card(**overrides) -> ModelCard:
    arguments = dict(
        license="mit",
        base_model="someone/audiomae-pretrained",
        datasets=["someone/sound-events"],
        eval_results={"accuracy": 0.925},
        eval_dataset="someone/sound-events",
        eval_split="test",
    )
    return render_model_card("fine-tuned", tiny_config(), "someone/audiomae-classifier", **{**arguments, **overrides})


def python_snippets(card: ModelCard) -> list[str]:
    return re.findall(r"```python\n(.*?)```", card.text, flags=re.DOTALL)


class RecordingHub:
    """Stands in for the Hub: remembers the repositories created and the files each upload would send."""

    def __init__(self):
        self.created = []
        self.uploaded = {}

    def create_repo(self, repo_id, **kwargs):
        self.created.append((repo_id, kwargs))

    def upload_folder(self, *, repo_id, folder_path, ignore_patterns=None, allow_patterns=None, **kwargs):
        # The same filter the real upload applies to the folder's files.
        folder_path = Path(folder_path)
        relative_paths = [
            path.relative_to(folder_path).as_posix() for path in sorted(folder_path.rglob("*")) if path.is_file()
        ]
        ignore = [*(ignore_patterns or []), *DEFAULT_IGNORE_PATTERNS]
        self.uploaded[repo_id] = {
            name: (folder_path / name).read_bytes()
            for name in filter_repo_objects(relative_paths, allow_patterns=allow_patterns, ignore_patterns=ignore)
        }


@pytest.fixture
def hub(monkeypatch) -> RecordingHub:
    recording = RecordingHub()
    monkeypatch.setattr(HfApi, "create_repo", lambda api, *args, **kwargs: recording.create_repo(*args, **kwargs))
    monkeypatch.setattr(HfApi, "upload_folder", lambda api, **kwargs: recording.upload_folder(**kwargs))
    return recording


def test_a_classifier_card_declares_the_library_the_pipeline_and_the_base_model():
    metadata = classifier_card().data
    assert metadata.library_name == "transformers"
    assert metadata.pipeline_tag == "audio-classification"
    assert metadata.base_model == "someone/audiomae-pretrained"
    assert metadata.datasets == ["someone/sound-events"]
    assert {"audio", "audio-mae", "audio-classification"} <= set(metadata.tags)


def test_a_classifier_card_reports_its_results_in_the_model_index():
    metadata = classifier_card().data
    assert metadata.metrics == ["accuracy"]
    [result] = metadata.eval_results
    assert (result.task_type, result.metric_type, result.metric_value) == ("audio-classification", "accuracy", 0.925)
    assert (result.dataset_type, result.dataset_split) == ("someone/sound-events", "test")
    assert "| someone/sound-events | test | accuracy | 0.9250 |" in classifier_card().text


def test_a_classifier_card_lists_the_classes():
    assert "`chirp_up`, `pure_tone`, `click_train`" in classifier_card().text


def test_a_card_carries_the_license_the_user_chose():
    assert classifier_card(license="apache-2.0").data.license == "apache-2.0"


def test_a_card_without_a_chosen_license_leaves_it_out_of_the_metadata():
    card = classifier_card(license=None)
    assert card.data.license is None
    assert "license:" not in card.content.split("---")[1]


def test_a_converted_official_checkpoint_is_licensed_cc_by_nc():
    card = render_model_card("pretrained", AudioMAEConfig(), "someone/audiomae-base", converted_from="pretrained.pth")
    assert card.data.license == OFFICIAL_WEIGHTS_LICENSE == "cc-by-nc-4.0"
    assert "Source checkpoint: pretrained.pth" in card.text


def test_a_converted_official_checkpoint_refuses_a_more_permissive_license():
    with pytest.raises(ValueError, match="cc-by-nc-4.0"):
        render_model_card("pretrained", AudioMAEConfig(), "someone/audiomae-base", license="mit", converted_from="x")


def test_a_pretrained_card_has_no_pipeline_and_describes_the_decoder():
    card = render_model_card("pretrained", AudioMAEConfig(), "someone/audiomae-base")
    assert card.data.pipeline_tag is None
    assert {"audio", "audio-mae", "masked-autoencoder"} <= set(card.data.tags)
    assert "16 layers, width 512, 16 heads, local attention in 4x4-patch windows" in card.text
    assert "80% of the patches hidden at random" in card.text


def test_results_without_the_dataset_they_were_measured_on_are_rejected():
    with pytest.raises(ValueError, match="eval_dataset"):
        classifier_card(eval_dataset=None)


def test_an_unknown_card_kind_is_rejected():
    with pytest.raises(ValueError, match="fine-tuned"):
        render_model_card("distilled", tiny_config(), "someone/model")


def test_the_card_templates_ship_inside_the_package():
    for kind in ("pretrained", "fine-tuned"):
        assert "{{ card_data }}" in template_path(kind).read_text()


def test_the_usage_snippets_install_the_package_and_also_load_as_remote_code():
    card = classifier_card()
    assert "pip install audiomae-hf" in card.text
    package_snippet, remote_code_snippet = python_snippets(card)
    assert "import audiomae_hf" in package_snippet
    assert 'pipeline("audio-classification", model="someone/audiomae-classifier")' in package_snippet
    assert "import audiomae_hf" not in remote_code_snippet
    assert 'from_pretrained("someone/audiomae-classifier", trust_remote_code=True)' in remote_code_snippet


@pytest.mark.usefixtures("clip_in_working_directory")
def test_the_classifier_usage_snippets_run_against_a_saved_folder(classifier_folder):
    card = render_model_card("fine-tuned", tiny_config(), str(classifier_folder))
    for snippet in python_snippets(card):
        exec(compile(snippet, "model card snippet", "exec"), {})


@pytest.mark.usefixtures("clip_in_working_directory")
def test_the_pretrained_usage_snippets_run_against_a_saved_folder(tmp_path):
    folder = save_model_folder(AudioMAEForPreTraining(tiny_config()), tmp_path / "pretrained")
    card = render_model_card("pretrained", tiny_config(), str(folder))
    assert len(python_snippets(card)) == 3
    for snippet in python_snippets(card):
        exec(compile(snippet, "model card snippet", "exec"), {})


def test_push_uploads_the_weights_the_code_the_feature_extractor_and_the_card(classifier_folder, hub):
    push_model_folder(classifier_folder, "someone/audiomae-classifier", card=classifier_card())

    assert [repo_id for repo_id, _ in hub.created] == ["someone/audiomae-classifier"]
    uploaded = hub.uploaded["someone/audiomae-classifier"]
    assert set(uploaded) == {
        "model.safetensors",
        "config.json",
        "configuration_audiomae.py",
        "modeling_audiomae.py",
        "feature_extraction_audiomae.py",
        "pipeline_audiomae.py",
        "audio_decoding.py",
        "preprocessor_config.json",
        "README.md",
    }
    assert json.loads(uploaded["config.json"])["auto_map"] == {
        "AutoConfig": "configuration_audiomae.AudioMAEConfig",
        "AutoModel": "modeling_audiomae.AudioMAEModel",
        "AutoModelForPreTraining": "modeling_audiomae.AudioMAEForPreTraining",
        "AutoModelForAudioClassification": "modeling_audiomae.AudioMAEForAudioClassification",
    }
    assert json.loads(uploaded["preprocessor_config.json"])["auto_map"] == {
        "AutoFeatureExtractor": "feature_extraction_audiomae.AudioMAEFeatureExtractor"
    }
    metadata = ModelCard(uploaded["README.md"].decode()).data
    assert (metadata.license, metadata.library_name, metadata.pipeline_tag) == (
        "mit",
        "transformers",
        "audio-classification",
    )
    assert metadata.base_model == "someone/audiomae-pretrained"
    assert metadata.eval_results[0].metric_value == 0.925


def test_push_leaves_trainer_checkpoints_and_logs_behind(classifier_folder, hub):
    (classifier_folder / "checkpoint-100").mkdir()
    (classifier_folder / "checkpoint-100" / "optimizer.pt").write_bytes(b"state")
    (classifier_folder / "runs").mkdir()
    (classifier_folder / "runs" / "events.out.tfevents").write_bytes(b"log")

    push_model_folder(classifier_folder, "someone/audiomae-classifier", card=classifier_card())

    assert not any(name.startswith(("checkpoint-", "runs/")) for name in hub.uploaded["someone/audiomae-classifier"])


def test_push_keeps_a_card_already_in_the_folder(classifier_folder, hub):
    classifier_card(license="apache-2.0").save(classifier_folder / "README.md")
    push_model_folder(classifier_folder, "someone/audiomae-classifier")
    assert b"license: apache-2.0" in hub.uploaded["someone/audiomae-classifier"]["README.md"]


def test_push_refuses_a_folder_without_a_card(classifier_folder, hub):
    with pytest.raises(FileNotFoundError, match="README.md"):
        push_model_folder(classifier_folder, "someone/audiomae-classifier")
    assert hub.created == []


def test_push_refuses_a_folder_without_its_feature_extractor(classifier_folder, hub):
    (classifier_folder / "preprocessor_config.json").unlink()
    with pytest.raises(FileNotFoundError, match="preprocessor_config.json"):
        push_model_folder(classifier_folder, "someone/audiomae-classifier", card=classifier_card())
    assert hub.created == []

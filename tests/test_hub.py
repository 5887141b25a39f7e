import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.utils import filter_repo_objects
from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS
from remote_code import run_without_the_package

from audiomae_hf import (
    AudioMAEConfig,
    AudioMAEFeatureExtractor,
    AudioMAEForAudioClassification,
    AudioMAEForPreTraining,
)
from audiomae_hf.hub import (
    OFFICIAL_WEIGHTS_LICENSE,
    push_model_folder,
    render_model_card,
    render_training_card,
    template_path,
)
from audiomae_hf.training_arguments import AudioDataArguments, FineTuningArguments, ModelArguments

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
def clip_in_working_directory(tmp_path, monkeypatch) -> Path:
    """The snippets read `clip.wav`: here a 44.1 kHz stereo file, as users have them."""
    monkeypatch.chdir(tmp_path)
    channels = np.random.default_rng(0).normal(0, 0.1, (44_100, 2)).astype(np.float32)
    soundfile.write("clip.wav", channels, 44_100)
    return tmp_path


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


def test_a_pretrained_card_is_tagged_for_feature_extraction_and_describes_the_decoder():
    card = render_model_card("pretrained", AudioMAEConfig(), "someone/audiomae-base")
    assert card.data.pipeline_tag == "feature-extraction"
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


def test_the_cards_install_from_the_repository_not_from_pypi():
    for card in (classifier_card(), render_model_card("pretrained", tiny_config(), "someone/audiomae-base")):
        assert "pip install audiomae-hf" not in card.text
        assert "pypi.org" not in card.text
        prose = " ".join(card.text.split())
        assert "not on PyPI: install it from a checkout of its repository with `pip install .`" in prose
        assert "pip install transformers torch soundfile soxr" in card.text


def test_the_classifier_card_leads_with_the_remote_code_pipeline_then_the_package():
    remote_code_snippet, package_snippet = python_snippets(classifier_card())
    assert "import audiomae_hf" not in remote_code_snippet
    assert 'pipeline(model="someone/audiomae-classifier", trust_remote_code=True)' in remote_code_snippet
    assert "import audiomae_hf" in package_snippet
    assert 'pipeline("audio-classification", model="someone/audiomae-classifier")' in package_snippet


def test_the_cards_say_what_the_model_is_for_and_where_it_stops():
    classifier_text = classifier_card().text
    assert "## Intended use and limitations" in classifier_text
    assert "only the first 0.64 s of a clip are used" in " ".join(classifier_text.split())
    pretrained_text = render_model_card("pretrained", tiny_config(), "someone/audiomae-base").text
    assert "This model does not classify by itself." in pretrained_text


def test_a_card_of_official_weights_warns_against_commercial_use():
    card = render_model_card("pretrained", tiny_config(), "someone/audiomae-base", converted_from="pretrained.pth")
    assert "**Non-commercial:** CC BY-NC 4.0 forbids commercial use" in card.text
    assert "Non-commercial" not in classifier_card(license="mit").text


@pytest.mark.usefixtures("clip_in_working_directory")
def test_the_classifier_package_snippet_classifies_a_44khz_stereo_file(classifier_folder, capsys):
    card = render_model_card("fine-tuned", tiny_config(), str(classifier_folder))
    package_snippet = python_snippets(card)[1]
    exec(compile(package_snippet, "model card snippet", "exec"), {})
    predictions = ast.literal_eval(capsys.readouterr().out.strip())
    assert sorted(prediction["label"] for prediction in predictions) == sorted(LABELS.values())
    assert sum(prediction["score"] for prediction in predictions) == pytest.approx(1.0, abs=1e-4)


def test_the_classifier_remote_code_snippet_classifies_a_44khz_stereo_file_without_the_package(
    classifier_folder, clip_in_working_directory
):
    config = json.loads((classifier_folder / "config.json").read_text())
    if "custom_pipelines" not in config:
        pytest.skip("saved folders carry no custom_pipelines entry: the remote pipeline is the stock one (FFmpeg)")
    card = render_model_card("fine-tuned", tiny_config(), str(classifier_folder))
    remote_code_snippet = python_snippets(card)[0]
    predictions = ast.literal_eval(run_without_the_package(remote_code_snippet, clip_in_working_directory).strip())
    assert sorted(prediction["label"] for prediction in predictions) == sorted(LABELS.values())


@pytest.fixture
def pretrained_folder(tmp_path) -> Path:
    return save_model_folder(AudioMAEForPreTraining(tiny_config()), tmp_path / "pretrained")


def test_the_pretrained_embedding_snippet_runs_without_the_package_on_a_44khz_stereo_file(
    pretrained_folder, clip_in_working_directory
):
    card = render_model_card("pretrained", tiny_config(), str(pretrained_folder))
    embedding_snippet = python_snippets(card)[0]
    assert "pooler_output" in embedding_snippet
    printed = run_without_the_package(embedding_snippet, clip_in_working_directory)
    assert printed.strip() == f"torch.Size([1, {tiny_config().hidden_size}])"


@pytest.mark.usefixtures("clip_in_working_directory")
def test_the_pretrained_fine_tuning_and_reconstruction_snippets_run_against_a_saved_folder(pretrained_folder, capsys):
    card = render_model_card("pretrained", tiny_config(), str(pretrained_folder))
    _, fine_tuning_snippet, reconstruction_snippet = python_snippets(card)
    namespace = {}
    exec(compile(fine_tuning_snippet, "model card snippet", "exec"), namespace)
    assert namespace["model"].config.num_labels == 10
    exec(compile(reconstruction_snippet, "model card snippet", "exec"), {})
    loss, shape = capsys.readouterr().out.split(" torch.Size")
    assert float(loss.removeprefix("tensor(").split(",")[0].rstrip(")")) > 0
    assert shape.strip() == "([1, 64, 32])"


def test_push_uploads_the_weights_the_code_the_feature_extractor_and_the_card(classifier_folder, hub):
    push_model_folder(classifier_folder, "someone/audiomae-classifier", card=classifier_card())

    assert [repo_id for repo_id, _ in hub.created] == ["someone/audiomae-classifier"]
    uploaded = hub.uploaded["someone/audiomae-classifier"]
    model_files = {
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
    assert model_files <= set(uploaded)
    # Besides, only the rest of the code save_pretrained copies for remote code (the pipeline's, when it does).
    assert all(name.endswith(".py") for name in set(uploaded) - model_files)
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


HUB_TOKEN = "hf_TestTokenThatMustNeverBeUploaded0123"


def write_trainer_leftovers(folder: Path) -> None:
    """What `Trainer` leaves in its output folder after `--hub_token`: its arguments pickled, token included."""
    from transformers import TrainingArguments

    torch.save(TrainingArguments(output_dir=str(folder), hub_token=HUB_TOKEN), folder / "training_args.bin")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 10}))
    (folder / "optimizer.pt").write_bytes(b"optimizer state")
    (folder / "rng_state.pth").write_bytes(b"rng state")


def test_push_of_a_training_output_folder_uploads_no_token(classifier_folder, hub):
    write_trainer_leftovers(classifier_folder)
    assert HUB_TOKEN.encode() in (classifier_folder / "training_args.bin").read_bytes()

    push_model_folder(classifier_folder, "someone/audiomae-classifier", card=classifier_card())

    uploaded = hub.uploaded["someone/audiomae-classifier"]
    assert "config.json" in uploaded
    assert not [name for name, contents in uploaded.items() if HUB_TOKEN.encode() in contents]
    assert not [name for name in uploaded if name.endswith((".bin", ".pt", ".pth"))]


def test_push_refuses_a_folder_whose_uploaded_files_hold_the_token(classifier_folder, hub):
    config = json.loads((classifier_folder / "config.json").read_text())
    (classifier_folder / "config.json").write_text(json.dumps({**config, "note": f"token {HUB_TOKEN}"}))

    with pytest.raises(ValueError, match="config.json contains a Hugging Face token"):
        push_model_folder(classifier_folder, "someone/audiomae-classifier", card=classifier_card(), token=HUB_TOKEN)
    assert hub.created == [] and hub.uploaded == {}


def test_push_refuses_a_file_holding_the_token_stored_by_hf_auth_login(classifier_folder, hub, monkeypatch):
    monkeypatch.setattr("audiomae_hf.hub.get_token", lambda: HUB_TOKEN)
    (classifier_folder / "notes.txt").write_text(f"HF_TOKEN={HUB_TOKEN}\n")

    with pytest.raises(ValueError, match="notes.txt"):
        push_model_folder(classifier_folder, "someone/audiomae-classifier", card=classifier_card())
    assert hub.uploaded == {}


def training_run(tmp_path, base: str, **data) -> tuple:
    """The arguments of `run_audio_classification` fine-tuning `base` on local audio folders, into a temporary
    output folder, the way the script parses them."""
    training_args = FineTuningArguments(output_dir=str(tmp_path / "run-output"), lr_scheduler_type="cosine")
    model_args = ModelArguments(model_name_or_path=base)
    data_args = AudioDataArguments(
        **(data or {"train_dir": str(tmp_path / "train"), "eval_dir": str(tmp_path / "eval")})
    )
    return training_args, model_args, data_args


@pytest.fixture
def converted_base(tmp_path) -> Path:
    """A folder as the converter writes it from the official weights: its card says cc-by-nc-4.0."""
    folder = save_model_folder(AudioMAEForPreTraining(tiny_config()), tmp_path / "audiomae-official")
    render_model_card("pretrained", tiny_config(), "audiomae-official", converted_from="pretrained.pth").save(
        folder / "README.md"
    )
    return folder


def render_fine_tuning_card(tmp_path, base: str, metrics=None, **data) -> ModelCard:
    training_args, model_args, data_args = training_run(tmp_path, base, **data)
    metrics = metrics or {"eval_accuracy": 0.8125, "eval_loss": 0.5}
    return render_training_card("fine-tuned", tiny_config(), training_args, model_args, data_args, metrics)


def test_a_classifier_fine_tuned_from_converted_official_weights_inherits_cc_by_nc(tmp_path, converted_base):
    card = render_fine_tuning_card(tmp_path, str(converted_base))
    assert card.data.license == OFFICIAL_WEIGHTS_LICENSE
    assert "`cc-by-nc-4.0`, inherited from the weights these were trained from (audiomae-official)" in card.text
    assert "**Non-commercial:**" in card.text


def test_a_training_card_holds_no_local_path(tmp_path, converted_base):
    card = render_fine_tuning_card(tmp_path, str(converted_base))
    assert str(tmp_path) not in card.content
    assert "/tmp" not in card.content
    metadata = ModelCard(card.content).data  # what the Hub parses back
    assert metadata.base_model is None and metadata.datasets is None
    [result] = metadata.eval_results
    assert (result.dataset_name, result.dataset_type, result.metric_value) == ("eval", "audiofolder", 0.8125)
    assert metadata.model_name == "run-output"


def test_a_training_card_records_a_hub_base_model_and_dataset_and_their_license(tmp_path, monkeypatch):
    base_card = ModelCard("---\nlicense: cc-by-nc-4.0\n---\n# base")
    monkeypatch.setattr(ModelCard, "load", classmethod(lambda cls, repo_id, **kwargs: base_card))
    card = render_fine_tuning_card(
        tmp_path, "someone/audiomae-pretrained", dataset_name="someone/sound-events", eval_split_name="test"
    )
    metadata = ModelCard(card.content).data
    assert metadata.base_model == "someone/audiomae-pretrained"
    assert metadata.datasets == ["someone/sound-events"]
    assert metadata.license == "cc-by-nc-4.0"
    [result] = metadata.eval_results
    assert (result.dataset_type, result.dataset_split) == ("someone/sound-events", "test")


def test_a_training_card_without_the_hub_leaves_the_license_out(tmp_path, monkeypatch):
    def offline(cls, repo_id, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(ModelCard, "load", classmethod(offline))
    card = render_fine_tuning_card(tmp_path, "someone/audiomae-pretrained", dataset_name="someone/sound-events")
    assert card.data.license is None
    assert card.data.base_model == "someone/audiomae-pretrained"


def test_a_training_card_writes_hyperparameters_as_plain_values(tmp_path, converted_base):
    text = render_fine_tuning_card(tmp_path, str(converted_base)).text
    assert "| lr_scheduler_type | cosine |" in text
    assert "SchedulerType" not in text
    assert "| adam_betas | (0.9, 0.999) |" in text


def test_a_training_card_refuses_to_relax_the_license_of_official_weights(tmp_path, converted_base):
    training_args, model_args, data_args = training_run(tmp_path, str(converted_base))
    with pytest.raises(ValueError, match="must stay so"):
        render_training_card(
            "fine-tuned", tiny_config(), training_args, model_args, data_args, {"eval_accuracy": 0.5}, license="mit"
        )

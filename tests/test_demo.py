"""The demo's pipeline, end to end with tiny settings (`--quick`): what it writes and reports, not how well it learns."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import ModelCard
from transformers import pipeline

from audiomae_hf.synthetic import SOUND_EVENT_CLASSES

DEMO_SCRIPT = Path(__file__).parents[1] / "scripts" / "demo.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_demo():
    spec = importlib.util.spec_from_file_location("demo", DEMO_SCRIPT)
    demo = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules.
    sys.modules["demo"] = demo
    spec.loader.exec_module(demo)
    return demo


@pytest.fixture(scope="module")
def demo():
    return load_demo()


@pytest.fixture(scope="module")
def quick_run(demo, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("demo_output")
    return output_dir, demo.main(["--quick", "--output_dir", str(output_dir)])


def test_the_demo_reports_the_accuracy_of_both_classifiers(quick_run):
    _, summary = quick_run
    assert set(summary["accuracies"]) == {"fine-tuned", "scratch"}
    assert all(0.0 <= accuracy <= 1.0 for accuracy in summary["accuracies"].values())


def test_the_reported_accuracy_is_what_the_saved_classifier_scores_in_the_pipeline(quick_run):
    # The quick run's accuracy itself means nothing; but the Trainer's evaluation and the saved folder in the pipeline
    # must see the same features and labels, or the number the demo reports is not the model's.
    output_dir, summary = quick_run
    classifier = pipeline("audio-classification", model=str(output_dir / "classifier"))
    clips = sorted((output_dir / "corpus" / "eval").glob("*/*.wav"))
    right = [classifier(str(clip), top_k=1)[0]["label"] == clip.parent.name for clip in clips]
    assert len(clips) == 12 and np.mean(right) == pytest.approx(summary["accuracies"]["fine-tuned"], abs=1e-9)


def test_the_demo_writes_the_corpus_in_audiofolder_layout(demo, quick_run):
    output_dir, _ = quick_run
    assert set(demo.DEMO_CLASSES) <= set(SOUND_EVENT_CLASSES)
    for split in ("pretrain", "train", "eval"):
        assert sorted(path.name for path in (output_dir / "corpus" / split).iterdir()) == sorted(demo.DEMO_CLASSES)


def test_the_demo_saves_a_complete_classifier_folder_with_its_card(demo, quick_run):
    output_dir, summary = quick_run
    classifier_dir = output_dir / "classifier"
    for name in ("model.safetensors", "preprocessor_config.json", "modeling_audiomae.py", "README.md"):
        assert (classifier_dir / name).is_file()
    config = json.loads((classifier_dir / "config.json").read_text())
    assert config["auto_map"]["AutoModelForAudioClassification"] == "modeling_audiomae.AudioMAEForAudioClassification"
    assert sorted(config["id2label"].values()) == sorted(demo.DEMO_CLASSES)
    card = ModelCard.load(classifier_dir / "README.md")
    assert (card.data.library_name, card.data.pipeline_tag) == ("transformers", "audio-classification")
    assert card.data.eval_results[0].metric_value == summary["accuracies"]["fine-tuned"]
    assert card.data.license == "apache-2.0"
    assert str(output_dir) not in card.content


def test_the_demo_saves_the_pretrained_model_with_its_card(quick_run):
    output_dir, _ = quick_run
    pretrained_dir = output_dir / "pretrained"
    assert (pretrained_dir / "model.safetensors").is_file()
    card = ModelCard.load(pretrained_dir / "README.md")
    assert "masked-autoencoder" in card.data.tags
    assert (card.data.license, card.data.pipeline_tag) == ("apache-2.0", "feature-extraction")
    assert str(output_dir) not in card.content


def test_the_demo_classifies_held_out_files_with_the_pipeline(demo, quick_run):
    output_dir, summary = quick_run
    assert summary["predictions"]
    for prediction in summary["predictions"]:
        assert prediction["file"].parent.parent == output_dir / "corpus" / "eval"
        assert prediction["predicted"] in demo.DEMO_CLASSES
        assert 0.0 <= prediction["score"] <= 1.0


def test_the_demo_plots_reconstructions_and_training_curves_as_png(quick_run):
    output_dir, summary = quick_run
    for name in ("reconstructions.png", "training_curves.png"):
        assert (output_dir / name).read_bytes().startswith(PNG_SIGNATURE)
        assert output_dir / name in summary["written"].values()

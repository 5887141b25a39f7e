"""Specification of the paper's fine-tuning recipes: the presets, how a command line applies them, the manifests of the
downstream corpora, and every recipe run end to end on a synthetic stand-in of its corpus with a tiny model."""

import json
import math
from collections import Counter
from pathlib import Path

import pytest
import soundfile

from audiomae_hf.downstream_data import (
    SILENCE_LABEL,
    SPEECH_COMMANDS_V1_WORDS,
    UNKNOWN_LABEL,
    audioset_label_names_file,
    audioset_manifest,
    esc50_at_16k,
    esc50_fold_manifests,
    speech_commands_manifests,
    voxceleb1_manifests,
)
from audiomae_hf.recipes import RECIPES, apply_recipe, render_recipe_tables
from audiomae_hf.run_audio_classification import (
    ClassificationDataArguments,
    ClassificationModelArguments,
    FineTuningArguments,
)
from audiomae_hf.run_audio_classification import main as run_audio_classification
from audiomae_hf.run_cross_validation import main as run_cross_validation
from audiomae_hf.synthetic import (
    write_audioset_standin,
    write_esc50_standin,
    write_speech_commands_standin,
    write_voxceleb1_standin,
)
from audiomae_hf.training_arguments import parse_script_arguments

REPOSITORY = Path(__file__).resolve().parents[1]
# 128 frames x 32 mel bins, 2 layers of width 32: the recipes' 1024- and 512-frame inputs are cropped to 1.28 s
# with an explicit --target_length 128; the Speech Commands recipes run at their own 128 frames.
TINY_MODEL = (
    "hidden_size=32,num_hidden_layers=2,num_attention_heads=2,decoder_hidden_size=32,decoder_num_hidden_layers=2,"
    "decoder_num_attention_heads=2,decoder_attention=global,num_mel_bins=32,target_length=128"
)
FEW_STEPS = ["--max_steps", "2", "--per_device_train_batch_size", "4", "--disable_tqdm", "true"]
QUIET = ["--report_to", "none", "--save_strategy", "no", "--config_overrides", TINY_MODEL]
EXTRA_WORDS = ("bed", "bird", "cat", "dog")


def parse(argv):
    """The fine-tuning script's arguments for `argv`, as its `main` parses them."""
    return parse_script_arguments(
        (ClassificationModelArguments, ClassificationDataArguments, FineTuningArguments), apply_recipe(argv)
    )


def read_manifest(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def labels_of(path):
    return Counter(
        row["label"] if isinstance(row["label"], str) else tuple(row["label"]) for row in read_manifest(path)
    )


# The presets


def test_every_recipe_value_names_its_source():
    for recipe in RECIPES.values():
        for name, setting in {**recipe.flags, **recipe.config}.items():
            assert setting.source.strip(), f"{recipe.name}: {name} has no source"


def test_a_recipe_sets_the_fine_tuning_arguments(tmp_path):
    model_args, data_args, training_args = parse(["--recipe", "esc50", "--output_dir", str(tmp_path)])
    assert data_args.recipe == "esc50"
    assert (training_args.num_train_epochs, training_args.per_device_train_batch_size) == (60, 16)
    assert (training_args.base_learning_rate, training_args.weight_decay, training_args.layer_decay) == (
        1e-3,
        1e-4,
        0.75,
    )
    assert (training_args.freqm, training_args.timem, training_args.mixup) == (24, 96, 0.0)
    assert (model_args.target_length, model_args.drop_path_rate) == (512, 0.1)
    assert (model_args.fbank_mean, model_args.fbank_std) == (-6.6268077, 5.358466)
    config = model_args.load_config()
    assert (config.mask_time_prob, config.mask_frequency_prob, config.num_mel_bins) == (0.3, 0.3, 128)


def test_every_recipe_parses_into_the_values_it_lists(tmp_path):
    for recipe in RECIPES.values():
        parsed = parse(["--recipe", recipe.name, "--output_dir", str(tmp_path)])
        for flag, setting in recipe.flags.items():
            value = next(getattr(args, flag) for args in parsed if hasattr(args, flag))
            assert value == setting.value, f"{recipe.name}: --{flag}"
        config = parsed[0].load_config()
        for name, setting in recipe.config.items():
            assert getattr(config, name) == setting.value, f"{recipe.name}: {name}"


def test_explicit_flags_win_over_the_recipe(tmp_path):
    model_args, _, training_args = parse(
        ["--recipe", "as20k", "--num_train_epochs", "3", "--mixup=0.1", "--no_roll_mag_aug"]
        + ["--target-length", "256", "--output_dir", str(tmp_path)]
    )
    assert (training_args.num_train_epochs, training_args.mixup, training_args.roll_mag_aug) == (3, 0.1, False)
    assert model_args.target_length == 256
    assert training_args.base_learning_rate == 1e-3  # not given: the recipe's


def test_config_overrides_merge_with_the_recipe_field_by_field(tmp_path):
    model_args, _, _ = parse(
        [
            "--recipe",
            "spc2",
            "--config_overrides",
            "mask_time_prob=0.0,num_hidden_layers=4",
            "--output_dir",
            str(tmp_path),
        ]
    )
    config = model_args.load_config()
    assert (config.mask_time_prob, config.mask_frequency_prob, config.num_hidden_layers) == (0.0, 0.3, 4)


def test_a_json_file_of_arguments_can_name_a_recipe_and_override_it(tmp_path):
    arguments = tmp_path / "args.json"
    arguments.write_text(
        json.dumps({"recipe": "sid", "output_dir": str(tmp_path), "num_train_epochs": 5, "roll_mag_aug": False})
    )
    _, data_args, training_args = parse([str(arguments)])
    assert data_args.recipe == "sid"
    assert (training_args.num_train_epochs, training_args.roll_mag_aug) == (5, False)
    assert (training_args.timem, training_args.freqm) == (192, 48)


def test_a_command_line_without_a_recipe_is_left_as_it_is():
    argv = ["--train_dir", "data", "--mixup", "0"]
    assert apply_recipe(argv) == argv


def test_an_unknown_recipe_is_rejected_naming_the_known_ones():
    with pytest.raises(ValueError, match="as2m, as20k, esc50, spc2, spc1, sid"):
        apply_recipe(["--recipe", "esc10"])


def test_where_the_release_disagrees_the_recipe_follows_the_paper():
    esc50 = RECIPES["esc50"].flags
    # Paper Table 3: SpecAug 96/24 (time/frequency); main_finetune_esc.py swaps them (freqm 96, timem 24).
    assert (esc50["timem"].value, esc50["freqm"].value) == (96, 24)
    assert esc50["timem"].release and esc50["freqm"].release
    as20k = RECIPES["as20k"]
    assert as20k.config["mask_time_prob"].value == 0.3 and "0.2" in as20k.config["mask_time_prob"].release


def test_as2m_draws_100_epochs_of_200000_balanced_clips_at_batch_512():
    flags = RECIPES["as2m"].flags
    assert flags["class_balanced_sampling"].value
    assert flags["max_steps"].value == math.ceil(100 * 200_000 / 512)
    assert flags["per_device_train_batch_size"].value * RECIPES["as2m"].paper_gpus == 512


def test_the_docs_table_is_the_recipes_table():
    assert render_recipe_tables() in (REPOSITORY / "docs" / "reproduce.md").read_text()


# Manifests of the downstream corpora


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Synthetic stand-ins of the five corpora, shaped like the real ones, and their manifests."""
    root = tmp_path_factory.mktemp("corpora")
    speech_v1 = SPEECH_COMMANDS_V1_WORDS + EXTRA_WORDS
    return {
        "esc50": write_esc50_standin(root / "ESC-50-master"),
        "spc2": speech_commands_manifests(
            write_speech_commands_standin(root / "speech_commands_v0.02", ("yes", "no", "bed")), root / "spc2", 2
        ),
        "spc1": speech_commands_manifests(
            write_speech_commands_standin(root / "speech_commands_v0.01", speech_v1), root / "spc1", 1
        ),
        "audioset": {
            split: audioset_manifest(
                write_audioset_standin(root / split, seed=seed), root / split / "audio", root / f"{split}.jsonl"
            )[0]
            for seed, split in enumerate(("balanced_train", "eval"))
        }
        | {"labels": audioset_label_names_file(root / "labels.txt")},
        "voxceleb1": voxceleb1_manifests(write_voxceleb1_standin(root / "vox1"), root / "vox1_manifests"),
    }


def test_esc50_evaluates_one_fold_and_trains_on_the_other_four(corpora, tmp_path):
    train, evaluation = esc50_fold_manifests(corpora["esc50"], tmp_path, eval_fold=3)
    train_files = [Path(row["audio"]).name for row in read_manifest(train)]
    eval_files = [Path(row["audio"]).name for row in read_manifest(evaluation)]
    assert eval_files and all(name.startswith("3-") for name in eval_files)
    assert len(train_files) == 4 * len(eval_files) and not any(name.startswith("3-") for name in train_files)
    assert set(labels_of(evaluation)) == {"dog", "rooster", "rain"}


def test_esc50_is_resampled_once_to_16_khz_in_its_own_layout(corpora, tmp_path):
    copy = esc50_at_16k(corpora["esc50"], tmp_path / "esc50_16k")
    originals = sorted(path.name for path in (corpora["esc50"] / "audio").iterdir())
    assert sorted(path.name for path in (copy / "audio").iterdir()) == originals
    info = soundfile.info(copy / "audio" / originals[0])
    assert (info.samplerate, info.channels, info.duration) == (16_000, 1, 5.0)
    assert (copy / "meta" / "esc50.csv").read_bytes() == (corpora["esc50"] / "meta" / "esc50.csv").read_bytes()


def test_speech_commands_splits_follow_the_validation_and_testing_lists(corpora):
    root = corpora["esc50"].parent / "speech_commands_v0.02"
    listed = {
        split: {line for line in (root / name).read_text().splitlines()}
        for split, name in (("validation", "validation_list.txt"), ("test", "testing_list.txt"))
    }
    for split in ("validation", "test"):
        files = {"/".join(Path(row["audio"]).parts[-2:]) for row in read_manifest(corpora["spc2"][split])}
        assert files == listed[split]
    train_files = {"/".join(Path(row["audio"]).parts[-2:]) for row in read_manifest(corpora["spc2"]["train"])}
    assert not train_files & (listed["validation"] | listed["test"])
    assert set(labels_of(corpora["spc2"]["train"])) == {"yes", "no", "bed"}


def test_speech_commands_v1_has_ten_words_silence_and_unknown(corpora):
    for split in ("train", "validation", "test"):
        assert set(labels_of(corpora["spc1"][split])) == {*SPEECH_COMMANDS_V1_WORDS, SILENCE_LABEL, UNKNOWN_LABEL}


def test_speech_commands_v1_repeats_training_classes_to_half_the_unknown_class(corpora):
    counts = labels_of(corpora["spc1"]["train"])
    # 4 other words x 2 clips are unknown; each target word has 2 clips, repeated to 4.
    assert counts[UNKNOWN_LABEL] == 2 * len(EXTRA_WORDS)
    assert {counts[label] for label in counts if label != UNKNOWN_LABEL} == {counts[UNKNOWN_LABEL] // 2}


def test_an_audioset_manifest_holds_display_names_and_leaves_out_missing_clips(corpora):
    rows = read_manifest(corpora["audioset"]["balanced_train"])
    assert len(rows) == 12  # the stand-in's 13th segment has no clip
    assert {name for row in rows for name in row["label"]} == {"Speech", "Music", "Animal"}
    assert any(len(row["label"]) == 2 for row in rows)
    assert len(corpora["audioset"]["labels"].read_text().splitlines()) == 527


def test_voxceleb1_splits_follow_iden_split(corpora):
    manifests = corpora["voxceleb1"]
    counts = {split: len(read_manifest(path)) for split, path in manifests.items()}
    assert counts == {"train": 6, "validation": 3, "test": 3}
    assert set(labels_of(manifests["test"])) == {"id10001", "id10002", "id10003"}


# Every recipe end to end


def recipe_sources(corpora, name):
    if name in ("as2m", "as20k"):
        audioset = corpora["audioset"]
        return ["--train_file", str(audioset["balanced_train"]), "--eval_file", str(audioset["eval"])] + [
            "--label_names_file",
            str(audioset["labels"]),
        ]
    if name in ("spc2", "spc1"):
        return ["--train_file", str(corpora[name]["train"]), "--eval_file", str(corpora[name]["test"])]
    return ["--train_file", str(corpora["voxceleb1"]["train"]), "--eval_file", str(corpora["voxceleb1"]["test"])]


@pytest.mark.parametrize("name", ["as2m", "as20k", "spc2", "spc1", "sid"])
def test_a_recipe_fine_tunes_and_evaluates_on_its_corpus(corpora, tmp_path, name):
    shrink = [] if RECIPES[name].flags["target_length"].value == 128 else ["--target_length", "128"]
    metrics = run_audio_classification(
        ["--recipe", name, *recipe_sources(corpora, name), "--output_dir", str(tmp_path), "--do_train", "--do_eval"]
        + FEW_STEPS
        + QUIET
        + shrink
    )
    assert 0.0 <= metrics[f"eval_{RECIPES[name].metric}"] <= 1.0
    assert metrics["train_loss"] > 0
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["problem_type"] == (
        "multi_label_classification" if RECIPES[name].flags["multi_label"].value else "single_label_classification"
    )


def test_a_shorter_target_length_is_the_feature_extractors_while_the_model_keeps_its_own(corpora, tmp_path):
    train, evaluation = esc50_fold_manifests(corpora["esc50"], tmp_path / "manifests", eval_fold=1)
    run_audio_classification(
        [
            "--recipe",
            "esc50",
            "--train_file",
            str(train),
            "--eval_file",
            str(evaluation),
            "--output_dir",
            str(tmp_path),
        ]
        + ["--do_train", "--do_eval", "--target_length", "64", *FEW_STEPS, *QUIET]
    )
    # The model keeps its 128-frame position table and reads 64-frame inputs from its first rows.
    assert json.loads((tmp_path / "config.json").read_text())["target_length"] == 128
    assert json.loads((tmp_path / "preprocessor_config.json").read_text())["target_length"] == 64


def test_esc50_cross_validation_reports_every_fold_and_their_mean(corpora, tmp_path):
    results = run_cross_validation(
        ["--esc50_dir", str(corpora["esc50"]), "--output_dir", str(tmp_path), "--target_length", "128"]
        + FEW_STEPS
        + QUIET
    )
    assert sorted(results["per_fold_accuracy"]) == [1, 2, 3, 4, 5]
    assert results["mean_accuracy"] == pytest.approx(sum(results["per_fold_accuracy"].values()) / 5)
    written = json.loads((tmp_path / "cross_validation_results.json").read_text())
    assert written["mean_accuracy"] == pytest.approx(results["mean_accuracy"])
    assert all((tmp_path / f"fold_{fold}" / "model.safetensors").is_file() for fold in range(1, 6))

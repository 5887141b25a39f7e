"""Fine-tune Audio-MAE for audio classification (single-label, or multi-label AudioSet-style tagging).

The defaults are the paper's AudioSet fine-tuning recipe (see `audiomae_hf.training_arguments`); every part of it can be
switched off (`--layer_decay 1 --mixup 0 --freqm 0 --timem 0 --roll_mag_aug false --drop_path_rate 0
--config_overrides mask_time_prob=0,mask_frequency_prob=0`). Runs as it is, under `accelerate launch`, or under
`torchrun`. Example:

    python scripts/run_audio_classification.py \\
        --model_name_or_path pretrained/ --train_dir data/train --eval_dir data/eval \\
        --output_dir finetuned/ --do_train --do_eval --num_train_epochs 60 --per_device_train_batch_size 8
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

import datasets

from .audio_decoding import seconds_for_frames
from .augmentation import (
    REFERENCE_FRAMES,
    REFERENCE_MEL_BINS,
    TrainingAugmentation,
    normalised_units,
    scaled_mask_width,
)
from .batching import AudioCollator, decode_on_the_fly, split_decoder
from .classification_metrics import classification_metrics
from .data_sources import load_training_split, stream_splits
from .labels import (
    LabelSpace,
    build_label_space,
    check_labels,
    class_balanced_weights,
    class_names_of,
    read_label_names,
)
from .modeling_audiomae import AudioMAEForAudioClassification
from .recipes import RECIPES, apply_recipe
from .trainer import AudioMAETrainer, start_run, train_evaluate_and_share
from .training_arguments import AudioDataArguments, FineTuningArguments, ModelArguments, parse_script_arguments

logger = logging.getLogger(__name__)


@dataclass
class ClassificationDataArguments(AudioDataArguments):
    """The audio sources, plus where the labels are and what they look like."""

    label_column_name: str = field(
        default="label",
        metadata={"help": "Column of labels: a name, a list of names, or names joined by ';' (multi-label)."},
    )
    multi_label: bool | None = field(
        default=None,
        metadata={"help": "Multi-label task (sigmoid, BCE, mAP). Default: detected from the training labels."},
    )
    label_names_file: str | None = field(
        default=None,
        metadata={"help": "Text file of the label names, one per line: fixes the classes and their order."},
    )
    recipe: str | None = field(
        default=None,
        metadata={
            "help": "The paper's fine-tuning recipe of a downstream task (docs/reproduce.md); flags given explicitly "
            "override its values.",
            "choices": list(RECIPES),
        },
    )


@dataclass
class ClassificationModelArguments(ModelArguments):
    """The starting model, plus the classifier's options (those of transformers' example script among them)."""

    drop_path_rate: float = field(default=0.1, metadata={"help": "Stochastic depth of the encoder (recipe: 0.1)."})
    target_length: int | None = field(
        default=None,
        metadata={
            "help": "Frames each clip is padded or cropped to (10 ms each; a multiple of the patch size up to the "
            "model's target_length), e.g. 512 for 5 s clips. Default: the model's target_length."
        },
    )
    freeze_feature_encoder: bool = field(
        default=False,
        metadata={
            "help": "Freeze the feature encoder, for Audio-MAE the patch embedding (`model.freeze_feature_encoder()`). "
            "The recipe trains it (transformers' example script defaults to freezing wav2vec2's)."
        },
    )
    attention_mask: bool = field(
        default=False,
        metadata={
            "help": "Have the feature extractor return an attention mask, so that the classifier pools over the "
            "patches of audio only, not over padding (the recipe pools over all patches)."
        },
    )
    ignore_mismatched_sizes: bool = field(
        default=True,
        metadata={"help": "Start from a classifier whose head has another number of labels, with a new head."},
    )


def label_space_for(data_args, model_args, train_dataset) -> LabelSpace:
    """The classes: from the training split, or, for evaluation only, from the fine-tuned model's config."""
    label_names = read_label_names(data_args.label_names_file) if data_args.label_names_file else None
    if train_dataset is not None:
        return build_label_space(
            train_dataset, data_args.label_column_name, data_args.audio_column_name, data_args.multi_label, label_names
        )
    config = model_args.load_config()
    if model_args.model_name_or_path is None or config.problem_type is None:
        raise ValueError("Evaluation without training needs --model_name_or_path of a fine-tuned classifier.")
    names = label_names or [config.id2label[index] for index in range(config.num_labels)]
    return LabelSpace(names, config.problem_type == "multi_label_classification")


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run fine-tuning and/or evaluation as the command line `argv` says; return the final metrics."""
    model_args, data_args, training_args = parse_script_arguments(
        (ClassificationModelArguments, ClassificationDataArguments, FineTuningArguments),
        apply_recipe(sys.argv[1:] if argv is None else argv),
    )
    start_run(training_args, data_args)
    if model_args.attention_mask and training_args.do_train and (training_args.roll_mag_aug or training_args.mixup):
        raise ValueError(
            "--attention_mask marks the audio frames of each clip, which --roll_mag_aug and --mixup move or blend: "
            "pass --roll_mag_aug false --mixup 0 with it."
        )

    # Data: load, then check labels and files before any training starts.
    load = {"cache_dir": model_args.cache_dir, "token": model_args.token}
    train_dataset = load_training_split(data_args, "train", True, **load) if training_args.do_train else None
    eval_dataset = load_training_split(data_args, "eval", True, **load) if training_args.do_eval else None
    label_space = label_space_for(data_args, model_args, train_dataset)
    if isinstance(eval_dataset, datasets.Dataset):
        check_labels(eval_dataset, label_space, data_args.label_column_name, data_args.audio_column_name, "eval")
    problem_type = "multi_label_classification" if label_space.multi_label else "single_label_classification"
    logger.info(f"{len(label_space.names)} classes, {problem_type}")

    # Model: the starting folder's encoder with new heads, or a new model.
    config = model_args.load_config(
        id2label=label_space.id2label,
        label2id=label_space.label2id,
        problem_type=problem_type,
        drop_path_rate=model_args.drop_path_rate,
    )
    model = model_args.load_model(
        AudioMAEForAudioClassification, config, ignore_mismatched_sizes=model_args.ignore_mismatched_sizes
    )
    if model_args.freeze_feature_encoder:
        model.freeze_feature_encoder()
    feature_extractor = model_args.load_feature_extractor(config)
    if model_args.target_length is not None:
        # Shorter clips keep the model's position table and use its first rows, as the release fine-tunes 5 s clips.
        feature_extractor.target_length = model_args.target_length
    feature_extractor.return_attention_mask = model_args.attention_mask

    # Decoding on the fly; features batched in the collator (or on the training device).
    decoders = {}
    for split, dataset in (("train", train_dataset), ("eval", eval_dataset)):
        if dataset is None:
            continue
        decoders[split] = split_decoder(
            split,
            data_args,
            seconds_for_frames(feature_extractor.target_length),
            label_column=data_args.label_column_name,
            label_space=label_space,
            class_names=class_names_of((dataset.features or {}).get(data_args.label_column_name)),
        )
    sample_weights = None
    if training_args.class_balanced_sampling and train_dataset is not None:
        if not isinstance(train_dataset, datasets.Dataset):
            raise ValueError(
                "--class_balanced_sampling needs the whole label column: it does not work with streaming."
            )
        sample_weights = class_balanced_weights(train_dataset, label_space, data_args.label_column_name)
    train_dataset, eval_dataset, train_shards_per_process = stream_splits(
        train_dataset, eval_dataset, training_args, data_args
    )
    if train_dataset is not None:
        train_dataset = decode_on_the_fly(train_dataset, decoders["train"])
    if eval_dataset is not None:
        eval_dataset = decode_on_the_fly(eval_dataset, decoders["eval"])

    log_gain_scale, mask_fill_value = normalised_units(feature_extractor)
    augmentation = TrainingAugmentation(
        log_gain_scale=log_gain_scale,
        mask_fill_value=mask_fill_value,
        roll_mag_aug=training_args.roll_mag_aug,
        mixup=training_args.mixup,
        num_labels=len(label_space.names),
        max_frequency_mask=scaled_mask_width(training_args.freqm, config.num_mel_bins, REFERENCE_MEL_BINS),
        max_time_mask=scaled_mask_width(training_args.timem, feature_extractor.target_length, REFERENCE_FRAMES),
        noise=training_args.noise,
    )
    trainer = AudioMAETrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=AudioCollator(feature_extractor, compute_features=not training_args.featurizes_on_device),
        processing_class=feature_extractor,
        compute_metrics=classification_metrics(label_space.multi_label),
        layer_decay=training_args.layer_decay if training_args.layer_decay != 1 else None,
        train_augmentation=None if augmentation.is_identity else augmentation,
        train_shards_per_process=train_shards_per_process,
        train_sample_weights=sample_weights,
    )

    return train_evaluate_and_share(trainer, "fine-tuned", model_args, data_args)


if __name__ == "__main__":
    main()

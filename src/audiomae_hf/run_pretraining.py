"""Pretrain Audio-MAE by masked spectrogram modelling on unlabelled audio.

The defaults are the paper's pretraining recipe (see `audiomae_hf.training_utils`): mask ratio 0.8 and per-patch
normalised targets come from the config (`--config_overrides mask_ratio=0.75,norm_pix_loss=false` to change them),
the optimizer and schedule from `PretrainingArguments`. Labels, if the data has any, are ignored. Runs as it is,
under `accelerate launch`, or under `torchrun`. Example:

    python scripts/run_pretraining.py --train_dir unlabelled/ --output_dir pretrained/ --do_train \\
        --config_overrides "hidden_size=192,num_hidden_layers=4,num_attention_heads=3" \\
        --num_train_epochs 33 --per_device_train_batch_size 8
"""

from __future__ import annotations

import logging
import os
import sys

from transformers import HfArgumentParser, set_seed

from .audio_data import (
    AudioCollator,
    AudioDataArguments,
    DecodeAudio,
    as_stream,
    decode_on_the_fly,
    load_training_split,
    seconds_for_frames,
)
from .modeling_audiomae import AudioMAEForPreTraining
from .run_audio_classification import setup_logging
from .training_utils import (
    AudioMAETrainer,
    ModelArguments,
    PretrainingArguments,
    TrainingAugmentation,
    normalised_units,
    render_training_card,
)

logger = logging.getLogger(__name__)


def parse_arguments(argv: list[str] | None) -> tuple[ModelArguments, AudioDataArguments, PretrainingArguments]:
    parser = HfArgumentParser((ModelArguments, AudioDataArguments, PretrainingArguments))
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(json_file=os.path.abspath(argv[0]))
    return parser.parse_args_into_dataclasses(args=argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run pretraining and/or evaluation (reconstruction loss) as the command line `argv` says; return the metrics."""
    model_args, data_args, training_args = parse_arguments(argv)
    setup_logging(training_args)
    training_args.check_launch()
    if data_args.streaming and training_args.do_train and training_args.max_steps <= 0:
        raise ValueError("--streaming has no length to count epochs in: set --max_steps.")
    learning_rate = training_args.resolve_learning_rate()
    logger.info(f"Peak learning rate {learning_rate:.3g} (base {training_args.base_learning_rate:.3g} per 256 clips)")
    set_seed(training_args.seed)

    load = {"cache_dir": model_args.cache_dir, "token": model_args.token}
    train_dataset = load_training_split(data_args, "train", False, **load) if training_args.do_train else None
    eval_dataset = load_training_split(data_args, "eval", False, **load) if training_args.do_eval else None

    config = model_args.load_config()
    if model_args.model_name_or_path is None:
        model = AudioMAEForPreTraining(config)
    else:
        model = AudioMAEForPreTraining.from_pretrained(
            model_args.model_name_or_path,
            config=config,
            cache_dir=model_args.cache_dir,
            revision=model_args.model_revision,
            token=model_args.token,
        )
    feature_extractor = model_args.load_feature_extractor(config)

    if data_args.streaming:
        if train_dataset is not None:
            train_dataset = as_stream(train_dataset, training_args.seed, data_args.shuffle_buffer_size)
        if eval_dataset is not None:
            eval_dataset = as_stream(eval_dataset, None, data_args.shuffle_buffer_size)
    max_seconds = seconds_for_frames(feature_extractor.target_length)
    decoders = {}
    if train_dataset is not None:
        decoders["train"] = DecodeAudio(
            data_args.audio_column_name, "train", max_seconds, skip_bad_audio=data_args.skip_bad_audio
        )
        train_dataset = decode_on_the_fly(train_dataset, decoders["train"])
    if eval_dataset is not None:
        decoders["eval"] = DecodeAudio(
            data_args.audio_column_name, "eval", max_seconds, skip_bad_audio=data_args.skip_bad_audio
        )
        eval_dataset = decode_on_the_fly(eval_dataset, decoders["eval"])

    log_gain_scale, mask_fill_value = normalised_units(feature_extractor)
    augmentation = TrainingAugmentation(
        log_gain_scale=log_gain_scale, mask_fill_value=mask_fill_value, roll_mag_aug=training_args.roll_mag_aug
    )
    trainer = AudioMAETrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=AudioCollator(feature_extractor),
        processing_class=feature_extractor,
        train_augmentation=None if augmentation.is_identity else augmentation,
    )

    metrics: dict[str, float] = {}
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()
        metrics.update(train_result.metrics)
        metrics["train_skipped_clips"] = decoders["train"].num_skipped
        trainer.log_metrics("train", train_result.metrics)
        trainer.save_metrics("train", train_result.metrics)
        trainer.save_state()
    if training_args.do_eval:
        eval_metrics = trainer.evaluate()
        eval_metrics["eval_skipped_clips"] = decoders["eval"].num_skipped
        metrics.update(eval_metrics)
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)

    if training_args.do_train:
        trainer.model_card = render_training_card(
            "pretrained", model.config, training_args, model_args, data_args, metrics
        )
        trainer.create_model_card()
        if training_args.push_to_hub:
            trainer.push_to_hub()
    return metrics


if __name__ == "__main__":
    main()

"""Pretrain Audio-MAE by masked spectrogram modelling on unlabelled audio.

The defaults are the paper's pretraining recipe (see `audiomae_hf.training_arguments`): mask ratio 0.8 and per-patch
normalised targets come from the config (`--config_overrides mask_ratio=0.75,norm_pix_loss=false` to change them),
the optimizer and schedule from `PretrainingArguments`. Labels, if the data has any, are ignored. Runs as it is,
under `accelerate launch`, or under `torchrun`. Example:

    python scripts/run_pretraining.py --train_dir unlabelled/ --output_dir pretrained/ --do_train \\
        --config_overrides "hidden_size=192,num_hidden_layers=4,num_attention_heads=3" \\
        --num_train_epochs 33 --per_device_train_batch_size 8
"""

from __future__ import annotations

from .audio_decoding import seconds_for_frames
from .augmentation import TrainingAugmentation, normalised_units
from .batching import AudioCollator, decode_on_the_fly, split_decoder
from .data_sources import load_training_split, stream_splits
from .modeling_audiomae import AudioMAEForPreTraining
from .trainer import AudioMAETrainer, start_run, train_evaluate_and_share
from .training_arguments import AudioDataArguments, ModelArguments, PretrainingArguments, parse_script_arguments


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run pretraining and/or evaluation (reconstruction loss) as the command line `argv` says; return the metrics."""
    model_args, data_args, training_args = parse_script_arguments(
        (ModelArguments, AudioDataArguments, PretrainingArguments), argv
    )
    start_run(training_args, data_args)

    load = {"cache_dir": model_args.cache_dir, "token": model_args.token}
    train_dataset = load_training_split(data_args, "train", False, **load) if training_args.do_train else None
    eval_dataset = load_training_split(data_args, "eval", False, **load) if training_args.do_eval else None

    config = model_args.load_config()
    model = model_args.load_model(AudioMAEForPreTraining, config)
    feature_extractor = model_args.load_feature_extractor(config)

    train_dataset, eval_dataset, train_shards_per_process = stream_splits(
        train_dataset, eval_dataset, training_args, data_args
    )
    window_seconds = seconds_for_frames(feature_extractor.target_length)
    if train_dataset is not None:
        train_dataset = decode_on_the_fly(train_dataset, split_decoder("train", data_args, window_seconds))
    if eval_dataset is not None:
        eval_dataset = decode_on_the_fly(eval_dataset, split_decoder("eval", data_args, window_seconds))

    log_gain_scale, mask_fill_value = normalised_units(feature_extractor)
    augmentation = TrainingAugmentation(
        log_gain_scale=log_gain_scale, mask_fill_value=mask_fill_value, roll_mag_aug=training_args.roll_mag_aug
    )
    trainer = AudioMAETrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=AudioCollator(feature_extractor, compute_features=not training_args.featurizes_on_device),
        processing_class=feature_extractor,
        train_augmentation=None if augmentation.is_identity else augmentation,
        train_shards_per_process=train_shards_per_process,
    )

    return train_evaluate_and_share(trainer, "pretrained", model_args, data_args)


if __name__ == "__main__":
    main()

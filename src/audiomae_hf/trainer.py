"""The `Trainer` of the Audio-MAE recipes (parameter groups, augmentation, class-balanced sampling) and the steps
both training scripts share, in the order they run.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from pathlib import Path

import datasets
import torch
import torch.nn.functional as F
import transformers
from transformers import Trainer, set_seed
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from .augmentation import TrainingAugmentation
from .batching import featurize
from .hub import render_training_card
from .training_arguments import RecipeTrainingArguments

# Learned tokens get no weight decay, like biases and norm gains (and, in the local decoder, per-head temperatures).
NO_WEIGHT_DECAY_SUFFIXES = ("cls_token", "mask_token")


ENCODER_BLOCK = re.compile(r"(?:^|\.)audiomae\.encoder\.layer\.(\d+)\.")


logger = logging.getLogger(__name__)


def encoder_layer_id(name: str, num_layers: int) -> int:
    """
    Depth of a parameter for layer-wise learning-rate decay, as BEiT and the release count it: 0 for the embeddings
    (patch projection, cls token), i + 1 for encoder block i, num_layers + 1 for everything after the encoder.
    """
    if ".embeddings." in f".{name}":
        return 0
    block = ENCODER_BLOCK.search(name)
    if block is not None:
        return int(block.group(1)) + 1
    return num_layers + 1


def parameter_groups(
    model: torch.nn.Module,
    num_layers: int,
    learning_rate: float,
    weight_decay: float,
    layer_decay: float | None = None,
) -> list[dict]:
    """
    AdamW parameter groups: weight decay on weight matrices only (not on biases, norm gains or learned tokens) and,
    with `layer_decay`, each encoder depth d at learning_rate x layer_decay ** (num_layers + 1 - d). The groups come
    from the top layer down, so that the first group (the one the Trainer logs) has the peak learning rate.
    `num_layers` is the number of encoder blocks (the model may be wrapped, e.g. by FSDP, and have no config).
    """
    groups: dict[tuple[int, bool], dict] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        decays = parameter.ndim > 1 and not name.endswith(NO_WEIGHT_DECAY_SUFFIXES)
        depth = encoder_layer_id(name, num_layers) if layer_decay is not None else num_layers + 1
        scale = 1.0 if layer_decay is None else layer_decay ** (num_layers + 1 - depth)
        group = groups.setdefault(
            (depth, decays),
            {"params": [], "lr": learning_rate * scale, "weight_decay": weight_decay if decays else 0.0},
        )
        group["params"].append(parameter)
    return [groups[key] for key in sorted(groups, key=lambda key: (-key[0], not key[1]))]


class ClassBalancedSampler(torch.utils.data.Sampler[int]):
    """
    Draws len(weights) clips per epoch with replacement, in proportion to `weights`. The draw depends only on the seed
    and the epoch, so every process of a distributed run draws the same sequence (and takes its own share of it), and
    a resumed run draws what the uninterrupted run drew.
    """

    def __init__(self, weights: torch.Tensor, seed: int):
        self.weights = weights
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        yield from torch.multinomial(self.weights, len(self.weights), replacement=True, generator=generator).tolist()

    def __len__(self) -> int:
        return len(self.weights)


class AudioMAETrainer(Trainer):
    """
    `Trainer` with the Audio-MAE recipe: optimizer parameter groups (no weight decay on biases, norms and tokens;
    optional layer-wise learning-rate decay), training-time augmentation of each batch, binary cross-entropy on soft
    (mixed) targets, and optional class-balanced sampling; with several processes, each reads its own shards of a
    streamed local training split.
    """

    def __init__(
        self,
        *args,
        layer_decay: float | None = None,
        train_augmentation: TrainingAugmentation | None = None,
        train_sample_weights: torch.Tensor | None = None,
        train_shards_per_process: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if isinstance(self.args, RecipeTrainingArguments):
            self.args.resolve_learning_rate()
        # The Audio-MAE losses are per-batch means that ignore `num_items_in_batch`; the Trainer must average them
        # over gradient-accumulation steps itself (and not rescale them by the number of processes).
        self.model_accepts_loss_kwargs = False
        # The pretraining loss needs no labels; evaluation should still compute it.
        if not self.label_names:
            self.can_return_loss = True
        self.layer_decay = layer_decay
        self.train_augmentation = train_augmentation
        self.train_sample_weights = train_sample_weights
        self.train_shards_per_process = train_shards_per_process
        # Clips the collator dropped as undecodable (`--skip_bad_audio`), in this process, by split.
        self.skipped_clips = {"train": 0, "eval": 0}

    def count_skipped_clips(self, split: str) -> int:
        """Clips of `split` skipped as undecodable so far, summed over the processes (call it on every process)."""
        count = torch.tensor(self.skipped_clips[split], device=self.args.device)
        return int(self.accelerator.reduce(count, reduction="sum"))

    model_card = None  # a rendered `huggingface_hub.ModelCard`, written by `create_model_card` (and push_to_hub)

    def create_model_card(self, **kwargs) -> None:
        """Write `model_card` as the output folder's README.md, instead of the Trainer's generic card."""
        if self.model_card is None:
            return super().create_model_card(**kwargs)
        if self.is_world_process_zero():
            self.model_card.save(os.path.join(self.args.output_dir, "README.md"))

    def create_optimizer(self, model=None) -> torch.optim.Optimizer:
        if self.optimizer is None:
            opt_model = self.model if model is None else model
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            num_layers = self.accelerator.unwrap_model(opt_model).config.num_hidden_layers
            groups = parameter_groups(
                opt_model, num_layers, self.args.learning_rate, self.args.weight_decay, self.layer_decay
            )
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def get_train_dataloader(self):
        """
        The Trainer's, except that with several processes each one reads and decodes its own shards of a streamed
        training split cut into equal shards (`train_shards_per_process`). By default accelerate has the main process
        read every batch of an iterable dataset and send each process its part: one process's DataLoader workers would
        decode the clips of every GPU. Equal shards give every process the same number of batches per epoch; unequal
        ones would leave a process waiting for the others' gradients at the end of an epoch.
        """
        config = self.accelerator.dataloader_config
        if not self.train_shards_per_process or self.args.world_size == 1 or config.dispatch_batches is not None:
            return super().get_train_dataloader()
        # accelerate then gives each process `dataset.shard(world_size, rank)`: the shard order, shuffled with the same
        # seed on every process, split between them.
        config.dispatch_batches = False
        try:
            return super().get_train_dataloader()
        finally:
            config.dispatch_batches = None

    def _get_train_sampler(self, train_dataset=None):
        if self.train_sample_weights is None:
            return super()._get_train_sampler(train_dataset)
        return ClassBalancedSampler(self.train_sample_weights, seed=self.args.seed)

    def _prepare_inputs(self, inputs: dict) -> dict:
        """
        Move the batch to the training device, count its skipped clips, and compute the fbank of a batch of waveforms
        (`AudioCollator(compute_features=False)`) there, with the feature extractor (`processing_class`).
        """
        inputs = dict(super()._prepare_inputs(inputs))
        self.skipped_clips["train" if self.model.training else "eval"] += inputs.pop("skipped_clips", 0)
        if "waveforms" in inputs:
            num_samples, clips = inputs.pop("num_samples").tolist(), inputs.pop("clips")
            inputs.update(featurize(self.processing_class, inputs.pop("waveforms"), num_samples, clips))
        return inputs

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training and self.train_augmentation is not None:
            inputs = self.train_augmentation(inputs)
        labels = inputs.get("labels")
        config = self.accelerator.unwrap_model(model).config
        soft_single_label = (
            labels is not None
            and labels.is_floating_point()
            and labels.ndim == 2
            and config.problem_type == "single_label_classification"
        )
        if not soft_single_label:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        # Mixed targets of a single-label task: the release trains on them with binary cross-entropy ("works better").
        outputs = model(**{name: value for name, value in inputs.items() if name != "labels"})
        loss = F.binary_cross_entropy_with_logits(outputs.logits, labels.to(outputs.logits.dtype))
        return (loss, outputs) if return_outputs else loss


def setup_logging(training_args: RecipeTrainingArguments) -> None:
    """As transformers' example scripts set it up: INFO on the logging process unless --log_level says otherwise."""
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    if training_args.should_log:
        transformers.utils.logging.set_verbosity_info()
    log_level = training_args.get_process_log_level()
    logging.getLogger("audiomae_hf").setLevel(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()


# Files that make a folder a finished model rather than a place to start a run in.
MODEL_FILES = ("config.json", "model.safetensors", "model.safetensors.index.json", "training_args.bin")


def claim_output_dir(training_args: RecipeTrainingArguments) -> None:
    """
    The output-folder rule of both scripts, that of transformers' example scripts (`get_last_checkpoint`): a folder
    that already holds a run's checkpoints is resumed from the last one (unless `--resume_from_checkpoint` names
    another); one that holds a model but no checkpoint is refused. `--overwrite_output_dir` starts afresh and removes
    the old run's checkpoints, so that neither checkpoint rotation (`--save_total_limit`) nor a later resume mixes
    the two runs.
    """
    output_dir = Path(training_args.output_dir)
    if not (training_args.do_train and output_dir.is_dir()):
        return
    if training_args.overwrite_output_dir:
        stale = sorted(path for path in output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if path.is_dir())
        if stale and training_args.should_save:
            logger.warning(
                f"--overwrite_output_dir: removing the previous run's checkpoints {[p.name for p in stale]}"
            )
            for path in stale:
                shutil.rmtree(path)
        return
    last_checkpoint = get_last_checkpoint(str(output_dir))
    if last_checkpoint is None and any((output_dir / name).exists() for name in MODEL_FILES):
        raise ValueError(
            f"Output directory ({training_args.output_dir}) already exists and is not empty. "
            "Use --overwrite_output_dir to overcome."
        )
    if last_checkpoint is not None and training_args.resume_from_checkpoint is None:
        logger.info(
            f"Checkpoint detected, resuming training at {last_checkpoint}. To avoid this behavior, change "
            "the `--output_dir` or add `--overwrite_output_dir` to train from scratch."
        )
        training_args.resume_from_checkpoint = last_checkpoint


def start_run(training_args: RecipeTrainingArguments, data_args) -> None:
    """
    Logging, launch and argument checks, the output folder (see `claim_output_dir`), the recipe's learning rate, and
    the seed: before any data is read.
    """
    setup_logging(training_args)
    training_args.check_launch()
    claim_output_dir(training_args)
    if data_args.streaming and training_args.do_train and training_args.max_steps <= 0:
        raise ValueError("--streaming has no length to count epochs in: set --max_steps.")
    learning_rate = training_args.resolve_learning_rate()
    logger.info(f"Peak learning rate {learning_rate:.3g} (base {training_args.base_learning_rate:.3g} per 256 clips)")
    set_seed(training_args.seed)


def train_evaluate_and_share(trainer: AudioMAETrainer, card_kind: str, model_args, data_args) -> dict:
    """Train, save a complete folder (model and feature extractor), evaluate, write the model card, push if asked."""
    training_args = trainer.args
    metrics: dict[str, float] = {}
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()  # the model and, as processing_class, the feature extractor
        train_metrics = {**train_result.metrics, "train_skipped_clips": trainer.count_skipped_clips("train")}
        metrics.update(train_metrics)
        trainer.log_metrics("train", train_metrics)
        trainer.save_metrics("train", train_metrics)
        trainer.save_state()
    if training_args.do_eval:
        trainer.skipped_clips["eval"] = 0  # count this evaluation's, not those of evaluations during training
        eval_metrics = trainer.evaluate()
        eval_metrics["eval_skipped_clips"] = trainer.count_skipped_clips("eval")
        metrics.update(eval_metrics)
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
    if training_args.do_train:
        trainer.model_card = render_training_card(
            card_kind, trainer.model.config, training_args, model_args, data_args, metrics
        )
        trainer.create_model_card()
        if training_args.push_to_hub:
            trainer.push_to_hub()
    return metrics

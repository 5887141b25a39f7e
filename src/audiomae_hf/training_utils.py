"""Training recipe of Audio-MAE on top of the `Trainer`: the paper's hyper-parameters as `TrainingArguments` defaults,
weight-decay and layer-wise learning-rate-decay parameter groups, mixup, class-balanced sampling and metrics.

The released recipes (`main_pretrain.py`, `main_finetune_as.py` and their launch scripts) set:

- pretraining: AdamW with betas (0.9, 0.95), weight decay 1e-4, base learning rate 2e-4 scaled by the total batch
  size / 256, 3 warm-up epochs of 33 then half-cycle cosine, mask ratio 0.8, per-patch normalised targets;
- fine-tuning: AdamW, weight decay 5e-4, base learning rate 1e-3 scaled likewise, layer-wise learning-rate decay 0.75,
  4 warm-up epochs of 60 then cosine, drop path 0.1, mixup on half the clips, SpecAugment (48 bins, 192 frames),
  time/frequency patch masking (0.2, 0.2), binary cross-entropy.

Neither clips gradients.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import datasets
import evaluate
import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers import EvalPrediction, HfArgumentParser, PretrainedConfig, Trainer, TrainingArguments, set_seed

from .audio_data import as_stream, roll_and_gain, spec_augment
from .configuration_audiomae import AudioMAEConfig
from .feature_extraction_audiomae import AudioMAEFeatureExtractor

METRICS_DIR = Path(__file__).parent / "metrics"
PREPROCESSOR_FILE = "preprocessor_config.json"
# Learned tokens get no weight decay, like biases and norm gains (and, in the local decoder, per-head temperatures).
NO_WEIGHT_DECAY_SUFFIXES = ("cls_token", "mask_token")
ENCODER_BLOCK = re.compile(r"(?:^|\.)audiomae\.encoder\.layer\.(\d+)\.")


# ---------------------------------------------------------------------------------------------------------------------
# Recipe defaults


@dataclass
class RecipeTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the learning rate given per 256 clips, as the paper gives it."""

    learning_rate: float | None = field(
        default=None,
        metadata={"help": "Peak learning rate. Default: base_learning_rate x total batch size / 256."},
    )
    base_learning_rate: float = field(
        default=1e-3,
        metadata={"help": "Learning rate per 256 clips of total batch, used when --learning_rate is not given."},
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep False: the audio is decoded on the fly by a dataset transform."}
    )
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Warm-up, then half-cycle cosine to 0."})
    max_grad_norm: float = field(default=0.0, metadata={"help": "Gradient clipping norm; 0 (the release) = none."})

    def check_launch(self) -> None:
        """
        Raise a `ValueError` if the launcher started more processes than will train together: on a machine without
        GPUs the Trainer trains each process alone unless told `--use_cpu true`.
        """
        launched = int(os.environ.get("WORLD_SIZE", "1"))
        if launched != self.world_size:
            raise ValueError(
                f"Launched as {launched} processes, but the Trainer would train {self.world_size} as one group: on a "
                "machine without GPUs pass --use_cpu true (under torchrun or `accelerate launch --multi_gpu`)."
            )

    def resolve_learning_rate(self) -> float:
        """Set and return `learning_rate`: base_learning_rate x (per-device batch x accumulation x processes) / 256."""
        if self.learning_rate is None:
            total_batch_size = self.per_device_train_batch_size * self.gradient_accumulation_steps * self.world_size
            self.learning_rate = self.base_learning_rate * total_batch_size / 256
        return self.learning_rate


@dataclass
class PretrainingArguments(RecipeTrainingArguments):
    """The released pretraining recipe as defaults."""

    base_learning_rate: float = field(default=2e-4, metadata={"help": "Learning rate per 256 clips of total batch."})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW beta2 (0.95 in MAE pretraining)."})
    weight_decay: float = field(
        default=1e-4, metadata={"help": "AdamW weight decay of weight matrices (none on biases, norms, tokens)."}
    )
    warmup_steps: float = field(
        default=3 / 33, metadata={"help": "Warm-up steps, or a fraction of all steps if below 1 (3 of 33 epochs)."}
    )
    roll_mag_aug: bool = field(
        default=True, metadata={"help": "Random time roll and gain (Beta(10, 10) + 0.5) of each training clip."}
    )
    prediction_loss_only: bool = field(
        default=True, metadata={"help": "Evaluate the reconstruction loss only (do not gather predicted patches)."}
    )


@dataclass
class FineTuningArguments(RecipeTrainingArguments):
    """The released AudioSet fine-tuning recipe as defaults."""

    base_learning_rate: float = field(default=1e-3, metadata={"help": "Learning rate per 256 clips of total batch."})
    weight_decay: float = field(
        default=5e-4, metadata={"help": "AdamW weight decay of weight matrices (none on biases, norms, tokens)."}
    )
    warmup_steps: float = field(
        default=4 / 60, metadata={"help": "Warm-up steps, or a fraction of all steps if below 1 (4 of 60 epochs)."}
    )
    layer_decay: float = field(
        default=0.75,
        metadata={
            "help": "Layer-wise learning-rate decay: block i of L learns at layer_decay**(L - i) x lr. 1 = off."
        },
    )
    mixup: float = field(
        default=0.5,
        metadata={"help": "Fraction of training clips mixed with another clip of the batch (weight ~ Beta(10, 10))."},
    )
    freqm: int = field(
        default=48,
        metadata={"help": "SpecAugment: widest frequency mask, in bins of a 128-bin input (scaled to num_mel_bins)."},
    )
    timem: int = field(
        default=192,
        metadata={"help": "SpecAugment: widest time mask, in frames of a 1024-frame input (scaled to target_length)."},
    )
    roll_mag_aug: bool = field(
        default=True, metadata={"help": "Random time roll and gain (Beta(10, 10) + 0.5) of each training clip."}
    )
    class_balanced_sampling: bool = field(
        default=False,
        metadata={"help": "Draw training clips with replacement, weighted by the sum of 1 / count of their labels."},
    )


@dataclass
class ModelArguments:
    """Which model and feature extractor to start from."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Model folder (or Hub id) to start from, e.g. the output of run_pretraining. Default: new."},
    )
    config_name: str | None = field(
        default=None, metadata={"help": "Config (folder, Hub id or config.json) of a new model. Default: ViT-B."}
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Config fields to change, e.g. 'hidden_size=192,num_hidden_layers=4,decoder_window_size=(2,2)'."
        },
    )
    feature_extractor_name: str | None = field(
        default=None,
        metadata={"help": "Feature extractor to use. Default: one matching the config (num_mel_bins, target_length)."},
    )
    fbank_mean: float | None = field(
        default=None, metadata={"help": "Mean of the log-mel features of your corpus (default: AudioSet's)."}
    )
    fbank_std: float | None = field(
        default=None, metadata={"help": "Standard deviation of the log-mel features of your corpus."}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where downloaded models and datasets are cached."})
    model_revision: str = field(default="main", metadata={"help": "Branch, tag or commit of a Hub model."})
    token: str | None = field(default=None, metadata={"help": "Hub token for private models or datasets."})

    def load_config(self, **updates) -> AudioMAEConfig:
        """The starting model's config (or the named or default one for a new model), updated, then overridden."""
        source = self.model_name_or_path or self.config_name
        if source is None:
            config = AudioMAEConfig()
        else:
            config = AudioMAEConfig.from_pretrained(
                source, cache_dir=self.cache_dir, revision=self.model_revision, token=self.token
            )
        for name, value in updates.items():
            setattr(config, name, value)
        return apply_config_overrides(config, self.config_overrides)

    def load_feature_extractor(self, config: AudioMAEConfig) -> AudioMAEFeatureExtractor:
        """
        `--feature_extractor_name` if given (it must fit the config); otherwise one with the config's num_mel_bins
        and target_length, normalised with the starting model's statistics if its folder has a feature extractor,
        else AudioSet's. `--fbank_mean` / `--fbank_std` replace the statistics either way.
        """
        kwargs = {"cache_dir": self.cache_dir, "revision": self.model_revision, "token": self.token}
        if self.feature_extractor_name is not None:
            feature_extractor = AudioMAEFeatureExtractor.from_pretrained(self.feature_extractor_name, **kwargs)
            if feature_extractor.num_mel_bins != config.num_mel_bins or not (
                feature_extractor.target_length % config.patch_size == 0
                and feature_extractor.target_length <= config.target_length
            ):
                raise ValueError(
                    f"Feature extractor {self.feature_extractor_name} makes {feature_extractor.target_length} x "
                    f"{feature_extractor.num_mel_bins} spectrograms; the model takes {config.num_mel_bins} mel bins "
                    f"and at most {config.target_length} frames in multiples of {config.patch_size}."
                )
        else:
            statistics = {}
            if self.model_name_or_path is not None and (Path(self.model_name_or_path) / PREPROCESSOR_FILE).is_file():
                starting = AudioMAEFeatureExtractor.from_pretrained(self.model_name_or_path)
                statistics = {"mean": starting.mean, "std": starting.std, "do_normalize": starting.do_normalize}
            feature_extractor = AudioMAEFeatureExtractor(
                feature_size=config.num_mel_bins,
                num_mel_bins=config.num_mel_bins,
                target_length=config.target_length,
                **statistics,
            )
        if self.fbank_mean is not None:
            feature_extractor.mean = self.fbank_mean
        if self.fbank_std is not None:
            feature_extractor.std = self.fbank_std
        return feature_extractor


def normalised_units(feature_extractor: AudioMAEFeatureExtractor) -> tuple[float, float]:
    """
    (scale, zero): the feature extractor turns a raw log-mel value v into zero + scale * v, normalising as
    (v - mean) / (2 * std). The release masks (SpecAugment) with raw zeros, i.e. `zero`; a gain shifts raw log-mel
    values, i.e. normalised ones by `scale` times as much.
    """
    if not feature_extractor.do_normalize:
        return 1.0, 0.0
    scale = 1.0 / (2 * feature_extractor.std)
    return scale, -feature_extractor.mean * scale


# ---------------------------------------------------------------------------------------------------------------------
# Optimizer parameter groups


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


# ---------------------------------------------------------------------------------------------------------------------
# Training-time augmentation


def mixup(
    input_values: torch.Tensor, targets: torch.Tensor, probability: float, beta: float = 10.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    The release's mixup: each clip, with `probability`, is mixed with a random clip (here: of the same batch) with
    weight w ~ Beta(10, 10), spectrogram and targets alike: w * x + (1 - w) * x_other. Mixing the normalised fbank
    equals normalising the mixed fbank, which is what the release does with precomputed features (`use_fbank`); with
    raw audio it mixes waveforms instead.
    """
    batch_size = input_values.shape[0]
    is_mixed = torch.rand(batch_size) < probability
    partners = torch.randint(0, batch_size, (batch_size,))
    weights = torch.distributions.Beta(beta, beta).sample((batch_size,))
    weights = torch.where(is_mixed, weights, torch.ones(())).to(input_values)
    partners = partners.to(input_values.device)
    mixed_inputs = weights[:, None, None] * input_values + (1 - weights[:, None, None]) * input_values[partners]
    weights = weights.to(targets)
    mixed_targets = weights[:, None] * targets + (1 - weights[:, None]) * targets[partners]
    return mixed_inputs, mixed_targets


@dataclass
class TrainingAugmentation:
    """
    The release's per-clip training augmentations, applied to a collated batch (normalised fbank) in the order the
    release applies them: random roll and gain, mixup, then SpecAugment. Everything draws from torch's global RNG.
    """

    log_gain_scale: float
    mask_fill_value: float
    roll_mag_aug: bool = False
    mixup: float = 0.0
    num_labels: int | None = None
    max_frequency_mask: int = 0
    max_time_mask: int = 0

    @property
    def is_identity(self) -> bool:
        return not (self.roll_mag_aug or self.mixup > 0 or self.max_frequency_mask > 0 or self.max_time_mask > 0)

    def __call__(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs = dict(inputs)
        input_values = inputs["input_values"]
        if self.roll_mag_aug:
            input_values = roll_and_gain(input_values, self.log_gain_scale)
        if self.mixup > 0 and "labels" in inputs:
            labels = inputs["labels"]
            targets = labels if labels.is_floating_point() else F.one_hot(labels, self.num_labels).float()
            input_values, inputs["labels"] = mixup(input_values, targets, self.mixup)
        if self.max_frequency_mask > 0 or self.max_time_mask > 0:
            input_values = spec_augment(
                input_values, self.max_frequency_mask, self.max_time_mask, self.mask_fill_value
            )
        inputs["input_values"] = input_values
        return inputs


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
    (mixed) targets, and optional class-balanced sampling.
    """

    def __init__(
        self,
        *args,
        layer_decay: float | None = None,
        train_augmentation: TrainingAugmentation | None = None,
        train_sample_weights: torch.Tensor | None = None,
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

    def _get_train_sampler(self, train_dataset=None):
        if self.train_sample_weights is None:
            return super()._get_train_sampler(train_dataset)
        return ClassBalancedSampler(self.train_sample_weights, seed=self.args.seed)

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


# ---------------------------------------------------------------------------------------------------------------------
# Metrics


def load_metric(name: str) -> evaluate.EvaluationModule:
    """One of the metric modules shipped in `audiomae_hf/metrics`, loaded with `evaluate` without the network."""
    return evaluate.load(str(METRICS_DIR / f"{name}.py"))


def classification_metrics(multi_label: bool) -> Callable[[EvalPrediction], dict[str, float]]:
    """`compute_metrics` for the Trainer: accuracy for single-label tasks, mAP and macro AUC for multi-label ones."""
    if multi_label:
        metric = load_metric("mean_average_precision")

        def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
            scores = 1.0 / (1.0 + np.exp(-np.asarray(prediction.predictions, dtype=np.float64)))
            return metric.compute(predictions=scores, references=prediction.label_ids)

    else:
        metric = load_metric("accuracy")

        def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
            return metric.compute(
                predictions=np.argmax(prediction.predictions, axis=-1), references=prediction.label_ids
            )

    return compute_metrics


# ---------------------------------------------------------------------------------------------------------------------
# Model card

# Metrics of the fine-tuned card's `model-index`, as the Trainer names them.
CARD_METRICS = {"eval_accuracy": "accuracy", "eval_mAP": "mAP", "eval_auc": "auc"}


def is_hub_id(name: str | None) -> bool:
    return name is not None and not os.path.exists(name) and name.count("/") == 1


def render_training_card(
    kind: Literal["pretrained", "fine-tuned"],
    config: PretrainedConfig,
    training_args: RecipeTrainingArguments,
    model_args: ModelArguments,
    data_args,
    metrics: dict[str, float],
):
    """The model card of a training run's output folder (`audiomae_hf.hub.render_model_card`)."""
    from .hub import render_model_card

    eval_data = data_args.dataset_name or data_args.eval_dir or data_args.eval_file
    eval_results = {name: metrics[key] for key, name in CARD_METRICS.items() if key in metrics and eval_data}
    train_data = data_args.dataset_name or data_args.train_dir or data_args.train_file
    summary = f"Trained with `audiomae_hf.run_{'pretraining' if kind == 'pretrained' else 'audio_classification'}` on "
    summary += f"`{train_data}`"
    if "eval_loss" in metrics:
        summary += f"; evaluation loss {metrics['eval_loss']:.4f}"
    hyperparameters = {
        "learning_rate": training_args.learning_rate,
        "per_device_train_batch_size": training_args.per_device_train_batch_size,
        "total_train_batch_size": training_args.per_device_train_batch_size
        * training_args.gradient_accumulation_steps
        * training_args.world_size,
        "weight_decay": training_args.weight_decay,
        "adam_betas": (training_args.adam_beta1, training_args.adam_beta2),
        "lr_scheduler_type": str(training_args.lr_scheduler_type),
        "warmup_steps": training_args.warmup_steps,
        "max_steps" if training_args.max_steps > 0 else "num_train_epochs": training_args.max_steps
        if training_args.max_steps > 0
        else training_args.num_train_epochs,
        "seed": training_args.seed,
    }
    for name in ("layer_decay", "mixup", "freqm", "timem", "roll_mag_aug", "class_balanced_sampling"):
        if hasattr(training_args, name):
            hyperparameters[name] = getattr(training_args, name)
    return render_model_card(
        kind,
        config,
        training_args.hub_model_id or os.path.basename(os.path.abspath(training_args.output_dir)),
        base_model=model_args.model_name_or_path if is_hub_id(model_args.model_name_or_path) else None,
        datasets=[data_args.dataset_name] if is_hub_id(data_args.dataset_name) else None,
        eval_results=eval_results or None,
        eval_dataset=eval_data if eval_results else None,
        eval_split=data_args.eval_split_name if eval_results and data_args.dataset_name else None,
        training_summary=summary + ".",
        training_hyperparameters=hyperparameters,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Config overrides


def split_overrides(overrides: str) -> list[str]:
    """Split "a=1,b=(4, 2),c=x" on the commas outside brackets."""
    parts, depth, current = [], 0, ""
    for character in overrides:
        if character in "([":
            depth += 1
        elif character in ")]":
            depth -= 1
        if character == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += character
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def parse_override_value(name: str, text: str, current):
    """Parse `text` as the type of the config field's current value."""
    try:
        if isinstance(current, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return text.lower() in ("true", "1")
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, (tuple, list)):
            return tuple(ast.literal_eval(text))
        if isinstance(current, str):
            return text
        return ast.literal_eval(text)
    except (ValueError, SyntaxError) as error:
        raise ValueError(
            f"--config_overrides: cannot read {name}={text!r} as a {type(current).__name__}: {error}"
        ) from None


def apply_config_overrides(config: PretrainedConfig, overrides: str | None) -> PretrainedConfig:
    """
    Apply "name=value,name=value" overrides (e.g. "hidden_size=192,num_hidden_layers=4,decoder_window_size=(2,2)")
    to `config`, each value parsed as the type of the field it replaces, and re-check the config.
    """
    if not overrides:
        return config
    for override in split_overrides(overrides):
        name, separator, text = override.partition("=")
        name = name.strip()
        if not separator or not hasattr(config, name):
            raise ValueError(
                f"--config_overrides: {override!r} is not name=value for a field of {type(config).__name__}."
            )
        setattr(config, name, parse_override_value(name, text.strip(), getattr(config, name)))
    if hasattr(config, "check_recipe"):
        config.check_recipe()
    return config


__all__ = [
    "AudioMAETrainer",
    "ClassBalancedSampler",
    "FineTuningArguments",
    "PretrainingArguments",
    "RecipeTrainingArguments",
    "TrainingAugmentation",
    "apply_config_overrides",
    "classification_metrics",
    "encoder_layer_id",
    "load_metric",
    "mixup",
    "parameter_groups",
    "render_training_card",
]


# The steps both training scripts share, in the order they run.

logger = logging.getLogger(__name__)


def parse_script_arguments(dataclass_types: tuple, argv: list[str] | None) -> tuple:
    """The command line `argv` (default `sys.argv[1:]`), or the one JSON file it names, as the given dataclasses."""
    parser = HfArgumentParser(dataclass_types)
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(json_file=os.path.abspath(argv[0]))
    return parser.parse_args_into_dataclasses(args=argv)


def setup_logging(training_args: RecipeTrainingArguments) -> None:
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()
    logging.getLogger("audiomae_hf").setLevel(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()


def start_run(training_args: RecipeTrainingArguments, data_args) -> None:
    """Logging, launch and argument checks, the recipe's learning rate, and the seed: before any data is read."""
    setup_logging(training_args)
    training_args.check_launch()
    if data_args.streaming and training_args.do_train and training_args.max_steps <= 0:
        raise ValueError("--streaming has no length to count epochs in: set --max_steps.")
    learning_rate = training_args.resolve_learning_rate()
    logger.info(f"Peak learning rate {learning_rate:.3g} (base {training_args.base_learning_rate:.3g} per 256 clips)")
    set_seed(training_args.seed)


def stream_splits(train_dataset, eval_dataset, training_args: RecipeTrainingArguments, data_args) -> tuple:
    """With `--streaming`, both splits as shuffled (train) or ordered (eval) iterable datasets."""
    if not data_args.streaming:
        return train_dataset, eval_dataset
    if train_dataset is not None:
        train_dataset = as_stream(train_dataset, training_args.seed, data_args.shuffle_buffer_size)
    if eval_dataset is not None:
        eval_dataset = as_stream(eval_dataset, None, data_args.shuffle_buffer_size)
    return train_dataset, eval_dataset


def train_evaluate_and_share(trainer: AudioMAETrainer, decoders: dict, card_kind: str, model_args, data_args) -> dict:
    """Train, save a complete folder (model and feature extractor), evaluate, write the model card, push if asked."""
    training_args = trainer.args
    metrics: dict[str, float] = {}
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()  # the model and, as processing_class, the feature extractor
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
            card_kind, trainer.model.config, training_args, model_args, data_args, metrics
        )
        trainer.create_model_card()
        if training_args.push_to_hub:
            trainer.push_to_hub()
    return metrics

"""The command-line arguments of the training scripts: the paper's recipes as `TrainingArguments` defaults, the model
and data arguments, and `--config_overrides`.

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
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from transformers import HfArgumentParser, PretrainedConfig, PreTrainedModel, TrainingArguments

from .configuration_audiomae import AudioMAEConfig
from .feature_extraction_audiomae import AudioMAEFeatureExtractor

PREPROCESSOR_FILE = "preprocessor_config.json"
# Fields of `TrainingArguments` that may hold a credential.
SECRET_FIELDS = ("hub_token",)


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
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Train into an --output_dir that already holds a model or checkpoints, replacing that run (its "
            "checkpoints are removed). Without it such a folder is refused, or resumed from its last checkpoint."
        },
    )
    dataloader_num_workers: int | None = field(
        default=None,
        metadata={
            "help": "Decoding worker processes of each training process (each uses one torch thread). Default: "
            "min(8, the CPU cores available / the training processes on this machine)."
        },
    )
    ddp_find_unused_parameters: bool | None = field(
        default=False,
        metadata={
            "help": "Have DDP search each step for parameters that got no gradient. Every Audio-MAE parameter takes "
            "part in every step (tested), so off (transformers turns it on for any model, and DDP then warns on every "
            "run of the cost of the extra pass); pass true for a model changed so that some parameters sit out."
        },
    )
    fbank_on_device: bool | None = field(
        default=None,
        metadata={
            "help": "Compute the fbank of each batch on the training device (the data workers only decode). "
            "Default: on when training on an accelerator, off on the CPU."
        },
    )

    def __post_init__(self):
        if self.dataloader_num_workers is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            self.dataloader_num_workers = min(8, max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
        super().__post_init__()
        # Pinned host memory only speeds up copies to an accelerator (and torch warns about it without one).
        if self.device.type == "cpu":
            self.dataloader_pin_memory = False

    @property
    def featurizes_on_device(self) -> bool:
        """Whether the fbank is computed on the training device (`--fbank_on_device`, default: on an accelerator)."""
        return self.device.type != "cpu" if self.fbank_on_device is None else self.fbank_on_device

    def __getstate__(self) -> dict:
        # The Trainer pickles its arguments into every checkpoint and output folder (training_args.bin), which a push
        # uploads: a pickled copy never holds the Hub token.
        state = dict(self.__dict__)
        for name in SECRET_FIELDS:
            if state.get(name) is not None:
                state[name] = None
        return state

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
    noise: bool = field(
        default=False,
        metadata={
            "help": "Uniform noise (level up to 0.1 of the normalised fbank) and a shift of up to 10 frames on each "
            "training clip, as the release trains Speech Commands and VoxCeleb."
        },
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
            "help": "Config fields to change, e.g. 'hidden_size=192,num_hidden_layers=4,decoder_window_size=(2,2),decoder_shift_size=(1,0)'."
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
    trust_remote_code: bool = field(
        default=False,
        metadata={
            "help": "As in transformers' example scripts. The scripts build the package's own Audio-MAE classes, so "
            "no code of a model folder is run either way."
        },
    )

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

    def load_model(self, model_class: type[PreTrainedModel], config: AudioMAEConfig, **kwargs) -> PreTrainedModel:
        """A new `model_class` from `config`, or the starting model's weights under `config` (`kwargs` are passed
        to `from_pretrained`)."""
        if self.model_name_or_path is None:
            return model_class(config)
        return model_class.from_pretrained(
            self.model_name_or_path,
            config=config,
            cache_dir=self.cache_dir,
            revision=self.model_revision,
            token=self.token,
            **kwargs,
        )

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


@dataclass
class AudioDataArguments:
    """Where the training and evaluation audio comes from (one source per split) and how it is read."""

    dataset_name: str | None = field(
        default=None, metadata={"help": "A `datasets` name on the Hub, or a folder written by `save_to_disk`."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    train_split_name: str = field(default="train", metadata={"help": "Training split of --dataset_name."})
    eval_split_name: str = field(default="validation", metadata={"help": "Evaluation split of --dataset_name."})
    train_dir: str | None = field(
        default=None, metadata={"help": "Training audio folder in audiofolder layout: root/<label>/<clip>.wav."}
    )
    eval_dir: str | None = field(default=None, metadata={"help": "Evaluation audio folder, same layout."})
    train_file: str | None = field(
        default=None,
        metadata={"help": "Training manifest (.csv, .tsv, .json, .jsonl) with a column of audio paths (and labels)."},
    )
    eval_file: str | None = field(default=None, metadata={"help": "Evaluation manifest, same format."})
    audio_column_name: str = field(
        default="audio", metadata={"help": "Column holding the audio (an Audio feature, or file paths)."}
    )
    streaming: bool = field(
        default=False,
        metadata={
            "help": "Stream the data (an IterableDataset, for corpora that do not fit on disk); needs max_steps."
        },
    )
    shuffle_buffer_size: int = field(
        default=1000, metadata={"help": "Clips in the shuffle buffer of a streamed training split."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only this many training clips."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Keep only this many evaluation clips."})
    skip_bad_audio: bool = field(
        default=False,
        metadata={"help": "Skip (and count) missing or unreadable clips instead of stopping with an error."},
    )
    max_length_seconds: float | None = field(
        default=None,
        metadata={
            "help": "Cut longer clips to this many seconds: a random segment of each training clip (the whole file is "
            "decoded), the beginning of each evaluation clip. Default: the first target_length frames' worth."
        },
    )

    def source(self, which: Literal["train", "eval"]) -> dict | None:
        """`load_split` arguments of the train or eval split, or None if that split has no source."""
        directory, manifest = (
            (self.train_dir, self.train_file) if which == "train" else (self.eval_dir, self.eval_file)
        )
        if directory is not None and manifest is not None:
            raise ValueError(f"Give one source for the {which} split, not both --{which}_dir and --{which}_file.")
        if directory is not None:
            return {"audio_dir": directory}
        if manifest is not None:
            return {"manifest": manifest}
        if self.dataset_name is not None:
            split = self.train_split_name if which == "train" else self.eval_split_name
            return {"dataset_name": self.dataset_name, "dataset_config_name": self.dataset_config_name, "split": split}
        return None


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
    Apply "name=value,name=value" overrides (e.g. "hidden_size=192,num_hidden_layers=4,decoder_window_size=(2,2),decoder_shift_size=(1,0)")
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


def parse_script_arguments(dataclass_types: tuple, argv: list[str] | None) -> tuple:
    """The command line `argv` (default `sys.argv[1:]`), or the one JSON file it names, as the given dataclasses."""
    parser = HfArgumentParser(dataclass_types)
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(json_file=os.path.abspath(argv[0]))
    return parser.parse_args_into_dataclasses(args=argv)

"""
Model cards and Hub uploads for Audio-MAE model folders.

`render_model_card` fills the templates of `hub_cards/` (one for pretrained encoder-decoders, one for fine-tuned
classifiers) with a model's architecture, labels, usage, intended use, training details and evaluation results, and
with Hub metadata (`library_name`, `pipeline_tag`, `license`, `base_model`, `datasets`, a `model-index` of results).
`render_training_card` does it for a training run, inheriting the license of the weights it started from.
`push_model_folder` uploads a folder written by `save_pretrained` together with its card, never a pickle or a file
holding the Hub token.

```python
>>> from audiomae_hf.hub import push_model_folder, render_model_card
>>> card = render_model_card("fine-tuned", model.config, "me/audiomae-esc50", license="mit",
...                          eval_results={"accuracy": 0.94}, eval_dataset="ashraq/esc50")
>>> push_model_folder("esc50-classifier", "me/audiomae-esc50", card=card)
```
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Mapping, Sequence
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData, get_token
from huggingface_hub.errors import HFValidationError
from huggingface_hub.hf_api import CommitInfo
from huggingface_hub.utils import filter_repo_objects, validate_repo_id
from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS
from transformers import PreTrainedConfig
from transformers.utils import logging

if TYPE_CHECKING:
    from .training_arguments import ModelArguments, RecipeTrainingArguments

logger = logging.get_logger(__name__)

CardKind = Literal["pretrained", "fine-tuned"]
CARD_TEMPLATES: dict[str, str] = {"pretrained": "pretrained.md", "fine-tuned": "fine_tuned.md"}

# Meta AI released the Audio-MAE weights under CC BY-NC 4.0; a conversion cannot relax that.
OFFICIAL_WEIGHTS_LICENSE = "cc-by-nc-4.0"

# What a folder must hold to load from the Hub, with or without `pip install audiomae-hf`.
REQUIRED_MODEL_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")

# Leftovers of a Trainer run that do not belong in a model repository. No pickle is ever uploaded: the weights go as
# safetensors, and Trainer pickles its arguments, `hub_token` included, into `training_args.bin`.
TRAINING_LEFTOVERS = (
    "checkpoint-*",
    "checkpoint-*/**",
    "runs/**",
    "*.bin",
    "*.pt",
    "*.pth",
    "*.ckpt",
    "*.pkl",
    "*.pickle",
)


def template_path(kind: CardKind) -> Path:
    """The card template of `kind`, shipped inside the package (the top-level `hub_cards/` in a source checkout)."""
    if kind not in CARD_TEMPLATES:
        raise ValueError(f"Unknown model card kind {kind!r}; expected one of {tuple(CARD_TEMPLATES)}.")
    return Path(str(resources.files("audiomae_hf") / "hub_cards" / CARD_TEMPLATES[kind]))


def describe_architecture(config: PreTrainedConfig) -> dict[str, str]:
    """One line per part of the model, for the card's architecture table."""
    time_patches, frequency_patches = config.patch_grid
    windows = f"{config.decoder_window_size[0]}x{config.decoder_window_size[1]}-patch windows"
    if config.decoder_attention == "local":
        decoder_attention = f"local attention in {windows} shifted by {tuple(config.decoder_shift_size)}"
    elif config.decoder_attention == "local_no_shift":
        decoder_attention = f"local attention in unshifted {windows}"
    elif config.decoder_attention == "hybrid":
        decoder_attention = (
            f"local attention in {windows} shifted by {tuple(config.decoder_shift_size)}, then global attention in "
            f"the last {config.decoder_num_global_layers} blocks"
        )
    else:
        decoder_attention = "global attention"
    if config.mask_mode == "random":
        masking = f"{config.mask_ratio:.0%} of the patches hidden at random"
    else:
        masking = (
            f"{config.mask_time_prob:.0%} of the time rows and {config.mask_frequency_prob:.0%} of the frequency "
            "columns of the patch grid hidden"
        )
    pooling = "mean of the patch tokens" if config.use_mean_pooling else "the cls token"
    return {
        "input": (
            f"log-mel spectrogram, {config.target_length} frames (10 ms hop: {config.target_length / 100:g} s of "
            f"16 kHz audio) x {config.num_mel_bins} mel bins"
        ),
        "patches": (
            f"{config.patch_size}x{config.patch_size}, a {time_patches} (time) x {frequency_patches} (frequency) grid "
            f"of {config.num_patches}"
        ),
        "encoder": (
            f"ViT, {config.num_hidden_layers} layers, width {config.hidden_size}, {config.num_attention_heads} heads"
        ),
        "decoder": (
            f"{config.decoder_num_hidden_layers} layers, width {config.decoder_hidden_size}, "
            f"{config.decoder_num_attention_heads} heads, {decoder_attention}"
        ),
        "masking": masking,
        "target": "patches normalised to zero mean and unit variance" if config.norm_pix_loss else "raw patches",
        "head": f"{pooling}, LayerNorm, linear layer",
    }


def _license_text(license: str | None, converted_from: str | None, license_from: str | None) -> str:
    if converted_from:
        return (
            "[CC BY-NC 4.0](https://creativecommons.org/licenses/by-nc/4.0/), the license of the official Audio-MAE "
            "weights these are converted from."
        )
    if license is None:
        return "The author has not chosen a license for these weights."
    if license_from:
        return f"`{license}`, inherited from the weights these were trained from ({license_from})."
    return f"`{license}`, as chosen by the author of these weights."


def plain_value(value: Any) -> str:
    """A hyperparameter as a reader writes it: `cosine`, not `SchedulerType.COSINE`; `(0.9, 0.95)`; `0.0001`."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(plain_value(item) for item in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render_model_card(
    kind: CardKind,
    config: PreTrainedConfig,
    repo_id: str,
    *,
    license: str | None = None,
    license_from: str | None = None,
    base_model: str | None = None,
    datasets: Sequence[str] | None = None,
    eval_results: Mapping[str, float] | None = None,
    eval_dataset: str | None = None,
    eval_dataset_type: str | None = None,
    eval_split: str | None = None,
    training_summary: str | None = None,
    training_hyperparameters: Mapping[str, Any] | None = None,
    converted_from: str | None = None,
    tags: Sequence[str] = (),
) -> ModelCard:
    """
    Render the model card of an Audio-MAE model folder.

    Args:
        kind: `"pretrained"` for an encoder-decoder trained by masked reconstruction (`AudioMAEForPreTraining`,
            tagged for `feature-extraction`: its encoder gives clip embeddings), `"fine-tuned"` for an audio
            classifier (`AudioMAEForAudioClassification`, tagged for the `audio-classification` pipeline).
        config: The model's `AudioMAEConfig` (the classifier's labels come from its `id2label`).
        repo_id: Where the folder will live (`"user/name"`, or a local path), used in the usage snippets.
        license: Hub license id of the weights (`"mit"`, `"apache-2.0"`, `"cc-by-nc-4.0"`, ...); left out of the
            metadata when `None`. Weights derived from the official checkpoints must stay `cc-by-nc-4.0`
            (`base_model_license` reads the license of the weights you started from).
        license_from: Where `license` was inherited from (the base model), said in the card's license section.
        base_model: Hub id of the checkpoint these weights were trained from.
        datasets: Hub ids of the training datasets.
        eval_results: Metric name to value (e.g. `{"accuracy": 0.93}`), written to the card and to its `model-index`.
        eval_dataset: Name (or Hub id) of the evaluation dataset; required with `eval_results`.
        eval_dataset_type: Hub id or loader of the evaluation dataset for the `model-index` (`"audiofolder"` for
            local audio folders); defaults to `eval_dataset`.
        eval_split: Split of `eval_dataset` the results are measured on.
        training_summary: A paragraph on how the weights were trained.
        training_hyperparameters: Shown as a table under the summary, each value written plainly (`plain_value`).
        converted_from: Name or URL of the official checkpoint these weights were converted from. Sets the license
            to `cc-by-nc-4.0` and adds a provenance section.
        tags: Extra Hub tags, after `audio` and `audio-mae`.
    """
    template = template_path(kind)
    if converted_from and license not in (None, OFFICIAL_WEIGHTS_LICENSE):
        raise ValueError(
            f"license={license!r} for weights converted from {converted_from}: the official Audio-MAE weights are "
            f"{OFFICIAL_WEIGHTS_LICENSE} and their conversions must stay so. Leave license unset."
        )
    if eval_results and not eval_dataset:
        raise ValueError("eval_results need eval_dataset, the dataset they were measured on.")
    model_name = repo_id.rstrip("/").split("/")[-1]
    is_classifier = kind == "fine-tuned"
    task_tags = ["audio-classification"] if is_classifier else ["masked-autoencoder", "self-supervised-learning"]
    results = [
        EvalResult(
            task_type="audio-classification",
            dataset_type=eval_dataset_type or eval_dataset,
            dataset_name=eval_dataset,
            dataset_split=eval_split,
            metric_type=metric,
            metric_value=float(value),
        )
        for metric, value in (eval_results or {}).items()
    ]
    license = OFFICIAL_WEIGHTS_LICENSE if converted_from else license
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag="audio-classification" if is_classifier else "feature-extraction",
        license=license,
        base_model=base_model,
        datasets=list(datasets) if datasets else None,
        metrics=list(eval_results) if eval_results else None,
        tags=["audio", "audio-mae", *task_tags, *tags],
        model_name=model_name,
        eval_results=results or None,
    )
    architecture = describe_architecture(config)
    labels = [config.id2label[index] for index in sorted(config.id2label)] if is_classifier else []
    shown_labels = ", ".join(f"`{label}`" for label in labels[:20])
    return ModelCard.from_template(
        card_data,
        template_path=str(template),
        model_name=model_name,
        repo_id=repo_id,
        architecture=architecture,
        clip_seconds=f"{config.target_length / 100:g}",
        labels=labels,
        labels_text=shown_labels + (f" and {len(labels) - 20} more" if len(labels) > 20 else ""),
        results=results,
        training_summary=training_summary,
        training_hyperparameters={
            name: plain_value(value) for name, value in (training_hyperparameters or {}).items() if value is not None
        },
        converted_from=converted_from,
        is_non_commercial=license == OFFICIAL_WEIGHTS_LICENSE,
        license_text=_license_text(license, converted_from, license_from),
    )


def push_model_folder(
    folder: str | Path,
    repo_id: str,
    *,
    card: ModelCard | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload Audio-MAE model",
) -> CommitInfo:
    """
    Create the model repository `repo_id` (if needed) and upload `folder`, a directory written by `save_pretrained`
    (the model, its config with `auto_map`, the model code, and the feature extractor).

    `card` is saved as the folder's `README.md` first; without one the folder must already hold a `README.md`.
    Trainer leftovers (`checkpoint-*`, `runs/`) and pickles (`training_args.bin`, `*.pt`, `*.pkl`, ...) are not
    uploaded, and nothing is if a file that would be holds the Hub token (`token`, or the one `hf auth login` stored).
    """
    folder = Path(folder)
    missing = [name for name in REQUIRED_MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(missing)}: save both the model and its feature extractor there with "
            "save_pretrained before pushing."
        )
    if card is not None:
        card.save(folder / "README.md")
    elif not (folder / "README.md").is_file():
        raise FileNotFoundError(f"{folder} has no README.md: pass card=render_model_card(...).")
    refuse_files_holding_tokens(folder, files_to_upload(folder), [token, get_token()])
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=folder,
        repo_type="model",
        commit_message=commit_message,
        ignore_patterns=list(TRAINING_LEFTOVERS),
    )


def files_to_upload(folder: str | Path) -> list[str]:
    """The paths, relative to `folder`, that `push_model_folder` uploads: the filter `HfApi.upload_folder` applies."""
    folder = Path(folder)
    paths = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    return list(filter_repo_objects(paths, ignore_patterns=[*TRAINING_LEFTOVERS, *DEFAULT_IGNORE_PATTERNS]))


def refuse_files_holding_tokens(folder: str | Path, names: Sequence[str], tokens: Sequence[str | None]) -> None:
    """Raise `ValueError` if a file of `folder` named in `names` contains one of `tokens` (the bytes, anywhere)."""
    secrets = [token.encode() for token in tokens if token]
    if not secrets:
        return
    for name in names:
        path = Path(folder) / name
        if path.stat().st_size == 0:
            continue
        # Memory-mapped, so a multi-gigabyte weights file is scanned without being read into memory.
        with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as contents:
            if any(contents.find(secret) != -1 for secret in secrets):
                raise ValueError(
                    f"{path} contains a Hugging Face token; nothing was uploaded. Remove the token from that file "
                    "(or delete the file) and push again."
                )


# Metrics of the fine-tuned card's `model-index`, as the Trainer names them.
CARD_METRICS = {"eval_accuracy": "accuracy", "eval_mAP": "mAP", "eval_auc": "auc"}


def is_hub_id(name: str | None) -> bool:
    """Whether `name` reads as a Hub repository id (`user/name`) and is not a local path."""
    if name is None or os.path.exists(name) or name.count("/") != 1:
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def base_model_license(model_name_or_path: str | None) -> str | None:
    """
    The `license` in the model card of the weights a run starts from: a local folder's `README.md`, or a Hub
    repository's card (`None`, with a warning, when the Hub cannot be reached). A classifier fine-tuned from
    converted official weights so inherits `cc-by-nc-4.0`.
    """
    if model_name_or_path is None:
        return None
    if os.path.isdir(model_name_or_path):
        readme = Path(model_name_or_path) / "README.md"
        return ModelCard.load(readme).data.license if readme.is_file() else None
    if not is_hub_id(model_name_or_path):
        return None
    try:
        return ModelCard.load(model_name_or_path).data.license
    except OSError as error:
        logger.warning(
            f"Could not read the license of {model_name_or_path} ({error}); the model card will carry none. Weights "
            f"fine-tuned from official Audio-MAE weights are {OFFICIAL_WEIGHTS_LICENSE}."
        )
        return None


def describe_data(name: str | None) -> tuple[str | None, str | None]:
    """(name, model-index type) of a `--dataset_name`, `--train_dir`/`--eval_dir`, manifest or base model folder: Hub
    ids as they are, local ones by their file or folder name only, since the path means nothing on the Hub."""
    if name is None:
        return None, None
    if is_hub_id(name):
        return name, name
    local_name = Path(name).name or name
    return local_name, "audiofolder" if os.path.isdir(name) else Path(name).suffix.lstrip(".") or "audiofolder"


def render_training_card(
    kind: Literal["pretrained", "fine-tuned"],
    config: PreTrainedConfig,
    training_args: RecipeTrainingArguments,
    model_args: ModelArguments,
    data_args,
    metrics: dict[str, float],
    *,
    license: str | None = None,
) -> ModelCard:
    """
    The model card of a training run's output folder (`render_model_card`). The license is `license`, else the one of
    the weights the run started from (`base_model_license`), and must be the latter's if that is CC BY-NC;
    `base_model` and `datasets` are set for Hub ids only, and local data and base folders appear by their name, never
    their path.
    """
    train_data, _ = describe_data(data_args.dataset_name or data_args.train_dir or data_args.train_file)
    eval_data, eval_type = describe_data(data_args.dataset_name or data_args.eval_dir or data_args.eval_file)
    eval_results = {name: metrics[key] for key, name in CARD_METRICS.items() if key in metrics and eval_data}
    summary = f"Trained with `audiomae_hf.run_{'pretraining' if kind == 'pretrained' else 'audio_classification'}` on "
    summary += f"`{train_data}`"
    base = model_args.model_name_or_path
    base_name, _ = describe_data(base)
    if base_name is not None:
        summary += f", starting from `{base_name}`"
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
        "lr_scheduler_type": training_args.lr_scheduler_type,
        "warmup_steps": training_args.warmup_steps,
        "max_steps" if training_args.max_steps > 0 else "num_train_epochs": training_args.max_steps
        if training_args.max_steps > 0
        else training_args.num_train_epochs,
        "seed": training_args.seed,
    }
    for name in ("layer_decay", "mixup", "freqm", "timem", "roll_mag_aug", "class_balanced_sampling"):
        if hasattr(training_args, name):
            hyperparameters[name] = getattr(training_args, name)
    base_license = base_model_license(base)
    if base_license == OFFICIAL_WEIGHTS_LICENSE and license not in (None, OFFICIAL_WEIGHTS_LICENSE):
        raise ValueError(
            f"license={license!r} for weights trained from {base_name}, which are {OFFICIAL_WEIGHTS_LICENSE} (the "
            "official Audio-MAE weights' license): weights derived from them must stay so. Leave license unset."
        )
    return render_model_card(
        kind,
        config,
        training_args.hub_model_id or os.path.basename(os.path.abspath(training_args.output_dir)),
        license=license or base_license,
        license_from=base_name if license is None and base_license else None,
        base_model=base if is_hub_id(base) else None,
        datasets=[data_args.dataset_name] if is_hub_id(data_args.dataset_name) else None,
        eval_results=eval_results or None,
        eval_dataset=eval_data if eval_results else None,
        eval_dataset_type=eval_type if eval_results else None,
        eval_split=data_args.eval_split_name if eval_results and data_args.dataset_name else None,
        training_summary=summary + ".",
        training_hyperparameters=hyperparameters,
    )


__all__ = [
    "OFFICIAL_WEIGHTS_LICENSE",
    "base_model_license",
    "describe_architecture",
    "files_to_upload",
    "push_model_folder",
    "render_model_card",
    "render_training_card",
]

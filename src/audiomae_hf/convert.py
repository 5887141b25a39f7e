"""
Convert the official Audio-MAE checkpoints to Hugging Face model folders, and back.

Reads the checkpoints of facebookresearch/AudioMAE (`pretrained.pth`: ViT-B encoder and local decoder pretrained on
AudioSet-2M; `finetuned.pth`: the same encoder fine-tuned on AudioSet with a 527-class head), whose weights sit under
`checkpoint["model"]` next to the training `args`, and the encoder-only timm ports of them on the Hub
(`vit_base_patch16_1024_128.audiomae_as2m` and `.audiomae_as2m_ft_as20k`, a flat state dict in `model.safetensors` or
`pytorch_model.bin`). Not verified against the Hub files (no network here), the ports are assumed to keep the official
names, as timm's VisionTransformer does: `cls_token`, `pos_embed` [1, 513, 768], `patch_embed.proj.*`, `blocks.*`,
then `fc_norm.*` and `head.*` for the fine-tuned port, which converts like `finetuned.pth`, and `norm.*` (possibly
with a placeholder `head.*`) for the pretrained one, which converts with `encoder_only=True` into `AudioMAEModel`.
Anything else is refused with the offending names listed, so a wrong assumption cannot pass silently.

The conversion renames tensors and never changes their values: `hf_to_official_state_dict` inverts it bit for bit.
It refuses, with a message naming the keys, anything it cannot place: a missing or unexpected tensor, a wrong shape,
a checkpoint of another architecture. Checkpoints are read without unpickling arbitrary objects.

```python
>>> from audiomae_hf.convert import convert_checkpoint
>>> convert_checkpoint("pretrained.pth", "audiomae-vit-base-as2m")
>>> convert_checkpoint("finetuned.pth", "audiomae-vit-base-as2m-ft-as2m", push_to_hub="me/audiomae-ft-as2m")
>>> convert_checkpoint("audiomae_as2m/model.safetensors", "audiomae-vit-base-encoder", encoder_only=True)
```
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file
from transformers import PreTrainedModel
from transformers.initialization import no_init_weights
from transformers.utils import logging

from .configuration_audiomae import AudioMAEConfig
from .feature_extraction_audiomae import AudioMAEFeatureExtractor
from .modeling_audiomae import AudioMAEForAudioClassification, AudioMAEForPreTraining, AudioMAEModel

logger = logging.get_logger(__name__)

CheckpointKind = Literal["pretraining", "classification", "encoder"]

# Heads of the official encoder presets (models_mae / models_vit: small, base, large, huge), by width. The checkpoints
# do not store head counts, and the fused qkv weights look the same for any split.
OFFICIAL_ENCODER_HEADS = {384: 6, 768: 12, 1024: 16, 1280: 16}
# Every official decoder has 16 heads (the local decoder hard-codes it; its `tau` tensors confirm it).
OFFICIAL_DECODER_HEADS = 16
# What the official local decoder hard-codes: 4x4 windows, shifted by 2 along time on odd blocks.
OFFICIAL_WINDOW_SIZE = (4, 4)
OFFICIAL_SHIFT_SIZE = (2, 0)
# The released models all take 128 mel bins; the time length follows from the position table.
OFFICIAL_MEL_BINS = 128
AUDIOSET_CLASSES = 527


class CheckpointError(ValueError):
    """A checkpoint that cannot be converted; the message says why and lists the offending keys."""


@dataclass
class OfficialCheckpoint:
    """An official (or timm-format) state dict and, when the checkpoint carries them, its training arguments."""

    state_dict: dict[str, torch.Tensor]
    args: argparse.Namespace | None = None


# ---------------------------------------------------------------------------------------------------------------------
# Reading checkpoints


def load_official_checkpoint(path: str | os.PathLike) -> OfficialCheckpoint:
    """
    Read an official `.pth` (weights under `"model"`, maybe `"args"`), a timm `pytorch_model.bin` or a
    `.safetensors` file. Pickles are loaded with `weights_only=True`: besides tensors and containers only
    `argparse.Namespace` (the official training arguments) is allowed, so a checkpoint cannot run code.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist or is not a file.")
    try:
        if path.suffix == ".safetensors":
            payload = load_file(path)
        else:
            with torch.serialization.safe_globals([argparse.Namespace]):
                payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zips, corrupt pickles, forbidden globals: all unreadable the same way
        raise CheckpointError(
            f"Cannot read {path} as a PyTorch or safetensors checkpoint ({type(error).__name__}: {error}). "
            "The file may be truncated or corrupt: download it again."
        ) from error

    args = None
    if isinstance(payload, Mapping) and isinstance(payload.get("model"), Mapping):
        args = payload.get("args")
        if args is not None and not isinstance(args, argparse.Namespace):
            raise CheckpointError(
                f"{path}: 'args' is a {type(args).__name__}, expected the training argparse.Namespace."
            )
        state_dict = payload["model"]
    else:
        state_dict = payload
    if not isinstance(state_dict, Mapping) or not state_dict:
        raise CheckpointError(f"{path} holds no state dict (expected a mapping of tensors, or one under 'model').")
    not_tensors = sorted(key for key, value in state_dict.items() if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise CheckpointError(f"{path}: these state-dict entries are not tensors: {not_tensors[:10]}")
    return OfficialCheckpoint(dict(state_dict), args)


def checkpoint_kind(state_dict: Mapping[str, torch.Tensor]) -> CheckpointKind:
    """`"pretraining"` (encoder and decoder), `"classification"` (encoder and head) or `"encoder"` (encoder only)."""
    required = ("cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight")
    absent = [key for key in required if key not in state_dict]
    if absent:
        shown = sorted(state_dict)[:8]
        raise CheckpointError(
            f"Not an Audio-MAE (ViT) checkpoint: it lacks {absent}. Its first keys are {shown}. Expected the official "
            "pretrained.pth / finetuned.pth or the timm port's model.safetensors."
        )
    if "decoder_embed.weight" in state_dict:
        return "pretraining"
    if "head.weight" not in state_dict:
        return "encoder"
    if "fc_norm.weight" not in state_dict:
        # timm's export of the pretrained encoder keeps `norm` and carries a placeholder `head`; the released
        # classifiers all pool the patch tokens into `fc_norm` before the head.
        raise CheckpointError(
            "The checkpoint has a classification head but no fc_norm: not a released Audio-MAE classifier. If it is "
            "a timm export of the pretrained encoder, convert the encoder alone with encoder_only=True "
            "(--encoder-only)."
        )
    return "classification"


# ---------------------------------------------------------------------------------------------------------------------
# Configuration


def config_from_official(
    state_dict: Mapping[str, torch.Tensor],
    args: argparse.Namespace | None = None,
    *,
    num_attention_heads: int | None = None,
    decoder_num_attention_heads: int | None = None,
) -> AudioMAEConfig:
    """
    The `AudioMAEConfig` of an official state dict: widths, depths and grid from the tensors, head counts from the
    official presets (or the arguments given here), recipe details (masking, loss) from the training `args` if any.
    """
    kind = checkpoint_kind(state_dict)
    projection = state_dict["patch_embed.proj.weight"]
    hidden_size, in_channels, patch_height, patch_width = projection.shape
    if in_channels != 1 or patch_height != patch_width:
        raise CheckpointError(
            f"patch_embed.proj.weight has shape {tuple(projection.shape)}: Audio-MAE embeds one-channel spectrograms "
            "with square patches. This looks like an image model."
        )
    if _training_argument(args, "use_custom_patch", bool):
        raise CheckpointError("The checkpoint was trained with overlapping patches (use_custom_patch), not supported.")
    patch_size = patch_width
    num_patches = state_dict["pos_embed"].shape[1] - 1
    frequency_patches = OFFICIAL_MEL_BINS // patch_size
    if num_patches <= 0 or num_patches % frequency_patches:
        raise CheckpointError(
            f"pos_embed has {num_patches} patch rows, not a whole number of {frequency_patches}-patch frequency rows "
            f"of {OFFICIAL_MEL_BINS} mel bins in {patch_size}x{patch_size} patches (overlapping patches?)."
        )
    if num_attention_heads is None:
        if hidden_size not in OFFICIAL_ENCODER_HEADS:
            raise CheckpointError(
                f"No official preset has a {hidden_size}-wide encoder, so its head count is unknown: pass "
                "num_attention_heads (--num-attention-heads)."
            )
        num_attention_heads = OFFICIAL_ENCODER_HEADS[hidden_size]

    fields = dict(
        num_mel_bins=OFFICIAL_MEL_BINS,
        target_length=num_patches // frequency_patches * patch_size,
        patch_size=patch_size,
        hidden_size=hidden_size,
        num_hidden_layers=_count_blocks(state_dict, "blocks"),
        num_attention_heads=num_attention_heads,
        mlp_ratio=state_dict["blocks.0.mlp.fc1.weight"].shape[0] / hidden_size,
        layer_norm_eps=1e-6,  # every official preset: partial(nn.LayerNorm, eps=1e-6)
    )
    if kind == "pretraining":
        fields |= _decoder_fields(state_dict, args, decoder_num_attention_heads)
        fields |= _recorded_fields(args, mask_ratio="mask_ratio", norm_pix_loss="norm_pix_loss")
        if _training_argument(args, "mask_2d", bool):
            fields |= dict(mask_mode="time_frequency")
            fields |= _recorded_fields(args, mask_time_prob="mask_t_prob", mask_frequency_prob="mask_f_prob")
    if kind == "classification":
        num_labels = state_dict["head.weight"].shape[0]
        # The official classifier pools the patch tokens then applies fc_norm (global_pool=True), or normalises every
        # token with `norm` and takes the cls token: a per-token LayerNorm, so the same as normalising the cls token.
        fields |= dict(num_labels=num_labels, use_mean_pooling=True)
        if num_labels == AUDIOSET_CLASSES:
            fields |= dict(id2label=audioset_id2label(), problem_type="multi_label_classification")
        fields |= _recorded_fields(args, mask_time_prob="mask_t_prob", mask_frequency_prob="mask_f_prob")
    return AudioMAEConfig(**fields)


# The type each training argument the conversion reads must have: a checkpoint from a modified training script may
# carry strings ("0.8", "False", which bool() would read as True) or None.
_TRAINING_ARGUMENT_TYPES = {
    "mask_ratio": float,
    "mask_t_prob": float,
    "mask_f_prob": float,
    "norm_pix_loss": bool,
    "mask_2d": bool,
    "no_shift": bool,
    "use_custom_patch": bool,
}


def _training_argument(args: argparse.Namespace | None, name: str, kind: type) -> float | bool | None:
    """`args.name` checked against `kind`, or None when the checkpoint does not record it (the default applies)."""
    value = getattr(args, name, None)
    if value is None:
        return None
    # bool is an int: a flag is no ratio, and a 0/1 integer is a flag only if it says so.
    matches = (
        isinstance(value, bool) if kind is bool else isinstance(value, int | float) and not isinstance(value, bool)
    )
    if not matches:
        raise CheckpointError(
            f"The checkpoint's training argument args.{name}={value!r} is a {type(value).__name__}, expected a "
            f"{kind.__name__}: the checkpoint comes from a modified training script. Convert it without its 'args' "
            "(the weights alone) and set the recipe fields on the config."
        )
    return kind(value)


def _recorded_fields(args: argparse.Namespace | None, **names: str) -> dict:
    """Config fields (keys) from the training arguments (values) that the checkpoint records, type-checked."""
    fields = {}
    for field, name in names.items():
        value = _training_argument(args, name, _TRAINING_ARGUMENT_TYPES[name])
        if value is not None:
            fields[field] = value
    return fields


def _decoder_fields(
    state_dict: Mapping[str, torch.Tensor], args: argparse.Namespace | None, decoder_num_attention_heads: int | None
) -> dict:
    fields = dict(
        decoder_hidden_size=state_dict["decoder_embed.weight"].shape[0],
        decoder_num_hidden_layers=_count_blocks(state_dict, "decoder_blocks"),
    )
    if "decoder_blocks.0.attn.tau" in state_dict:
        fields |= dict(
            decoder_attention="local_no_shift" if _training_argument(args, "no_shift", bool) else "local",
            decoder_num_attention_heads=state_dict["decoder_blocks.0.attn.tau"].shape[0],
            decoder_window_size=OFFICIAL_WINDOW_SIZE,
            decoder_shift_size=OFFICIAL_SHIFT_SIZE,
            decoder_position_bias_hidden_size=state_dict["decoder_blocks.0.attn.meta_mlp.fc1.weight"].shape[0],
        )
    else:
        fields |= dict(
            decoder_attention="global",
            decoder_num_attention_heads=decoder_num_attention_heads or OFFICIAL_DECODER_HEADS,
        )
    return fields


def _count_blocks(state_dict: Mapping[str, torch.Tensor], prefix: str) -> int:
    indices = {int(match[1]) for key in state_dict if (match := re.match(rf"{prefix}\.(\d+)\.", key))}
    if indices != set(range(len(indices))):
        raise CheckpointError(f"{prefix} indices are not 0..n-1: {sorted(indices)}")
    return len(indices)


def audioset_id2label() -> dict[int, str]:
    """The 527 AudioSet class names, by index, from the package's `audioset_class_labels_indices.csv`."""
    text = (resources.files("audiomae_hf") / "audioset_class_labels_indices.csv").read_text(encoding="utf-8")
    return {int(row["index"]): row["display_name"] for row in csv.DictReader(text.splitlines())}


# ---------------------------------------------------------------------------------------------------------------------
# Key mapping. A rule maps an official name to ours; `{i}` stands for a block index, and a trailing dot makes the rule
# cover a module's `weight` and `bias`.

_VIT_BLOCK_RULES = [
    ("norm1.", "layernorm_before."),
    ("attn.qkv.", "attention.qkv."),
    ("attn.proj.", "attention.proj."),
    ("norm2.", "layernorm_after."),
    ("mlp.fc1.", "mlp.fc1."),
    ("mlp.fc2.", "mlp.fc2."),
]
# The official local decoder block is timm_patch's SwinTransformerBlock, a post-norm Swin-V2 block.
_LOCAL_DECODER_BLOCK_RULES = [
    ("attn.qkv.", "attention.qkv."),
    ("attn.proj.", "attention.proj."),
    ("attn.tau", "attention.tau"),
    ("attn.meta_mlp.fc1.", "attention.position_bias_mlp.fc1."),
    ("attn.meta_mlp.fc2.", "attention.position_bias_mlp.fc2."),
    ("norm1.", "attention_output_norm."),
    ("mlp.fc1.", "mlp.fc1."),
    ("mlp.fc2.", "mlp.fc2."),
    ("norm2.", "mlp_output_norm."),
]


def _encoder_rules(prefix: str) -> list[tuple[str, str]]:
    return [
        ("cls_token", f"{prefix}embeddings.cls_token"),
        ("pos_embed", f"{prefix}embeddings.position_embeddings"),
        ("patch_embed.proj.", f"{prefix}embeddings.patch_embeddings.projection."),
    ] + [(f"blocks.{{i}}.{official}", f"{prefix}encoder.layer.{{i}}.{ours}") for official, ours in _VIT_BLOCK_RULES]


def key_mapping(config: AudioMAEConfig, kind: CheckpointKind) -> list[tuple[str, str]]:
    """(official, ours) name rules for a checkpoint of `kind` converted with `config`."""
    if kind == "encoder":
        return _encoder_rules("")
    rules = _encoder_rules("audiomae.")
    if kind == "classification":
        return rules + [("fc_norm.", "fc_norm."), ("head.", "classifier.")]
    if config.decoder_attention == "hybrid":
        raise CheckpointError(
            "The official code has no hybrid decoder (window blocks then global ones): a hybrid model has no official "
            "key names."
        )
    block_rules = _VIT_BLOCK_RULES if config.decoder_attention == "global" else _LOCAL_DECODER_BLOCK_RULES
    return (
        rules
        + [
            ("norm.", "encoder_norm."),
            ("decoder_embed.", "decoder.embed."),
            ("mask_token", "decoder.mask_token"),
            ("decoder_pos_embed", "decoder.position_embeddings"),
            ("decoder_norm.", "decoder.norm."),
            ("decoder_pred.", "decoder.pred."),
        ]
        + [(f"decoder_blocks.{{i}}.{official}", f"decoder.layer.{{i}}.{ours}") for official, ours in block_rules]
    )


def _rename(key: str, rules: list[tuple[str, str]]) -> str | None:
    for source, target in rules:
        pattern = re.escape(source).replace(re.escape("{i}"), r"(?P<i>\d+)")
        pattern += r"(?P<leaf>weight|bias)" if source.endswith(".") else ""
        match = re.fullmatch(pattern, key)
        if match:
            groups = match.groupdict()
            return target.replace("{i}", groups.get("i") or "") + (groups.get("leaf") or "")
    return None


def _rename_all(
    state_dict: Mapping[str, torch.Tensor], rules: list[tuple[str, str]]
) -> tuple[dict[str, torch.Tensor], list[str]]:
    renamed, unplaced = {}, []
    for key, tensor in state_dict.items():
        new_key = _rename(key, rules)
        if new_key is None:
            unplaced.append(key)
        else:
            renamed[new_key] = tensor
    return renamed, unplaced


def official_to_hf_state_dict(
    state_dict: Mapping[str, torch.Tensor], config: AudioMAEConfig, kind: CheckpointKind | None = None
) -> dict[str, torch.Tensor]:
    """Rename an official state dict to the keys of our model for its `kind`; the tensors are the same objects."""
    kind = kind or checkpoint_kind(state_dict)
    renamed, unplaced = _rename_all(state_dict, key_mapping(config, kind))
    if unplaced:
        hint = (
            " AudioMAEModel has no final norm: encoder_only=True (--encoder-only) leaves it out."
            if kind == "encoder"
            else ""
        )
        raise CheckpointError(
            f"These {kind} checkpoint tensors have no place in the Hugging Face model: {unplaced}.{hint}"
        )
    return renamed


def hf_to_official_state_dict(
    state_dict: Mapping[str, torch.Tensor], config: AudioMAEConfig, kind: CheckpointKind
) -> dict[str, torch.Tensor]:
    """The inverse of `official_to_hf_state_dict`: our keys back to the official names."""
    inverse = [(ours, official) for official, ours in key_mapping(config, kind)]
    renamed, unplaced = _rename_all(state_dict, inverse)
    if unplaced:
        raise CheckpointError(f"These tensors have no official name: {unplaced}")
    return renamed


# ---------------------------------------------------------------------------------------------------------------------
# Building the model

# Official tensors outside the encoder: its final norm, the pretraining decoder, the classifier's norm and head.
_BEYOND_THE_ENCODER = (
    r"(norm|fc_norm|head|decoder_embed|decoder_norm|decoder_pred)\.|mask_token$|decoder_pos_embed$|decoder_blocks\."
)

MODEL_CLASSES: dict[CheckpointKind, type[PreTrainedModel]] = {
    "pretraining": AudioMAEForPreTraining,
    "classification": AudioMAEForAudioClassification,
    "encoder": AudioMAEModel,
}


def model_kind(model: PreTrainedModel) -> CheckpointKind:
    for kind, model_class in MODEL_CLASSES.items():
        if type(model) is model_class:
            return kind
    raise TypeError(f"{type(model).__name__} is not one of the Audio-MAE model classes.")


def convert_official_state_dict(
    checkpoint: OfficialCheckpoint | Mapping[str, torch.Tensor],
    *,
    num_attention_heads: int | None = None,
    decoder_num_attention_heads: int | None = None,
    encoder_only: bool = False,
) -> PreTrainedModel:
    """
    Our model holding exactly the weights of an official state dict: `AudioMAEForPreTraining` for a pretraining
    checkpoint, `AudioMAEForAudioClassification` for a fine-tuned one, `AudioMAEModel` for an encoder alone.

    `encoder_only=True` converts just the encoder of any of them into `AudioMAEModel`, leaving out (and logging) the
    final norm, decoder or head: `AudioMAEModel` returns the last block's tokens, before any norm. Without it, an
    encoder-only checkpoint that has a final norm is refused rather than silently trimmed.
    """
    if not isinstance(checkpoint, OfficialCheckpoint):
        checkpoint = OfficialCheckpoint(dict(checkpoint))
    state_dict = dict(checkpoint.state_dict)
    if encoder_only:
        left_out = sorted(key for key in state_dict if re.match(_BEYOND_THE_ENCODER, key))
        logger.warning(f"Converting the encoder only; left out: {left_out}")
        state_dict = {key: value for key, value in state_dict.items() if key not in left_out}
    kind = checkpoint_kind(state_dict)
    _check_finite(state_dict)
    config = config_from_official(
        state_dict,
        checkpoint.args,
        num_attention_heads=num_attention_heads,
        decoder_num_attention_heads=decoder_num_attention_heads,
    )
    # Half-precision ports widen losslessly: the model computes in float32, as the official code did.
    converted = {key: tensor.float() for key, tensor in official_to_hf_state_dict(state_dict, config, kind).items()}
    # A random init would only be overwritten: the check below makes sure every stored tensor comes from the
    # checkpoint, and `assign` hands the checkpoint's tensors to the model instead of copying 0.5 GB for ViT-B.
    with no_init_weights():
        model = MODEL_CLASSES[kind](config)
    _check_same_keys_and_shapes(model, converted, key_mapping(config, kind))
    model.load_state_dict(converted, strict=True, assign=True)
    return model.eval()


def _check_finite(state_dict: Mapping[str, torch.Tensor]) -> None:
    # A NaN would otherwise surface only as "saved weights differ" (NaN != NaN) after the folder was written.
    broken = [
        key
        for key, tensor in state_dict.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if broken:
        raise CheckpointError(
            f"These checkpoint tensors hold NaN or infinite values: {sorted(broken)}. The checkpoint is damaged (or "
            "was saved after training diverged): use an earlier or re-downloaded one."
        )


def _check_same_keys_and_shapes(
    model: PreTrainedModel, converted: Mapping[str, torch.Tensor], rules: list[tuple[str, str]]
) -> None:
    # Non-persistent buffers (relative coordinates, shift masks) are rebuilt by the model, never stored.
    expected = model.state_dict()
    inverse = [(ours, official) for official, ours in rules]

    def official_name(key: str) -> str:
        return _rename(key, inverse) or key

    missing = sorted(official_name(key) for key in expected.keys() - converted.keys())
    unexpected = sorted(official_name(key) for key in converted.keys() - expected.keys())
    mismatched = [
        f"{official_name(key)}: checkpoint {tuple(converted[key].shape)}, model {tuple(expected[key].shape)}"
        for key in sorted(expected.keys() & converted.keys())
        if converted[key].shape != expected[key].shape
    ]
    if missing or unexpected or mismatched:
        problems = [
            f"missing from the checkpoint: {missing}" if missing else "",
            f"not expected by {type(model).__name__}: {unexpected}" if unexpected else "",
            f"shape mismatches: {mismatched}" if mismatched else "",
        ]
        raise CheckpointError(
            "The checkpoint does not fit the model inferred from it (official key names). "
            + "; ".join(problem for problem in problems if problem)
        )


# ---------------------------------------------------------------------------------------------------------------------
# Writing a model folder


def convert_checkpoint(
    checkpoint_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    push_to_hub: str | None = None,
    private: bool | None = None,
    token: str | None = None,
    num_attention_heads: int | None = None,
    decoder_num_attention_heads: int | None = None,
    encoder_only: bool = False,
    converted_from: str | None = None,
) -> Path:
    """
    Convert an official checkpoint into a complete model folder at `output_dir` (config with `auto_map`, the model
    code, `model.safetensors`, `preprocessor_config.json`, `README.md`), and upload it to `push_to_hub` if given.

    The folder is written next to `output_dir` under a temporary name, reloaded and compared tensor by tensor with
    the converted model, and only then moved into place: a failure at any step leaves no `output_dir` behind.
    `output_dir` must not exist yet (or be empty). A conversion killed outright (`kill -9`) cannot clean up its
    `.NAME.partial-HOST-PID-*` folder; the next conversion into the same `output_dir` removes it.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise FileExistsError(f"{output_dir} already exists and is not empty: choose a new folder.")
    remove_stale_staging_folders(output_dir)
    checkpoint = load_official_checkpoint(checkpoint_path)
    model = convert_official_state_dict(
        checkpoint,
        num_attention_heads=num_attention_heads,
        decoder_num_attention_heads=decoder_num_attention_heads,
        encoder_only=encoder_only,
    )
    # Staged beside the target so the final rename stays on one filesystem; mkdir (unlike mkdtemp) honours the umask.
    staging = output_dir.parent / f".{output_dir.name}.partial-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        write_model_folder(
            model,
            staging,
            repo_id=push_to_hub or output_dir.name,
            converted_from=converted_from or Path(checkpoint_path).name,
        )
        if output_dir.exists():
            output_dir.rmdir()
        staging.rename(output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if push_to_hub:
        from .hub import push_model_folder

        push_model_folder(output_dir, push_to_hub, private=private, token=token)
    return output_dir


# Staging folders carry the host and pid of the conversion writing them, so a later run can tell a folder whose writer
# was killed (`kill -9`, power loss: no cleanup ran) from one still being written, even on a shared filesystem.
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname()) or "host"


def remove_stale_staging_folders(output_dir: str | os.PathLike) -> list[Path]:
    """
    Delete the staging folders (`.NAME.partial-HOST-PID-XXXXXXXX`) that conversions into `output_dir` left behind
    when they were killed: only this host's, only those whose process is gone. Returns the folders removed.
    """
    output_dir = Path(output_dir)
    if not output_dir.parent.is_dir():
        return []
    stale = re.compile(rf"\.{re.escape(output_dir.name)}\.partial-{_HOST}-(\d+)-[0-9a-f]{{8}}")
    removed = []
    for path in sorted(output_dir.parent.iterdir()):
        match = stale.fullmatch(path.name)
        if match and path.is_dir() and not path.is_symlink() and not _process_is_alive(int(match[1])):
            logger.warning(f"Removing {path}, left by a conversion (pid {match[1]}) that was killed mid-way.")
            shutil.rmtree(path)
            removed.append(path)
    return removed


def _process_is_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there: never guess, keep the folder.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def write_model_folder(model: PreTrainedModel, folder: Path, *, repo_id: str, converted_from: str) -> None:
    """Save `model`, the feature extractor and the model card to `folder`, then check the saved weights reload."""
    model.save_pretrained(folder)
    AudioMAEFeatureExtractor().save_pretrained(folder)
    render_converted_model_card(model, repo_id, converted_from).save(folder / "README.md")
    saved = load_file(folder / "model.safetensors")
    expected = model.state_dict()
    differing = sorted(saved.keys() ^ expected.keys()) + sorted(
        key for key in saved.keys() & expected.keys() if not torch.equal(saved[key], expected[key])
    )
    if differing:
        raise RuntimeError(f"The weights saved in {folder} differ from the converted model's: {differing[:10]}")


def render_converted_model_card(model: PreTrainedModel, repo_id: str, converted_from: str):
    """The Hub card of a converted checkpoint (CC BY-NC 4.0, with its provenance), from `audiomae_hf.hub`."""
    from .hub import render_model_card

    kind = "fine-tuned" if model_kind(model) == "classification" else "pretrained"
    return render_model_card(kind, model.config, repo_id, converted_from=converted_from)


__all__ = [
    "CheckpointError",
    "OfficialCheckpoint",
    "audioset_id2label",
    "checkpoint_kind",
    "config_from_official",
    "convert_checkpoint",
    "convert_official_state_dict",
    "hf_to_official_state_dict",
    "key_mapping",
    "load_official_checkpoint",
    "official_to_hf_state_dict",
    "remove_stale_staging_folders",
]

"""Deterministic stand-ins for the official Audio-MAE checkpoints, in the official key layout.

The parity tests compare our models with goldens computed by the official code
(`scripts/make_official_parity_fixtures.py`). Shipping ViT-B weights for that is out of the question (hundreds of MB),
so both sides build the same weights from a seed instead: every tensor comes from its own numpy generator, seeded by
the run seed and a checksum of its key, so a tensor does not depend on which other keys exist or in which order they
are made. Encoder tensors are therefore shared between the pretraining and the fine-tuned state dicts of one shape.

The values are chosen to exercise every path rather than to look trained: unit-variance activations through the
linears, LayerNorm affines away from (1, 0), and one cosine-attention temperature per decoder block below the
official clamp at 0.01. The position tables are the official fixed sin-cos tables, quirk included.

This module must import with numpy and torch alone: the golden script runs it in the official code's environment.
"""

import zlib
from dataclasses import asdict, dataclass

import numpy as np
import torch

PATCH_SIZE = 16
# The released recipe: 1024 frames x 128 mel bins, hence a 64 x 8 patch grid. The official local decoder hard-codes
# that grid, its 16 blocks, 16 heads, 4x4 windows and the 384-wide position-bias MLP, so every shape keeps them.
TIME_PATCHES, FREQUENCY_PATCHES = 64, 8
NUM_PATCHES = TIME_PATCHES * FREQUENCY_PATCHES
LOCAL_DECODER_LAYERS = 16
LOCAL_DECODER_HEADS = 16
POSITION_BIAS_HIDDEN_SIZE = 384
AUDIOSET_CLASSES = 527


@dataclass(frozen=True)
class OfficialShape:
    """Widths and depths of an official Audio-MAE model (the arguments of `MaskedAutoencoderViT`)."""

    embed_dim: int
    depth: int
    num_heads: int
    decoder_embed_dim: int
    decoder_depth: int
    decoder_num_heads: int
    decoder_mode: int  # official flag: 1 is the local (Swin-V2 window) decoder, 0 the global ViT decoder
    mlp_ratio: float = 4.0
    num_classes: int = AUDIOSET_CLASSES

    def as_dict(self) -> dict:
        return asdict(self)


SHAPES = {
    "small": OfficialShape(
        embed_dim=192,
        depth=2,
        num_heads=3,
        decoder_embed_dim=128,
        decoder_depth=LOCAL_DECODER_LAYERS,
        decoder_num_heads=LOCAL_DECODER_HEADS,
        decoder_mode=1,
    ),
    "small_global_decoder": OfficialShape(
        embed_dim=192,
        depth=2,
        num_heads=3,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=16,
        decoder_mode=0,
    ),
    "vit_base": OfficialShape(
        embed_dim=768,
        depth=12,
        num_heads=12,
        decoder_embed_dim=512,
        decoder_depth=LOCAL_DECODER_LAYERS,
        decoder_num_heads=LOCAL_DECODER_HEADS,
        decoder_mode=1,
    ),
}


def official_position_table(width: int) -> np.ndarray:
    """The official fixed 2-D sin-cos table, [1 + NUM_PATCHES, width] float32, with a zero row for the cls token.

    The official code builds it for a grid of (8, 64) although tokens are laid out time-major on a (64, 8) grid, so
    token k is encoded as if it sat at (k // 64, k % 64). The first half of the channels encodes k % 64, the second
    half k // 64. Computed in float64 and rounded once, as the official numpy code does.
    """
    token = np.arange(NUM_PATCHES)
    halves = [_sincos_1d(width // 2, token % TIME_PATCHES), _sincos_1d(width // 2, token // TIME_PATCHES)]
    table = np.concatenate([np.zeros((1, width)), np.concatenate(halves, axis=1)], axis=0)
    return table.astype(np.float32)


def _sincos_1d(width: int, positions: np.ndarray) -> np.ndarray:
    frequencies = 1.0 / 10000 ** (np.arange(width // 2, dtype=np.float64) / (width / 2.0))
    angles = np.outer(positions.astype(np.float32), frequencies)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def official_parameter_shapes(kind: str, shape: OfficialShape) -> dict[str, tuple[int, ...]]:
    """Every key of an official state dict of `kind` ("pretrained" or "finetuned") with its tensor shape."""
    width = shape.embed_dim
    shapes = {
        "cls_token": (1, 1, width),
        "pos_embed": (1, 1 + NUM_PATCHES, width),
        "patch_embed.proj.weight": (width, 1, PATCH_SIZE, PATCH_SIZE),
        "patch_embed.proj.bias": (width,),
    }
    for index in range(shape.depth):
        shapes |= _vit_block_shapes(f"blocks.{index}", width, shape.mlp_ratio)
    if kind == "finetuned":
        shapes |= _layer_norm_shapes("fc_norm", width)
        shapes |= {"head.weight": (shape.num_classes, width), "head.bias": (shape.num_classes,)}
        return shapes
    if kind != "pretrained":
        raise ValueError(f"kind={kind!r}: expected 'pretrained' or 'finetuned'.")
    decoder_width = shape.decoder_embed_dim
    shapes |= _layer_norm_shapes("norm", width)
    shapes |= {
        "decoder_embed.weight": (decoder_width, width),
        "decoder_embed.bias": (decoder_width,),
        "mask_token": (1, 1, decoder_width),
        "decoder_pos_embed": (1, 1 + NUM_PATCHES, decoder_width),
    }
    for index in range(shape.decoder_depth):
        prefix = f"decoder_blocks.{index}"
        if shape.decoder_mode == 1:
            shapes |= _local_decoder_block_shapes(prefix, decoder_width, shape.mlp_ratio)
        else:
            shapes |= _vit_block_shapes(prefix, decoder_width, shape.mlp_ratio)
    shapes |= _layer_norm_shapes("decoder_norm", decoder_width)
    shapes |= {
        "decoder_pred.weight": (PATCH_SIZE**2, decoder_width),
        "decoder_pred.bias": (PATCH_SIZE**2,),
    }
    return shapes


def _linear_shapes(prefix: str, in_features: int, out_features: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (out_features, in_features), f"{prefix}.bias": (out_features,)}


def _layer_norm_shapes(prefix: str, width: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (width,), f"{prefix}.bias": (width,)}


def _vit_block_shapes(prefix: str, width: int, mlp_ratio: float) -> dict[str, tuple[int, ...]]:
    hidden = int(width * mlp_ratio)
    return (
        _layer_norm_shapes(f"{prefix}.norm1", width)
        | _linear_shapes(f"{prefix}.attn.qkv", width, 3 * width)
        | _linear_shapes(f"{prefix}.attn.proj", width, width)
        | _layer_norm_shapes(f"{prefix}.norm2", width)
        | _linear_shapes(f"{prefix}.mlp.fc1", width, hidden)
        | _linear_shapes(f"{prefix}.mlp.fc2", hidden, width)
    )


def _local_decoder_block_shapes(prefix: str, width: int, mlp_ratio: float) -> dict[str, tuple[int, ...]]:
    hidden = int(width * mlp_ratio)
    return (
        {f"{prefix}.attn.tau": (LOCAL_DECODER_HEADS,)}
        | _linear_shapes(f"{prefix}.attn.qkv", width, 3 * width)
        | _linear_shapes(f"{prefix}.attn.proj", width, width)
        | _linear_shapes(f"{prefix}.attn.meta_mlp.fc1", 2, POSITION_BIAS_HIDDEN_SIZE)
        | _linear_shapes(f"{prefix}.attn.meta_mlp.fc2", POSITION_BIAS_HIDDEN_SIZE, LOCAL_DECODER_HEADS)
        | _layer_norm_shapes(f"{prefix}.norm1", width)
        | _linear_shapes(f"{prefix}.mlp.fc1", width, hidden)
        | _linear_shapes(f"{prefix}.mlp.fc2", hidden, width)
        | _layer_norm_shapes(f"{prefix}.norm2", width)
    )


def make_official_state_dict(kind: str, shape: OfficialShape | str, seed: int) -> dict[str, torch.Tensor]:
    """An official-format state dict of `kind` ("pretrained" or "finetuned") for `shape` (or its name in SHAPES)."""
    if isinstance(shape, str):
        shape = SHAPES[shape]
    return {
        key: torch.from_numpy(_official_tensor(key, tensor_shape, seed))
        for key, tensor_shape in official_parameter_shapes(kind, shape).items()
    }


def _official_tensor(key: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    if key in ("pos_embed", "decoder_pos_embed"):
        return official_position_table(shape[-1])[None]
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    module, _, leaf = key.rpartition(".")
    if leaf == "tau":
        # Temperatures spread over (0.05, 1) with the first head below the clamp at 0.01, so the clamp is exercised.
        values = rng.uniform(0.05, 1.0, size=shape)
        values[0] = rng.uniform(-0.02, 0.005)
    elif key in ("cls_token", "mask_token"):
        values = 0.5 * rng.standard_normal(shape, dtype=np.float32)
    elif module.rpartition(".")[2] in ("norm", "norm1", "norm2", "fc_norm", "decoder_norm"):
        values = (1.0 if leaf == "weight" else 0.0) + 0.1 * rng.standard_normal(shape, dtype=np.float32)
    elif leaf == "bias":
        values = 0.02 * rng.standard_normal(shape, dtype=np.float32)
    else:
        # LeCun-normal: unit-variance outputs for unit-variance inputs, so attention logits are far from uniform.
        fan_in = int(np.prod(shape[1:]))
        values = rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(fan_in))
    return values.astype(np.float32, copy=False)


def make_spectrograms(batch_size: int, seed: int) -> np.ndarray:
    """Normalised log-mel stand-ins, [batch, 1, 1024, 128] float32, roughly N(0, 0.5) like the recipe's inputs."""
    rng = np.random.default_rng([seed, zlib.crc32(b"input_values")])
    shape = (batch_size, 1, TIME_PATCHES * PATCH_SIZE, FREQUENCY_PATCHES * PATCH_SIZE)
    return np.float32(0.5) * rng.standard_normal(shape, dtype=np.float32)


def make_masking_noise(batch_size: int, seed: int) -> np.ndarray:
    """Per-patch uniform noise, [batch, NUM_PATCHES] float32: the `torch.rand(N, L)` of official `random_masking`."""
    rng = np.random.default_rng([seed, zlib.crc32(b"masking_noise")])
    return rng.random((batch_size, NUM_PATCHES), dtype=np.float32)


def identity_masking_noise(batch_size: int) -> np.ndarray:
    """Increasing noise: its argsort is the identity, so with mask_ratio 0 every patch is kept in its own place."""
    return np.tile(np.arange(NUM_PATCHES, dtype=np.float32) / NUM_PATCHES, (batch_size, 1))

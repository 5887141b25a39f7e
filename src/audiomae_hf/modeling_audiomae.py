"""PyTorch Audio-MAE: "Masked Autoencoders that Listen" (Huang et al. 2022, arXiv 2207.06405).

Inputs are log-mel spectrograms `input_values` of shape [batch, time, frequency] (what `AudioMAEFeatureExtractor`
returns), cut into square patches. Tokens run time-major: patch (t, f) is token t * frequency_patches + f.
"""

import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.dynamic_module_utils import get_relative_import_files
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import ImageClassifierOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import ModelOutput

from .configuration_audiomae import AudioMAEConfig


@dataclass
class AudioMAEModelOutput(ModelOutput):
    r"""
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + kept_patches, hidden_size)`):
        Tokens after the last encoder block, cls token first. No final LayerNorm is applied here: pretraining applies
        `encoder_norm`, classification pools first and then applies `fc_norm`, as the release does.
    pooler_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
        Mean of the patch tokens (or the cls token when `config.use_mean_pooling=False`), before any norm.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*):
        The embeddings and the output of each encoder block, when `output_hidden_states=True`.
    attentions (`tuple(torch.FloatTensor)`, *optional*):
        Attention probabilities of each encoder block, when `output_attentions=True` (eager attention only).
    """

    last_hidden_state: torch.FloatTensor | None = None
    pooler_output: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class AudioMAEForPreTrainingOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`):
        Mean squared error over the masked patches only (per-patch normalised targets when `norm_pix_loss`).
    logits (`torch.FloatTensor` of shape `(batch_size, num_patches, patch_size ** 2)`):
        Predicted patches, in token order.
    mask (`torch.FloatTensor` of shape `(batch_size, num_patches)`):
        1 for patches hidden from the encoder, 0 for visible ones.
    ids_restore (`torch.LongTensor` of shape `(batch_size, num_patches)`):
        Un-shuffling indices: position of each patch in the [visible, masked] order the encoder and decoder use.
    hidden_states, attentions:
        Of the encoder, as in `AudioMAEModelOutput`.
    decoder_hidden_states, decoder_attentions:
        Of the decoder, likewise (local decoder attentions are per window: `(batch_size * windows, heads, 16, 16)`).
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    mask: torch.FloatTensor | None = None
    ids_restore: torch.LongTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    decoder_hidden_states: tuple[torch.FloatTensor, ...] | None = None
    decoder_attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class AudioMAEReconstruction(ModelOutput):
    r"""
    Spectrogram views of a pretraining forward, each of shape `(batch_size, time, frequency)`, for plots.

    mask: 1 where the patch was hidden from the encoder.
    masked_input: the input with hidden patches set to 0 (the corpus mean after normalisation).
    reconstruction: every predicted patch, mapped back to input scale (with each patch's own mean and variance when
        the model predicts normalised patches, as in the MAE visualisations).
    reconstruction_with_visible: the reconstruction with the visible patches taken from the input.
    """

    mask: torch.FloatTensor | None = None
    masked_input: torch.FloatTensor | None = None
    reconstruction: torch.FloatTensor | None = None
    reconstruction_with_visible: torch.FloatTensor | None = None


def sincos_embedding_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """[len(positions), dim] table: sines then cosines of positions at frequencies 10000^(-k / (dim/2))."""
    frequencies = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = positions.to(torch.float64)[:, None] * frequencies[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def build_position_table(dim: int, time_patches: int, frequency_patches: int) -> torch.Tensor:
    """Fixed 2-D sin-cos table of shape [1 + time_patches * frequency_patches, dim], cls row (zeros) first.

    Reproduces the released construction, which is not the "natural" one. The release declares the grid as
    (frequency_patches, time_patches) = (8, 64) and flattens it row-major, while the tokens run time-major
    (t * 8 + f). So token k gets, in its first half, the code of k % time_patches and, in its second half, the code of
    k // time_patches: for 64x8 tokens the halves encode (8 * t + f) % 64 and (8 * t + f) // 64, not t and f. Released
    weights were trained with this table, so a "correct" 64x8 table would be a different model.
    """
    token = torch.arange(time_patches * frequency_patches)
    table = torch.cat(
        [
            sincos_embedding_1d(dim // 2, token % time_patches),
            sincos_embedding_1d(dim // 2, torch.div(token, time_patches, rounding_mode="floor")),
        ],
        dim=1,
    )
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).float()


def random_masking(noise: torch.Tensor, mask_ratio: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MAE masking: per sample, keep the `1 - mask_ratio` patches with the smallest noise.

    Returns (ids_keep [B, kept], mask [B, N] with 1 = hidden, ids_restore [B, N]).
    """
    batch_size, num_patches = noise.shape
    num_keep = int(num_patches * (1 - mask_ratio))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones(batch_size, num_patches, device=noise.device)
    mask[:, :num_keep] = 0
    return ids_shuffle[:, :num_keep], torch.gather(mask, 1, ids_restore), ids_restore


def time_frequency_masking(
    noise: torch.Tensor, grid: tuple[int, int], time_prob: float, frequency_prob: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hide whole time rows and frequency columns of the patch grid (Audio-MAE's structured masking).

    `noise` is [B, time_patches + frequency_patches]: per sample, the rows and the columns with the largest noise are
    hidden. A patch is visible only if both its row and its column are kept. Visible patches keep their grid order.
    Returns (ids_keep, mask, ids_restore) like `random_masking`.
    """
    time_patches, frequency_patches = grid
    time_noise, frequency_noise = noise[:, :time_patches], noise[:, time_patches:]
    keep_time = _keep_lowest(time_noise, int(time_patches * (1 - time_prob)))
    keep_frequency = _keep_lowest(frequency_noise, int(frequency_patches * (1 - frequency_prob)))
    visible = (keep_time[:, :, None] & keep_frequency[:, None, :]).flatten(1)
    mask = (~visible).float()
    # A stable sort on the mask lists visible patches first, each group in grid order.
    ids_shuffle = torch.argsort(mask, dim=1, stable=True)
    num_keep = int(visible[0].sum())
    return ids_shuffle[:, :num_keep], mask, torch.argsort(ids_shuffle, dim=1)


def _keep_lowest(noise: torch.Tensor, num_keep: int) -> torch.Tensor:
    keep = torch.zeros_like(noise, dtype=torch.bool)
    return keep.scatter(1, torch.argsort(noise, dim=1)[:, :num_keep], True)


class AudioMAEPatchEmbeddings(nn.Module):
    """Non-overlapping square patches of the spectrogram, projected to `hidden_size` by a strided convolution."""

    def __init__(self, config: AudioMAEConfig):
        super().__init__()
        self.patch_size = config.patch_size
        self.projection = nn.Conv2d(1, config.hidden_size, kernel_size=config.patch_size, stride=config.patch_size)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        # [B, 1, T, F] -> [B, D, T/p, F/p] -> [B, N, D], time-major tokens
        return self.projection(spectrogram).flatten(2).transpose(1, 2)


class AudioMAEEmbeddings(nn.Module):
    """Patch tokens plus the fixed position table; the cls token is added after any masking, as in MAE."""

    def __init__(self, config: AudioMAEConfig):
        super().__init__()
        self.config = config
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.patch_embeddings = AudioMAEPatchEmbeddings(config)
        # Persistent, so converted checkpoints round-trip bit for bit; a buffer, so it never trains.
        self.register_buffer(
            "position_embeddings", build_position_table(config.hidden_size, *config.patch_grid)[None], persistent=True
        )

    def forward(self, spectrogram: torch.Tensor, kept_token_ids: torch.Tensor | None = None) -> torch.Tensor:
        patches = self.patch_embeddings(spectrogram)  # [B, N, D]
        # Shorter inputs use the first N rows, so patch (t, f) has the same position code at any input length.
        patches = patches + self.position_embeddings[:, 1 : 1 + patches.shape[1]]
        if kept_token_ids is not None:
            patches = torch.gather(patches, 1, kept_token_ids[..., None].expand(-1, -1, patches.shape[-1]))
        cls_token = (self.cls_token + self.position_embeddings[:, :1]).expand(patches.shape[0], -1, -1)
        return torch.cat([cls_token, patches], dim=1)  # [B, 1 + kept, D]


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


class AudioMAEAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection; the kernel comes from `config._attn_implementation`."""

    def __init__(self, config: AudioMAEConfig, hidden_size: int, num_heads: int):
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.scaling = self.head_dim**-0.5
        self.is_causal = False
        self.attention_dropout = config.attention_probs_dropout_prob
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size, bias=config.qkv_bias)
        self.proj = nn.Linear(hidden_size, hidden_size)
        self.proj_dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, length, _ = hidden_states.shape
        qkv = self.qkv(hidden_states).view(batch_size, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, L, d]
        attention: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, attn_weights = attention(
            self,
            query,
            key,
            value,
            None,
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=self.scaling,
            is_causal=False,
        )
        attn_output = self.proj(attn_output.reshape(batch_size, length, -1))
        return self.proj_dropout(attn_output), attn_weights


class AudioMAEMLP(nn.Module):
    def __init__(self, config: AudioMAEConfig, hidden_size: int):
        super().__init__()
        self.fc1 = nn.Linear(hidden_size, int(hidden_size * config.mlp_ratio))
        self.activation = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(int(hidden_size * config.mlp_ratio), hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.activation(self.fc1(hidden_states)))
        return self.dropout(self.fc2(hidden_states))


class AudioMAEDropPath(nn.Module):
    """Stochastic depth: drops a residual branch for a whole sample, scaling survivors to keep the expectation."""

    def __init__(self, drop_prob: float):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return hidden_states
        keep_prob = 1 - self.drop_prob
        keep = hidden_states.new_empty((hidden_states.shape[0],) + (1,) * (hidden_states.ndim - 1))
        return hidden_states * keep.bernoulli_(keep_prob) / keep_prob

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"


class AudioMAELayer(GradientCheckpointingLayer):
    """Pre-norm ViT block: the encoder's, and the global decoder's."""

    def __init__(self, config: AudioMAEConfig, hidden_size: int, num_heads: int, drop_path: float = 0.0):
        super().__init__()
        self.layernorm_before = nn.LayerNorm(hidden_size, eps=config.layer_norm_eps)
        self.attention = AudioMAEAttention(config, hidden_size, num_heads)
        self.layernorm_after = nn.LayerNorm(hidden_size, eps=config.layer_norm_eps)
        self.mlp = AudioMAEMLP(config, hidden_size)
        self.drop_path = AudioMAEDropPath(drop_path)

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_output, attn_weights = self.attention(self.layernorm_before(hidden_states))
        hidden_states = hidden_states + self.drop_path(attn_output)
        hidden_states = hidden_states + self.drop_path(self.mlp(self.layernorm_after(hidden_states)))
        return hidden_states, attn_weights


class AudioMAEEncoder(nn.Module):
    def __init__(self, config: AudioMAEConfig):
        super().__init__()
        drop_path_rates = torch.linspace(0, config.drop_path_rate, config.num_hidden_layers).tolist()
        self.layer = nn.ModuleList(
            AudioMAELayer(config, config.hidden_size, config.num_attention_heads, rate) for rate in drop_path_rates
        )

    def forward(
        self, hidden_states: torch.Tensor, output_hidden_states: bool = False, output_attentions: bool = False
    ) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        return _run_layers(self.layer, hidden_states, output_hidden_states, output_attentions)


def _run_layers(layers, hidden_states, output_hidden_states, output_attentions, *layer_args):
    all_hidden_states = (hidden_states,) if output_hidden_states else None
    all_attentions = () if output_attentions else None
    for layer in layers:
        hidden_states, attn_weights = layer(hidden_states, *layer_args)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        if output_attentions:
            all_attentions += (attn_weights,)
    return hidden_states, all_hidden_states, all_attentions


class AudioMAEContinuousPositionBias(nn.Module):
    """Swin-V2 continuous relative position bias: an MLP from log-spaced relative (time, frequency) offsets."""

    def __init__(self, config: AudioMAEConfig, num_heads: int):
        super().__init__()
        self.fc1 = nn.Linear(2, config.decoder_position_bias_hidden_size)
        self.activation = nn.ReLU()
        self.fc2 = nn.Linear(config.decoder_position_bias_hidden_size, num_heads)
        self.dropout = nn.Dropout(config.decoder_position_bias_dropout)

    def forward(self, relative_coordinates: torch.Tensor) -> torch.Tensor:
        # The release applies its MLP's dropout after both layers.
        hidden = self.dropout(self.activation(self.fc1(relative_coordinates)))
        return self.dropout(self.fc2(hidden))


class AudioMAEWindowAttention(nn.Module):
    """Scaled cosine attention inside windows, with a learnable per-head temperature `tau` and a continuous bias.

    cos(q, k) / tau + bias is softmax((q / |q| / tau) . (k / |k|) + bias), so the normalised queries and keys go to
    the same attention kernels as the encoder, with the bias (and the shift mask) as an additive attention mask.
    """

    def __init__(self, config: AudioMAEConfig):
        super().__init__()
        self.config = config
        self.num_heads = config.decoder_num_attention_heads
        self.window_size = tuple(config.decoder_window_size)
        self.is_causal = False
        self.attention_dropout = config.attention_probs_dropout_prob
        hidden_size = config.decoder_hidden_size
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)
        self.proj_dropout = nn.Dropout(config.hidden_dropout_prob)
        self.tau = nn.Parameter(torch.ones(self.num_heads))
        self.position_bias_mlp = AudioMAEContinuousPositionBias(config, self.num_heads)
        self.register_buffer("relative_coordinates_log", self.log_relative_coordinates(), persistent=False)

    def log_relative_coordinates(self) -> torch.Tensor:
        """[window_area ** 2, 2] offsets between every pair of window positions, as sign(d) * log(1 + |d|)."""
        coordinates = torch.stack(
            torch.meshgrid(torch.arange(self.window_size[0]), torch.arange(self.window_size[1]), indexing="ij")
        ).flatten(1)
        relative = (coordinates[:, :, None] - coordinates[:, None, :]).permute(1, 2, 0).reshape(-1, 2).float()
        return torch.sign(relative) * torch.log1p(relative.abs())

    def forward(
        self, windows: torch.Tensor, shift_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        # windows: [B * num_windows, window_area, C]; shift_mask: [num_windows, window_area, window_area] or None
        batch_windows, area, channels = windows.shape
        qkv = self.qkv(windows).view(batch_windows, area, 3, self.num_heads, channels // self.num_heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B*nW, H, area, d]
        temperature = self.tau.clamp(min=0.01).view(1, self.num_heads, 1, 1)
        query = F.normalize(query, dim=-1, eps=1e-6) / temperature.to(query.dtype)
        key = F.normalize(key, dim=-1, eps=1e-6)

        bias = self.position_bias_mlp(self.relative_coordinates_log).transpose(0, 1).reshape(1, -1, area, area)
        if shift_mask is not None:
            num_windows = shift_mask.shape[0]
            bias = (bias + shift_mask[:, None]).repeat(batch_windows // num_windows, 1, 1, 1)
        else:
            bias = bias.expand(batch_windows, -1, -1, -1)

        implementation = self.config._attn_implementation
        # An arbitrary additive bias needs the eager or SDPA kernels; flash/flex kernels take no such mask.
        if implementation != "eager":
            implementation = "sdpa"
        attention: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        attn_output, attn_weights = attention(
            self,
            query,
            key,
            value,
            bias.to(query.dtype),
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=1.0,
            is_causal=False,
        )
        attn_output = self.proj(attn_output.reshape(batch_windows, area, channels))
        return self.proj_dropout(attn_output), attn_weights


class AudioMAESwinLayer(GradientCheckpointingLayer):
    """Swin-V2 block of the released local decoder: (shifted) window attention, post-norm residuals."""

    def __init__(self, config: AudioMAEConfig, shift_size: tuple[int, int]):
        super().__init__()
        self.window_size = tuple(config.decoder_window_size)
        self.shift_size = tuple(shift_size)
        self.attention = AudioMAEWindowAttention(config)
        self.attention_output_norm = nn.LayerNorm(config.decoder_hidden_size, eps=config.layer_norm_eps)
        self.mlp = AudioMAEMLP(config, config.decoder_hidden_size)
        self.mlp_output_norm = nn.LayerNorm(config.decoder_hidden_size, eps=config.layer_norm_eps)

    def shift_mask(self, grid: tuple[int, int], device: torch.device) -> torch.Tensor | None:
        """[num_windows, area, area] additive mask keeping tokens that the cyclic shift brought together apart."""
        if not any(self.shift_size):
            return None
        region = torch.zeros(grid, device=device)
        for axis, (window, shift) in enumerate(zip(self.window_size, self.shift_size, strict=True)):
            if shift:
                # Regions along this axis: [0, -window), [-window, -shift), [-shift, end).
                label = torch.zeros(grid[axis], device=device)
                label[-window:] = 1
                label[-shift:] = 2
                region = region * 3 + (label[:, None] if axis == 0 else label[None, :])
        region_windows = self.partition(region[None, :, :, None], grid).squeeze(-1)  # [nW, area]
        different = region_windows[:, None, :] != region_windows[:, :, None]
        # -100, not -inf: the release's value, and it keeps fully masked rows finite.
        return different.float() * -100.0

    def partition(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        # [B, T, F, C] -> [B * num_windows, window_area, C]
        (wt, wf), (t, f) = self.window_size, grid
        batch, channels = tokens.shape[0], tokens.shape[-1]
        tokens = tokens.view(batch, t // wt, wt, f // wf, wf, channels).permute(0, 1, 3, 2, 4, 5)
        return tokens.reshape(-1, wt * wf, channels)

    def merge(self, windows: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        # [B * num_windows, window_area, C] -> [B, T, F, C]
        (wt, wf), (t, f) = self.window_size, grid
        channels = windows.shape[-1]
        windows = windows.view(-1, t // wt, f // wf, wt, wf, channels).permute(0, 1, 3, 2, 4, 5)
        return windows.reshape(-1, t, f, channels)

    def forward(self, hidden_states: torch.Tensor, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, channels = hidden_states.shape
        tokens = hidden_states.view(batch, *grid, channels)
        if any(self.shift_size):
            tokens = torch.roll(tokens, shifts=tuple(-s for s in self.shift_size), dims=(1, 2))
        attn_windows, attn_weights = self.attention(
            self.partition(tokens, grid), self.shift_mask(grid, hidden_states.device)
        )
        tokens = self.merge(attn_windows, grid)
        if any(self.shift_size):
            tokens = torch.roll(tokens, shifts=self.shift_size, dims=(1, 2))
        hidden_states = hidden_states + self.attention_output_norm(tokens.reshape(batch, length, channels))
        hidden_states = hidden_states + self.mlp_output_norm(self.mlp(hidden_states))
        return hidden_states, attn_weights


class AudioMAEDecoder(nn.Module):
    """MAE decoder: visible tokens plus mask tokens, un-shuffled, through light blocks to per-patch predictions."""

    def __init__(self, config: AudioMAEConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Linear(config.hidden_size, config.decoder_hidden_size)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.decoder_hidden_size))
        self.register_buffer(
            "position_embeddings",
            build_position_table(config.decoder_hidden_size, *config.patch_grid)[None],
            persistent=True,
        )
        if config.decoder_attention == "local":
            no_shift = (0, 0)
            self.layer = nn.ModuleList(
                AudioMAESwinLayer(config, config.decoder_shift_size if index % 2 else no_shift)
                for index in range(config.decoder_num_hidden_layers)
            )
        else:
            self.layer = nn.ModuleList(
                AudioMAELayer(config, config.decoder_hidden_size, config.decoder_num_attention_heads)
                for _ in range(config.decoder_num_hidden_layers)
            )
        self.norm = nn.LayerNorm(config.decoder_hidden_size, eps=config.layer_norm_eps)
        self.pred = nn.Linear(config.decoder_hidden_size, config.patch_size**2)

    def forward(
        self,
        latent: torch.Tensor,
        ids_restore: torch.Tensor,
        grid: tuple[int, int],
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        hidden_states = self.embed(latent)  # [B, 1 + kept, Dd]
        batch, num_patches = ids_restore.shape
        mask_tokens = self.mask_token.expand(batch, num_patches + 1 - hidden_states.shape[1], -1)
        patches = torch.cat([hidden_states[:, 1:], mask_tokens], dim=1)
        patches = torch.gather(patches, 1, ids_restore[..., None].expand(-1, -1, patches.shape[-1]))  # un-shuffle
        hidden_states = torch.cat([hidden_states[:, :1], patches], dim=1)
        hidden_states = hidden_states + self.position_embeddings[:, : 1 + num_patches]

        if self.config.decoder_attention == "local":
            # The local decoder works on the patch grid only: the cls token is dropped.
            hidden_states, all_hidden_states, all_attentions = _run_layers(
                self.layer, hidden_states[:, 1:], output_hidden_states, output_attentions, grid
            )
        else:
            hidden_states, all_hidden_states, all_attentions = _run_layers(
                self.layer, hidden_states, output_hidden_states, output_attentions
            )
            hidden_states = hidden_states[:, 1:]
        logits = self.pred(self.norm(hidden_states))  # [B, N, p*p]
        return logits, all_hidden_states, all_attentions


REMOTE_CODE_AUTO_MAP = {
    "AutoConfig": "configuration_audiomae.AudioMAEConfig",
    "AutoModel": "modeling_audiomae.AudioMAEModel",
    "AutoModelForPreTraining": "modeling_audiomae.AudioMAEForPreTraining",
    "AutoModelForAudioClassification": "modeling_audiomae.AudioMAEForAudioClassification",
}
# The package's audio-classification pipeline (decoding without ffmpeg), for `pipeline(model=folder,
# trust_remote_code=True)`. A task name of its own: an "audio-classification" entry would make transformers demand
# trust_remote_code from users who have the package installed.
REMOTE_CODE_PIPELINES = {
    "audiomae-audio-classification": {
        "impl": "pipeline_audiomae.AudioMAEAudioClassificationPipeline",
        "pt": ["AutoModelForAudioClassification"],
        "type": "audio",
    }
}


def _save_pipeline_code(config: AudioMAEConfig, save_directory) -> None:
    """Copy the pipeline's code next to the model's and record it in `config.custom_pipelines`, when that code is at
    hand (the installed package, or remote code that loaded the pipeline); drop a stale entry when it is not."""
    pipeline_file = Path(__file__).with_name("pipeline_audiomae.py")
    if not pipeline_file.is_file():
        config.__dict__.pop("custom_pipelines", None)
        return
    os.makedirs(save_directory, exist_ok=True)
    for code_file in [pipeline_file, *get_relative_import_files(pipeline_file)]:
        shutil.copy(code_file, save_directory)
    config.custom_pipelines = REMOTE_CODE_PIPELINES


class AudioMAEPreTrainedModel(PreTrainedModel):
    config_class = AudioMAEConfig
    config: AudioMAEConfig
    base_model_prefix = "audiomae"
    main_input_name = "input_values"
    input_modalities = ("audio",)
    supports_gradient_checkpointing = True
    _no_split_modules = ["AudioMAEEmbeddings", "AudioMAELayer", "AudioMAESwinLayer"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    # The loss is a plain mean: Trainer must average it over gradient-accumulation steps itself.
    accepts_loss_kwargs = False

    def save_pretrained(self, save_directory, *args, **kwargs):
        # Every Auto class, not only the saving class's own, so that the folder loads as remote code for any task
        # (a pretraining folder is where a classifier's fine-tuning starts).
        self.config.auto_map = {**REMOTE_CODE_AUTO_MAP, **getattr(self.config, "auto_map", {})}
        _save_pipeline_code(self.config, save_directory)
        return super().save_pretrained(save_directory, *args, **kwargs)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """The release's init: xavier-uniform linears (and patch projection, seen as a linear), N(0, 0.02) tokens,
        standard LayerNorms, tau = 1, and the fixed tables and buffers rebuilt (they are empty after meta-device init).
        """
        if isinstance(module, nn.Linear):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, AudioMAEPatchEmbeddings):
            weight = module.projection.weight
            bound = math.sqrt(6.0 / (weight.shape[0] + weight[0].numel()))
            init.uniform_(weight, -bound, bound)
            init.zeros_(module.projection.bias)
        elif isinstance(module, AudioMAEEmbeddings):
            init.normal_(module.cls_token, std=self.config.initializer_range)
            init.copy_(
                module.position_embeddings,
                build_position_table(self.config.hidden_size, *self.config.patch_grid)[None],
            )
        elif isinstance(module, AudioMAEDecoder):
            init.normal_(module.mask_token, std=self.config.initializer_range)
            init.copy_(
                module.position_embeddings,
                build_position_table(self.config.decoder_hidden_size, *self.config.patch_grid)[None],
            )
        elif isinstance(module, AudioMAEWindowAttention):
            init.ones_(module.tau)
            init.copy_(module.relative_coordinates_log, module.log_relative_coordinates())

    def spectrogram_and_grid(self, input_values: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Check `input_values` and return it as [B, 1, T, F] with its (time, frequency) patch grid."""
        config = self.config
        if not torch.is_tensor(input_values) or not input_values.is_floating_point():
            raise ValueError(f"input_values must be a floating-point tensor, got {type(input_values).__name__}.")
        if input_values.ndim == 4 and input_values.shape[1] == 1:
            spectrogram = input_values
        elif input_values.ndim == 3:
            spectrogram = input_values[:, None]
        else:
            raise ValueError(
                "input_values must have shape [batch, time, num_mel_bins] (as AudioMAEFeatureExtractor returns) or "
                f"[batch, 1, time, num_mel_bins]; got {tuple(input_values.shape)}."
            )
        time, frequency = spectrogram.shape[-2:]
        if frequency != config.num_mel_bins:
            raise ValueError(
                f"input_values has {frequency} mel bins on its last axis, but the model expects "
                f"num_mel_bins={config.num_mel_bins}. Inputs are [batch, time, frequency]: time first."
            )
        if time % config.patch_size or not 0 < time <= config.target_length:
            raise ValueError(
                f"input_values has {time} frames; expected a multiple of patch_size={config.patch_size} between "
                f"{config.patch_size} and target_length={config.target_length}. Pad or crop it, e.g. with "
                "AudioMAEFeatureExtractor."
            )
        return spectrogram, (time // config.patch_size, frequency // config.patch_size)

    def patchify(self, input_values: torch.Tensor) -> torch.Tensor:
        """[B, T, F] (or [B, 1, T, F]) spectrogram -> [B, N, p*p] patches in token order, rows of p values per patch."""
        spectrogram, (time_patches, frequency_patches) = self.spectrogram_and_grid(input_values)
        p = self.config.patch_size
        patches = spectrogram.reshape(-1, time_patches, p, frequency_patches, p)
        return patches.permute(0, 1, 3, 2, 4).reshape(-1, time_patches * frequency_patches, p * p)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """[B, N, p*p] patches in token order -> [B, T, F] spectrogram; the time length follows from N."""
        p = self.config.patch_size
        frequency_patches = self.config.num_mel_bins // p
        time_patches = patches.shape[1] // frequency_patches
        spectrogram = patches.reshape(-1, time_patches, frequency_patches, p, p).permute(0, 1, 3, 2, 4)
        return spectrogram.reshape(-1, time_patches * p, frequency_patches * p)


# A pretraining checkpoint also holds the decoder and the encoder's final norm; models built on the encoder alone
# load it without reporting those as unexpected.
_PRETRAINING_ONLY_KEYS = [r"^decoder\.", r"^encoder_norm\."]


class AudioMAEModel(AudioMAEPreTrainedModel):
    """The Audio-MAE encoder: patch embeddings, fixed position table, cls token, pre-norm ViT blocks."""

    _keys_to_ignore_on_load_unexpected = _PRETRAINING_ONLY_KEYS

    def __init__(self, config: AudioMAEConfig):
        super().__init__(config)
        self.embeddings = AudioMAEEmbeddings(config)
        self.encoder = AudioMAEEncoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        kept_token_ids: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
    ) -> AudioMAEModelOutput | tuple:
        r"""
        input_values (`torch.FloatTensor` of shape `(batch_size, time, num_mel_bins)`):
            Normalised log-mel fbank from `AudioMAEFeatureExtractor` (also accepted as `(batch_size, 1, time,
            num_mel_bins)`). `time` may be any multiple of `patch_size` up to `target_length`.
        attention_mask (`torch.LongTensor` of shape `(batch_size, time)`, *optional*):
            1 for frames of real audio, 0 for padding (the feature extractor's `return_attention_mask=True`). Only
            the pooled output uses it: patches made only of padding are left out of the mean. Tokens still attend
            to padding, as in the released models, which were trained that way.
        kept_token_ids (`torch.LongTensor` of shape `(batch_size, kept)`, *optional*):
            Patch tokens the encoder sees, the rest being dropped (MAE masking). Default: all.
        """
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        spectrogram, grid = self.spectrogram_and_grid(input_values)
        embeddings = self.embeddings(spectrogram, kept_token_ids)
        last_hidden_state, hidden_states, attentions = self.encoder(
            embeddings, output_hidden_states, output_attentions
        )
        pooler_output = self.pool(last_hidden_state, grid, attention_mask, kept_token_ids)
        output = AudioMAEModelOutput(
            last_hidden_state=last_hidden_state,
            pooler_output=pooler_output,
            hidden_states=hidden_states,
            attentions=attentions,
        )
        return output if return_dict else output.to_tuple()

    def pool(
        self,
        tokens: torch.Tensor,
        grid: tuple[int, int],
        attention_mask: torch.Tensor | None,
        kept_token_ids: torch.Tensor | None,
    ) -> torch.Tensor:
        if not self.config.use_mean_pooling:
            return tokens[:, 0]
        patches = tokens[:, 1:]
        if attention_mask is None:
            return patches.mean(dim=1)
        if attention_mask.shape != (tokens.shape[0], grid[0] * self.config.patch_size):
            raise ValueError(
                f"attention_mask must have shape [batch, time] = {(tokens.shape[0], grid[0] * self.config.patch_size)}, "
                f"got {tuple(attention_mask.shape)}."
            )
        patch_has_audio = attention_mask.view(tokens.shape[0], grid[0], -1).any(dim=-1)  # [B, time_patches]
        weights = patch_has_audio[:, :, None].expand(-1, -1, grid[1]).flatten(1).to(patches.dtype)  # [B, N]
        if kept_token_ids is not None:
            weights = torch.gather(weights, 1, kept_token_ids)
        weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1)
        return torch.einsum("bn,bnd->bd", weights, patches)


class AudioMAEForPreTraining(AudioMAEPreTrainedModel):
    """Masked spectrogram modelling: hide most patches, encode the rest, reconstruct the hidden ones."""

    def __init__(self, config: AudioMAEConfig):
        super().__init__(config)
        self.audiomae = AudioMAEModel(config)
        self.encoder_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = AudioMAEDecoder(config)
        self.post_init()

    def sample_mask(
        self, batch_size: int, grid: tuple[int, int], noise: torch.Tensor | None, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        config = self.config
        num_patches = grid[0] * grid[1]
        if config.mask_mode == "random":
            expected = (batch_size, num_patches)
        else:
            expected = (batch_size, grid[0] + grid[1])
        if noise is None:
            noise = torch.rand(expected, device=device)
        elif tuple(noise.shape) != expected:
            raise ValueError(
                f"noise must have shape {expected} for mask_mode={config.mask_mode!r} on a {grid} patch grid, "
                f"got {tuple(noise.shape)}."
            )
        if config.mask_mode == "random":
            return random_masking(noise, config.mask_ratio)
        return time_frequency_masking(noise, grid, config.mask_time_prob, config.mask_frequency_prob)

    def forward(
        self,
        input_values: torch.Tensor,
        noise: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
    ) -> AudioMAEForPreTrainingOutput | tuple:
        r"""
        input_values (`torch.FloatTensor` of shape `(batch_size, time, num_mel_bins)`):
            Normalised log-mel fbank, as for `AudioMAEModel`.
        noise (`torch.FloatTensor`, *optional*):
            Makes the masking deterministic. `mask_mode="random"`: shape `(batch_size, num_patches)`, the patches
            with the smallest noise stay visible (the release's `torch.rand` noise). `mask_mode="time_frequency"`:
            shape `(batch_size, time_patches + frequency_patches)`, one value per grid row then per grid column.
        """
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        spectrogram, grid = self.spectrogram_and_grid(input_values)
        if self.config.decoder_attention == "local":
            for axis, (patches, window) in enumerate(zip(grid, self.config.decoder_window_size, strict=True)):
                if patches % window:
                    raise ValueError(
                        f"The local decoder's {window}-patch windows must tile the {grid} patch grid, but axis {axis} "
                        f"has {patches} patches: give a time length that is a multiple of "
                        f"{window * self.config.patch_size} frames."
                    )
        ids_keep, mask, ids_restore = self.sample_mask(spectrogram.shape[0], grid, noise, spectrogram.device)

        encoder_outputs = self.audiomae(
            spectrogram,
            kept_token_ids=ids_keep,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=True,
        )
        latent = self.encoder_norm(encoder_outputs.last_hidden_state)  # [B, 1 + kept, D]
        logits, decoder_hidden_states, decoder_attentions = self.decoder(
            latent, ids_restore, grid, output_hidden_states, output_attentions
        )
        loss = self.reconstruction_loss(spectrogram, logits, mask)
        output = AudioMAEForPreTrainingOutput(
            loss=loss,
            logits=logits,
            mask=mask,
            ids_restore=ids_restore,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
            decoder_hidden_states=decoder_hidden_states,
            decoder_attentions=decoder_attentions,
        )
        return output if return_dict else output.to_tuple()

    def reconstruction_target(self, input_values: torch.Tensor) -> torch.Tensor:
        target = self.patchify(input_values)
        if self.config.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6) ** 0.5
        return target

    def reconstruction_loss(
        self, input_values: torch.Tensor, logits: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean squared error per patch, averaged over the hidden patches only: visible ones do not count."""
        per_patch = ((logits - self.reconstruction_target(input_values)) ** 2).mean(dim=-1)  # [B, N]
        return (per_patch * mask).sum() / mask.sum()

    @torch.no_grad()
    def reconstruct_spectrogram(
        self, input_values: torch.Tensor, outputs: AudioMAEForPreTrainingOutput
    ) -> AudioMAEReconstruction:
        """Spectrogram views of `outputs` (a forward on `input_values`): mask, masked input, reconstruction."""
        patches = self.patchify(input_values)
        predicted = outputs.logits
        if self.config.norm_pix_loss:
            mean = patches.mean(dim=-1, keepdim=True)
            std = (patches.var(dim=-1, keepdim=True) + 1e-6) ** 0.5
            predicted = predicted * std + mean
        hidden = outputs.mask[..., None].to(patches.dtype)
        patch_mask = hidden.expand_as(patches)
        return AudioMAEReconstruction(
            mask=self.unpatchify(patch_mask),
            masked_input=self.unpatchify(patches * (1 - hidden)),
            reconstruction=self.unpatchify(predicted),
            reconstruction_with_visible=self.unpatchify(patches * (1 - hidden) + predicted * hidden),
        )


class AudioMAEForAudioClassification(AudioMAEPreTrainedModel):
    """Encoder, pooled patch tokens, `fc_norm` and a linear head. While training, whole time rows and frequency
    columns of the patch grid are dropped (`mask_time_prob`, `mask_frequency_prob`), as in the released fine-tuning.
    """

    _keys_to_ignore_on_load_unexpected = _PRETRAINING_ONLY_KEYS

    def __init__(self, config: AudioMAEConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.audiomae = AudioMAEModel(config)
        self.fc_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
    ) -> ImageClassifierOutput | tuple:
        r"""
        input_values, attention_mask: as for `AudioMAEModel`.
        labels (`torch.Tensor`, *optional*):
            Single-label: class indices of shape `(batch_size,)`, or class probabilities (e.g. from mixup) of shape
            `(batch_size, num_labels)`; cross-entropy. Multi-label: multi-hot floats `(batch_size, num_labels)`;
            binary cross-entropy on sigmoid scores. Regression (`num_labels == 1` or `problem_type="regression"`):
            floats `(batch_size,)` or `(batch_size, num_labels)`; mean squared error.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        kept_token_ids = None
        if self.training and (self.config.mask_time_prob > 0 or self.config.mask_frequency_prob > 0):
            _, grid = self.spectrogram_and_grid(input_values)
            noise = torch.rand(input_values.shape[0], sum(grid), device=input_values.device)
            kept_token_ids, _, _ = time_frequency_masking(
                noise, grid, self.config.mask_time_prob, self.config.mask_frequency_prob
            )
        outputs = self.audiomae(
            input_values,
            attention_mask=attention_mask,
            kept_token_ids=kept_token_ids,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=True,
        )
        logits = self.classifier(self.fc_norm(outputs.pooler_output))
        loss = self.classification_loss(logits, labels) if labels is not None else None
        output = ImageClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return output if return_dict else output.to_tuple()

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        config = self.config
        batch_size = logits.shape[0]
        if config.problem_type is None:
            if self.num_labels == 1:
                config.problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int) and labels.ndim == 1:
                config.problem_type = "single_label_classification"
            else:
                config.problem_type = "multi_label_classification"

        if config.problem_type == "single_label_classification":
            if labels.shape == (batch_size,) and not labels.is_floating_point():
                if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_labels):
                    raise ValueError(f"Class indices in labels must lie in [0, {self.num_labels}).")
                return F.cross_entropy(logits, labels.long())
            if labels.shape == (batch_size, self.num_labels) and labels.is_floating_point():
                return F.cross_entropy(logits, labels.to(logits.dtype))
            raise ValueError(
                f"Single-label labels must be integer class indices of shape ({batch_size},) or class "
                f"probabilities of shape ({batch_size}, {self.num_labels}); got {labels.dtype} {tuple(labels.shape)}."
            )
        if config.problem_type == "multi_label_classification":
            if labels.shape != (batch_size, self.num_labels):
                raise ValueError(
                    f"Multi-label labels must be multi-hot of shape ({batch_size}, {self.num_labels}); "
                    f"got {tuple(labels.shape)}."
                )
            return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        if labels.shape not in ((batch_size,), (batch_size, self.num_labels)):
            raise ValueError(
                f"Regression labels must have shape ({batch_size},) or ({batch_size}, {self.num_labels}); "
                f"got {tuple(labels.shape)}."
            )
        return F.mse_loss(logits.squeeze(-1) if labels.ndim == 1 else logits, labels.to(logits.dtype))


__all__ = ["AudioMAEForAudioClassification", "AudioMAEForPreTraining", "AudioMAEModel", "AudioMAEPreTrainedModel"]

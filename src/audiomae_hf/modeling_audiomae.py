"""PyTorch Audio-MAE: "Masked Autoencoders that Listen" (Huang et al. 2022, arXiv 2207.06405).

Inputs are log-mel spectrograms `input_values` of shape [batch, time, frequency] (what `AudioMAEFeatureExtractor`
returns), cut into square patches. Tokens run time-major: patch (t, f) is token t * frequency_patches + f.

Needs transformers >= 5.4 (dataclass configs; `capture_outputs` appeared in 5.2), also where a saved folder runs as
remote code.
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
from transformers.processing_utils import Unpack
from transformers.utils import ModelOutput, TransformersKwargs
from transformers.utils.generic import can_return_tuple, merge_with_config_defaults
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

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
        Attention probabilities of each encoder block, when `output_attentions=True`. They exist only in the eager
        kernel, so a call asking for them runs eager attention whatever `attn_implementation` is.
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
        Of the decoder, likewise. Window-attention blocks work on the patch tokens only (`(batch_size, num_patches,
        decoder_hidden_size)`, attentions per window: `(batch_size * windows, heads, 16, 16)`); global blocks on the
        cls token and the patch tokens.
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
class AudioMAEDecoderOutput(ModelOutput):
    r"""
    logits (`torch.FloatTensor` of shape `(batch_size, num_patches, patch_size ** 2)`):
        Predicted patches, in token order.
    hidden_states, attentions:
        The decoder's input and the output of each block, and each block's attention probabilities, on request.
    """

    logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


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
    num_keep_time = int(time_patches * (1 - time_prob))
    num_keep_frequency = int(frequency_patches * (1 - frequency_prob))
    keep_time = _keep_lowest(time_noise, num_keep_time)
    keep_frequency = _keep_lowest(frequency_noise, num_keep_frequency)
    visible = (keep_time[:, :, None] & keep_frequency[:, None, :]).flatten(1)
    mask = (~visible).float()
    # A stable sort on the mask lists visible patches first, each group in grid order.
    ids_shuffle = torch.argsort(mask, dim=1, stable=True)
    # Counted from the shapes, not from `visible`: a data-dependent count would break torch.compile's graph.
    num_keep = num_keep_time * num_keep_frequency
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
        # float32 features into a bfloat16 / float16 model, as transformers' ViT casts its pixel values.
        spectrogram = spectrogram.to(self.projection.weight.dtype)
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
        # The fixed table follows the model's dtype however the model was cast (its stored copy may not).
        position_embeddings = self.position_embeddings.to(patches.dtype)
        # Shorter inputs use the first N rows, so patch (t, f) has the same position code at any input length.
        patches = patches + position_embeddings[:, 1 : 1 + patches.shape[1]]
        if kept_token_ids is not None:
            patches = torch.gather(patches, 1, kept_token_ids[..., None].expand(-1, -1, patches.shape[-1]))
        cls_token = (self.cls_token + position_embeddings[:, :1]).expand(patches.shape[0], -1, -1)
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


def attention_function(implementation: str, output_attentions: bool) -> Callable:
    """The kernel for `implementation`, or the eager one when the caller asks for attention probabilities: only it
    computes them (SDPA, flash and flex return none), and the outputs agree to float tolerance."""
    if output_attentions:
        return eager_attention_forward
    return ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)


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

    def forward(
        self, hidden_states: torch.Tensor, **kwargs: Unpack[TransformersKwargs]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, length, _ = hidden_states.shape
        qkv = self.qkv(hidden_states).view(batch_size, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, L, d]
        attention = attention_function(self.config._attn_implementation, kwargs.get("output_attentions", False))
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

    def forward(self, hidden_states: torch.Tensor, **kwargs: Unpack[TransformersKwargs]) -> torch.Tensor:
        attn_output, _ = self.attention(self.layernorm_before(hidden_states), **kwargs)
        hidden_states = hidden_states + self.drop_path(attn_output)
        return hidden_states + self.drop_path(self.mlp(self.layernorm_after(hidden_states)))


class AudioMAEEncoder(nn.Module):
    def __init__(self, config: AudioMAEConfig):
        super().__init__()
        # On the CPU explicitly: from_pretrained may build the model under a meta device, where .tolist() fails.
        drop_path_rates = torch.linspace(0, config.drop_path_rate, config.num_hidden_layers, device="cpu").tolist()
        self.layer = nn.ModuleList(
            AudioMAELayer(config, config.hidden_size, config.num_attention_heads, rate) for rate in drop_path_rates
        )

    def forward(self, hidden_states: torch.Tensor, **kwargs: Unpack[TransformersKwargs]) -> torch.Tensor:
        for layer in self.layer:
            hidden_states = layer(hidden_states, **kwargs)
        return hidden_states


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
        self, windows: torch.Tensor, shift_mask: torch.Tensor | None, **kwargs: Unpack[TransformersKwargs]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        # windows: [B * num_windows, window_area, C]; shift_mask: [num_windows, window_area, window_area] or None
        batch_windows, area, channels = windows.shape
        qkv = self.qkv(windows).view(batch_windows, area, 3, self.num_heads, channels // self.num_heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B*nW, H, area, d]
        temperature = self.tau.clamp(min=0.01).view(1, self.num_heads, 1, 1)
        query = F.normalize(query, dim=-1, eps=1e-6) / temperature.to(query.dtype)
        key = F.normalize(key, dim=-1, eps=1e-6)

        # The coordinates buffer is rebuilt in float32; a cast model's MLP takes them in its own dtype.
        coordinates = self.relative_coordinates_log.to(self.position_bias_mlp.fc1.weight.dtype)
        bias = self.position_bias_mlp(coordinates).transpose(0, 1).reshape(1, -1, area, area)
        if shift_mask is not None:
            num_windows = shift_mask.shape[0]
            bias = (bias + shift_mask[:, None]).repeat(batch_windows // num_windows, 1, 1, 1)
        else:
            bias = bias.expand(batch_windows, -1, -1, -1)

        implementation = self.config._attn_implementation
        # An arbitrary additive bias needs the eager or SDPA kernels; flash/flex kernels take no such mask.
        if implementation != "eager":
            implementation = "sdpa"
        attention = attention_function(implementation, kwargs.get("output_attentions", False))
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

    def forward(
        self, hidden_states: torch.Tensor, grid: tuple[int, int], **kwargs: Unpack[TransformersKwargs]
    ) -> torch.Tensor:
        batch, length, channels = hidden_states.shape
        tokens = hidden_states.view(batch, *grid, channels)
        if any(self.shift_size):
            tokens = torch.roll(tokens, shifts=tuple(-s for s in self.shift_size), dims=(1, 2))
        attn_windows, _ = self.attention(
            self.partition(tokens, grid), self.shift_mask(grid, hidden_states.device), **kwargs
        )
        tokens = self.merge(attn_windows, grid)
        if any(self.shift_size):
            tokens = torch.roll(tokens, shifts=self.shift_size, dims=(1, 2))
        hidden_states = hidden_states + self.attention_output_norm(tokens.reshape(batch, length, channels))
        return hidden_states + self.mlp_output_norm(self.mlp(hidden_states))


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
    # Checked by tests/test_modeling.py: torch.compile(fullgraph=True) traces every forward without a break.
    _can_compile_fullgraph = True
    _can_record_outputs = {"hidden_states": AudioMAELayer, "attentions": AudioMAEAttention}
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

    def freeze_feature_encoder(self) -> None:
        """Stop training the patch embedding, the convolution that turns the spectrogram into tokens: this model's
        counterpart of the waveform feature encoder that wav2vec2-style models freeze while fine-tuning (what
        transformers' audio-classification example script calls by default). The rest of the encoder still trains.
        """
        self.base_model.embeddings.patch_embeddings.requires_grad_(False)

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

    @merge_with_config_defaults
    @capture_outputs(tie_last_hidden_states=False)
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        kept_token_ids: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> AudioMAEModelOutput:
        r"""
        input_values (`torch.FloatTensor` of shape `(batch_size, time, num_mel_bins)`):
            Normalised log-mel fbank from `AudioMAEFeatureExtractor` (also accepted as `(batch_size, 1, time,
            num_mel_bins)`). `time` may be any multiple of `patch_size` up to `target_length`. Cast to the model's
            dtype, so float32 features feed a bfloat16 model.
        attention_mask (`torch.LongTensor` of shape `(batch_size, time)`, *optional*):
            1 for frames of real audio, 0 for padding (the feature extractor's `return_attention_mask=True`). Only
            the pooled output uses it: patches made only of padding are left out of the mean. Tokens still attend
            to padding, as in the released models, which were trained that way.
        kept_token_ids (`torch.LongTensor` of shape `(batch_size, kept)`, *optional*):
            Patch tokens the encoder sees, the rest being dropped (MAE masking). Default: all.
        """
        spectrogram, grid = self.spectrogram_and_grid(input_values)
        embeddings = self.embeddings(spectrogram, kept_token_ids)  # [B, 1 + kept, D]
        last_hidden_state = self.encoder(embeddings, **kwargs)
        pooler_output = self.pool(last_hidden_state, grid, attention_mask, kept_token_ids)
        return AudioMAEModelOutput(last_hidden_state=last_hidden_state, pooler_output=pooler_output)

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


class AudioMAEDecoder(AudioMAEPreTrainedModel):
    """MAE decoder: visible tokens plus mask tokens, un-shuffled, through light blocks to per-patch predictions.

    Window-attention blocks (`config.decoder_num_local_layers` of them) come first and work on the patch grid alone;
    global blocks follow on the cls token and the patches. So `"local"` / `"local_no_shift"` never see the cls token
    (as in the release), `"global"` always does, and `"hybrid"` sets it aside until its first global block.
    """

    _can_record_outputs = {
        # Recorded on both block kinds, in the order they run (a hybrid decoder has both). One recorder with a tuple
        # of classes, not a list of two: transformers 5.4 to 5.10 at least split a two-entry "attentions" list into
        # self- and cross-attentions.
        "hidden_states": OutputRecorder((AudioMAESwinLayer, AudioMAELayer), index=0),
        "attentions": OutputRecorder((AudioMAEWindowAttention, AudioMAEAttention), index=1),
    }

    def __init__(self, config: AudioMAEConfig):
        super().__init__(config)
        self.embed = nn.Linear(config.hidden_size, config.decoder_hidden_size)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.decoder_hidden_size))
        self.register_buffer(
            "position_embeddings",
            build_position_table(config.decoder_hidden_size, *config.patch_grid)[None],
            persistent=True,
        )
        shift_size = (0, 0) if config.decoder_attention == "local_no_shift" else config.decoder_shift_size
        num_local = config.decoder_num_local_layers
        # Odd window blocks are the shifted ones, as in the release.
        local_layers = [AudioMAESwinLayer(config, shift_size if index % 2 else (0, 0)) for index in range(num_local)]
        global_layers = [
            AudioMAELayer(config, config.decoder_hidden_size, config.decoder_num_attention_heads)
            for _ in range(config.decoder_num_hidden_layers - num_local)
        ]
        self.layer = nn.ModuleList(local_layers + global_layers)
        self.norm = nn.LayerNorm(config.decoder_hidden_size, eps=config.layer_norm_eps)
        self.pred = nn.Linear(config.decoder_hidden_size, config.patch_size**2)
        self.post_init()

    @merge_with_config_defaults
    @capture_outputs(tie_last_hidden_states=False)
    def forward(
        self,
        latent: torch.Tensor,
        ids_restore: torch.Tensor,
        grid: tuple[int, int],
        **kwargs: Unpack[TransformersKwargs],
    ) -> AudioMAEDecoderOutput:
        hidden_states = self.embed(latent)  # [B, 1 + kept, Dd]
        batch, num_patches = ids_restore.shape
        mask_tokens = self.mask_token.expand(batch, num_patches + 1 - hidden_states.shape[1], -1)
        patches = torch.cat([hidden_states[:, 1:], mask_tokens], dim=1)
        patches = torch.gather(patches, 1, ids_restore[..., None].expand(-1, -1, patches.shape[-1]))  # un-shuffle
        hidden_states = torch.cat([hidden_states[:, :1], patches], dim=1)
        hidden_states = hidden_states + self.position_embeddings[:, : 1 + num_patches].to(hidden_states.dtype)

        num_local = self.config.decoder_num_local_layers
        cls_token, patches = hidden_states[:, :1], hidden_states[:, 1:]  # [B, 1, Dd], [B, N, Dd]
        for layer in self.layer[:num_local]:
            patches = layer(patches, grid, **kwargs)
        hidden_states = torch.cat([cls_token, patches], dim=1)
        for layer in self.layer[num_local:]:
            hidden_states = layer(hidden_states, **kwargs)
        logits = self.pred(self.norm(hidden_states[:, 1:]))  # [B, N, p*p]
        return AudioMAEDecoderOutput(logits=logits)


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

    @can_return_tuple
    def forward(
        self,
        input_values: torch.Tensor,
        noise: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> AudioMAEForPreTrainingOutput:
        r"""
        input_values (`torch.FloatTensor` of shape `(batch_size, time, num_mel_bins)`):
            Normalised log-mel fbank, as for `AudioMAEModel`.
        noise (`torch.FloatTensor`, *optional*):
            Makes the masking deterministic. `mask_mode="random"`: shape `(batch_size, num_patches)`, the patches
            with the smallest noise stay visible (the release's `torch.rand` noise). `mask_mode="time_frequency"`:
            shape `(batch_size, time_patches + frequency_patches)`, one value per grid row then per grid column.
        """
        spectrogram, grid = self.spectrogram_and_grid(input_values)
        if self.config.decoder_num_local_layers:
            for axis, (patches, window) in enumerate(zip(grid, self.config.decoder_window_size, strict=True)):
                if patches % window:
                    raise ValueError(
                        f"The local decoder's {window}-patch windows must tile the {grid} patch grid, but axis {axis} "
                        f"has {patches} patches: give a time length that is a multiple of "
                        f"{window * self.config.patch_size} frames."
                    )
        ids_keep, mask, ids_restore = self.sample_mask(spectrogram.shape[0], grid, noise, spectrogram.device)

        encoder_outputs = self.audiomae(spectrogram, kept_token_ids=ids_keep, **kwargs)
        latent = self.encoder_norm(encoder_outputs.last_hidden_state)  # [B, 1 + kept, D]
        decoder_outputs = self.decoder(latent, ids_restore, grid, **kwargs)
        loss = self.reconstruction_loss(spectrogram, decoder_outputs.logits, mask)
        return AudioMAEForPreTrainingOutput(
            loss=loss,
            logits=decoder_outputs.logits,
            mask=mask,
            ids_restore=ids_restore,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
        )

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
        """Mean squared error per patch, averaged over the hidden patches only: visible ones do not count.

        Computed in float32 whatever the model's dtype: the per-patch normalisation and the mean over ~400k values
        per ViT-B batch lose too much in bfloat16.
        """
        target = self.reconstruction_target(input_values.float())
        per_patch = ((logits.float() - target) ** 2).mean(dim=-1)  # [B, N]
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

    @can_return_tuple
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> ImageClassifierOutput:
        r"""
        input_values, attention_mask: as for `AudioMAEModel`.
        labels (`torch.Tensor`, *optional*):
            Single-label: class indices of shape `(batch_size,)`, or class probabilities (e.g. from mixup) of shape
            `(batch_size, num_labels)`; cross-entropy. Multi-label: multi-hot floats `(batch_size, num_labels)`;
            binary cross-entropy on sigmoid scores. Regression (`num_labels == 1` or `problem_type="regression"`):
            floats `(batch_size,)` or `(batch_size, num_labels)`; mean squared error. Always computed in float32.
        """
        kept_token_ids = None
        if self.training and (self.config.mask_time_prob > 0 or self.config.mask_frequency_prob > 0):
            _, grid = self.spectrogram_and_grid(input_values)
            noise = torch.rand(input_values.shape[0], sum(grid), device=input_values.device)
            kept_token_ids, _, _ = time_frequency_masking(
                noise, grid, self.config.mask_time_prob, self.config.mask_frequency_prob
            )
        outputs = self.audiomae(input_values, attention_mask=attention_mask, kept_token_ids=kept_token_ids, **kwargs)
        # Pooled patch tokens, then fc_norm, then the head: the release's order (its global_pool branch).
        logits = self.classifier(self.fc_norm(outputs.pooler_output))
        loss = self.classification_loss(logits.float(), labels) if labels is not None else None
        return ImageClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )

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

"""The release's training-time augmentations, on the batched, normalised fbank.

They run inside the training step rather than in the data pipeline: they then draw from torch's global RNG right
before the forward pass, in the same order in every run, so that a run resumed from a checkpoint (whose RNG state the
Trainer restores) draws exactly what the uninterrupted run drew.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .feature_extraction_audiomae import AudioMAEFeatureExtractor

# The released recipe's SpecAugment widths (`freqm`, `timem`) are for a 1024-frame x 128-bin spectrogram.
REFERENCE_FRAMES, REFERENCE_MEL_BINS = 1024, 128


def scaled_mask_width(width: int, size: int, reference_size: int) -> int:
    """A SpecAugment width given for the reference 1024 x 128 input, in proportion for an axis of `size`."""
    return round(width * size / reference_size)


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


def roll_and_gain(input_values: torch.Tensor, log_gain_scale: float) -> torch.Tensor:
    """
    The release's `roll_mag_aug`, on the spectrogram: each clip is rolled in time by a random number of frames and
    scaled by a random gain g ~ Beta(10, 10) + 0.5 (about +-6 dB). Scaling a waveform by g adds 2 ln g to its log-mel
    power, `log_gain_scale` times 2 ln g to the normalised fbank. The roll spans the whole (padded) spectrogram.
    """
    batch_size, num_frames, _ = input_values.shape
    shifts = torch.randint(0, num_frames, (batch_size,))
    gains = torch.distributions.Beta(10.0, 10.0).sample((batch_size,)) + 0.5
    offsets = (2.0 * log_gain_scale * gains.log()).to(input_values)
    return roll_in_time(input_values, shifts) + offsets[:, None, None]


def roll_in_time(input_values: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Each clip's spectrogram rolled cyclically in time by its own number of frames, `shifts` [B]."""
    num_frames = input_values.shape[1]
    frame = (torch.arange(num_frames)[None, :] - shifts[:, None]) % num_frames  # [B, T]
    return torch.gather(input_values, 1, frame.to(input_values.device)[..., None].expand_as(input_values))


def noise_and_shift(input_values: torch.Tensor, max_shift: int = 10) -> torch.Tensor:
    """
    The release's `noise` augmentation (its Speech Commands and VoxCeleb setting, "N" in the paper's Table 3), on the
    normalised fbank: uniform noise in [0, level) with a level drawn per clip in [0, 0.1), then a cyclic shift in time
    by a whole number of frames in [-max_shift, max_shift).
    """
    batch_size = input_values.shape[0]
    levels = torch.rand(batch_size) / 10
    noise = torch.rand(input_values.shape) * levels[:, None, None]
    shifts = torch.randint(-max_shift, max_shift, (batch_size,))
    return roll_in_time(input_values + noise.to(input_values), shifts)


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


def spec_augment(
    input_values: torch.Tensor, max_frequency_mask: int, max_time_mask: int, fill_value: float
) -> torch.Tensor:
    """
    SpecAugment as the release applies it to each training clip: one band of up to `max_frequency_mask` mel bins and
    one span of up to `max_time_mask` frames set to `fill_value`. Width and start are drawn per clip as torchaudio's
    `FrequencyMasking` / `TimeMasking` draw them (width uniform in [0, max), start uniform where the band fits).
    """
    batch_size, num_frames, num_bins = input_values.shape
    masked = torch.zeros_like(input_values, dtype=torch.bool)
    for axis, size, max_width in ((2, num_bins, max_frequency_mask), (1, num_frames, max_time_mask)):
        if max_width <= 0:
            continue
        width = torch.rand(batch_size) * min(max_width, size)
        start = torch.rand(batch_size) * (size - width)
        position = torch.arange(size)
        in_band = (position >= start.long()[:, None]) & (position < (start + width).long()[:, None])  # [B, size]
        masked |= in_band[:, None, :] if axis == 2 else in_band[:, :, None]
    return input_values.masked_fill(masked.to(input_values.device), fill_value)


@dataclass
class TrainingAugmentation:
    """
    The release's per-clip training augmentations, applied to a collated batch (normalised fbank) in the order the
    release applies them: random roll and gain, mixup, SpecAugment, then noise and shift. Everything draws from torch's
    global RNG.
    """

    log_gain_scale: float
    mask_fill_value: float
    roll_mag_aug: bool = False
    mixup: float = 0.0
    num_labels: int | None = None
    max_frequency_mask: int = 0
    max_time_mask: int = 0
    noise: bool = False

    @property
    def is_identity(self) -> bool:
        return not (
            self.roll_mag_aug or self.mixup > 0 or self.max_frequency_mask > 0 or self.max_time_mask > 0 or self.noise
        )

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
        if self.noise:
            input_values = noise_and_shift(input_values)
        inputs["input_values"] = input_values
        return inputs

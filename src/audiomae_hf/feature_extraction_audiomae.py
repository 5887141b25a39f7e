"""Feature extractor class for Audio-MAE."""

import math
import numbers
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from transformers import BatchFeature, SequenceFeatureExtractor
from transformers.utils import PaddingStrategy, TensorType, logging

logger = logging.get_logger(__name__)

# Kaldi's frame options as Audio-MAE sets them: 25 ms windows every 10 ms, FFT length rounded up to a power of two.
FRAME_LENGTH_MS = 25
FRAME_SHIFT_MS = 10
PREEMPHASIS_COEFFICIENT = 0.97
LOW_FREQUENCY = 20.0
# Kaldi floors mel energies at numeric_limits<float>::epsilon() before the log, in whatever precision it computes.
LOG_FLOOR = torch.finfo(torch.float32).eps
MEL_BLOCKS = 4
CPU_FRAMES_PER_BLOCK = 1024
# Integer PCM as float samples in [-1, 1): (sample - zero) / full_scale, the convention of soundfile, torchaudio and
# scipy.io.wavfile (whose 8-bit WAV samples are unsigned, centred on 128).
PCM_FORMATS = {"int16": (0, 2.0**15), "int32": (0, 2.0**31), "uint8": (128, 2.0**7)}
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
# No audio convention puts samples beyond int32 full scale; far beyond it (from ~4e18) the float32 power spectrum
# overflows and the features turn to NaN, so larger samples are refused as a unit mistake.
MAX_ABS_SAMPLE = 2.0**31


def frame_samples(sampling_rate: int) -> tuple[int, int]:
    """(frame_length, frame_shift) in samples at `sampling_rate`: Kaldi's 25 ms windows every 10 ms."""
    return sampling_rate * FRAME_LENGTH_MS // 1000, sampling_rate * FRAME_SHIFT_MS // 1000


def kaldi_mel_scale(frequency: torch.Tensor) -> torch.Tensor:
    return 1127.0 * (1.0 + frequency / 700.0).log()


@lru_cache(maxsize=8)
def kaldi_mel_filter_bank(
    num_mel_bins: int, fft_length: int, sampling_rate: int, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """
    Kaldi's triangular mel filters from 20 Hz to Nyquist, overlapping by half and evenly spaced on Kaldi's mel
    scale, as a [fft_length // 2 + 1, num_mel_bins] float32 matrix to multiply power spectra with.

    The filter edges are computed in float32 in the same order of operations as Kaldi and torchaudio: a weak band
    next to a strong FFT bin shows that bin's power times the weight's rounding error, so float64 weights would
    move such bands by up to 3e-4 in the log.
    """
    nyquist = sampling_rate / 2
    mel_low = 1127.0 * math.log(1.0 + LOW_FREQUENCY / 700.0)
    mel_high = 1127.0 * math.log(1.0 + nyquist / 700.0)
    mel_spacing = (mel_high - mel_low) / (num_mel_bins + 1)
    # filter i rises from edge i to a peak at edge i + 1 and falls to zero at edge i + 2
    edge_index = torch.arange(num_mel_bins)
    left = mel_low + edge_index * mel_spacing
    centre = mel_low + (edge_index + 1.0) * mel_spacing
    right = mel_low + (edge_index + 2.0) * mel_spacing
    fft_bin_mels = kaldi_mel_scale(sampling_rate / fft_length * torch.arange(float(fft_length // 2)))[:, None]
    rising = (fft_bin_mels - left) / (centre - left)
    falling = (right - fft_bin_mels) / (right - centre)
    filters = torch.minimum(rising, falling).clamp(min=0.0)
    # Kaldi's filters stop short of the Nyquist bin.
    filters = torch.nn.functional.pad(filters, (0, 0, 0, 1))
    return filters.to(device=device, dtype=torch.float32)


@lru_cache(maxsize=8)
def _mel_filter_blocks(
    num_mel_bins: int, fft_length: int, sampling_rate: int, device: torch.device
) -> tuple[tuple[int, int, torch.Tensor], ...]:
    """
    The filter bank cut into `MEL_BLOCKS` groups of adjacent filters, each with the range of FFT bins it covers:
    (first_bin, end_bin, filters[first_bin:end_bin, group]). The matrix is banded, so the groups skip about three
    quarters of the multiply-adds of one dense product.
    """
    filters = kaldi_mel_filter_bank(num_mel_bins, fft_length, sampling_rate, device)
    blocks = []
    for group in torch.arange(num_mel_bins).tensor_split(MEL_BLOCKS):
        group_filters = filters[:, group[0] : group[-1] + 1]
        covered_bins = group_filters.any(dim=1).nonzero().flatten().tolist()
        # A group of filters too narrow to hold any FFT bin gets an empty range, and so the log floor.
        first_bin, end_bin = (covered_bins[0], covered_bins[-1] + 1) if covered_bins else (0, 0)
        blocks.append((first_bin, end_bin, group_filters[first_bin:end_bin].contiguous()))
    return tuple(blocks)


def _frame_means(waveforms: torch.Tensor, frame_length: int, frame_shift: int) -> torch.Tensor:
    """Float64 mean of every frame, `(batch, frames)`, summing each sample once: frames are made of whole chunks of
    gcd(frame_length, frame_shift) samples (80 at 16 kHz)."""
    chunk = math.gcd(frame_length, frame_shift)
    chunk_sums = waveforms.unflatten(-1, (-1, chunk)).sum(dim=-1, dtype=torch.float64)
    return chunk_sums.unfold(-1, frame_length // chunk, frame_shift // chunk).sum(dim=-1) / frame_length


def log_mel_fbank(
    waveforms: torch.Tensor,
    num_samples: torch.Tensor | None = None,
    sampling_rate: int = 16000,
    num_mel_bins: int = 128,
    max_frames: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Audio-MAE's log-mel filter bank of a batch of clips, equal (up to float32 rounding of the result) to
    `torchaudio.compliance.kaldi.fbank(waveform - waveform.mean(), htk_compat=True, use_energy=False,
    window_type="hanning", num_mel_bins=num_mel_bins, dither=0.0, frame_shift=10)` computed in float64 for each clip,
    but for all clips at once.

    Args:
        waveforms (`torch.Tensor` of shape `(batch, samples)`):
            Float mono clips at `sampling_rate`, shorter ones padded at the end with any finite value.
        num_samples (`torch.Tensor` of shape `(batch,)`, *optional*):
            Length of each clip; defaults to all `samples`. Every clip needs at least one 25 ms frame.
        sampling_rate (`int`, *optional*, defaults to 16000):
            Sampling rate of the clips in Hz.
        num_mel_bins (`int`, *optional*, defaults to 128):
            Number of mel filters.
        max_frames (`int`, *optional*):
            Compute at most this many frames of each clip.

    Returns:
        `tuple(torch.Tensor, torch.Tensor)`: the float32 log-mel features `(batch, frames, num_mel_bins)`, zero past
        each clip's last frame, and the number of frames of each clip `(batch,)`.
    """
    batch_size, length = waveforms.shape
    device = waveforms.device
    if num_samples is None:
        num_samples = torch.full((batch_size,), length, device=device)
    num_samples = num_samples.to(device)
    frame_length, frame_shift = frame_samples(sampling_rate)
    fft_length = 2 ** math.ceil(math.log2(frame_length))
    if int(num_samples.min()) < frame_length:
        raise ValueError(f"Every clip needs at least {frame_length} samples (one frame), got {num_samples.tolist()}.")

    # Kaldi's snip_edges: only frames that lie wholly inside the clip.
    num_frames = (num_samples - frame_length) // frame_shift + 1
    if max_frames is not None:
        num_frames = num_frames.clamp(max=max_frames)
    total_frames = int(num_frames.max())

    # Kaldi removes each frame's mean, pre-emphasises (the first sample against itself) and applies a Hann window.
    # The window's first weight is zero, so the first sample never counts, and the rest of a pre-emphasised frame is
    # the pre-emphasised waveform minus (1 - coefficient) times the frame mean: both are computed once per sample
    # instead of once per overlapping frame. The per-frame mean removal also makes Audio-MAE's subtraction of the
    # clip mean a no-op, so it is skipped.
    waveforms = waveforms[:, : (total_frames - 1) * frame_shift + frame_length]
    frame_offsets = (1 - PREEMPHASIS_COEFFICIENT) * _frame_means(waveforms, frame_length, frame_shift)
    window = torch.hann_window(frame_length, periodic=False, dtype=torch.float64, device=device)[1:]
    mel_blocks = _mel_filter_blocks(num_mel_bins, fft_length, sampling_rate, device)
    # On the CPU, blocks of about a thousand frames keep every intermediate in cache; that halves the time.
    frames_per_block = max(1, CPU_FRAMES_PER_BLOCK // batch_size) if device.type == "cpu" else total_frames
    padded = torch.zeros(batch_size, frames_per_block, fft_length, dtype=torch.float64, device=device)
    power = torch.empty(batch_size, frames_per_block, fft_length // 2 + 1, device=device)
    log_mel = torch.empty(batch_size, total_frames, num_mel_bins, device=device)
    for start in range(0, total_frames, frames_per_block):
        block_size = min(frames_per_block, total_frames - start)
        block = slice(start, start + block_size)
        first_sample = start * frame_shift
        # Float64 up to the power spectrum: float32 rounding noise, relative to a frame's total energy, is larger than
        # the weakest mel bands (those near the log floor, and the lowest bands that pre-emphasis attenuates), which
        # then come out up to 1e-2 off. The mel product and the log are well conditioned and stay in float32.
        segment = waveforms[:, first_sample : first_sample + (block_size - 1) * frame_shift + frame_length].double()
        emphasized = torch.add(segment[:, 1:], segment[:, :-1], alpha=-PREEMPHASIS_COEFFICIENT)
        frames = emphasized.unfold(-1, frame_length - 1, frame_shift)  # [batch, block, frame_length - 1], a view
        windowed = padded[:, :block_size, : frame_length - 1]
        torch.sub(frames, frame_offsets[:, block, None], out=windowed)
        windowed.mul_(window)

        spectrum = torch.view_as_real(torch.fft.rfft(padded[:, :block_size])).square_()
        block_power = torch.add(spectrum[..., 0], spectrum[..., 1], out=power[:, :block_size])
        mel_energies = log_mel[:, block]
        torch.cat([block_power[..., first:end] @ filters for first, end, filters in mel_blocks], -1, out=mel_energies)
        mel_energies.clamp_(min=LOG_FLOOR).log_()

    if int(num_frames.min()) < total_frames:
        past_clip_end = torch.arange(total_frames, device=device) >= num_frames[:, None]
        log_mel.masked_fill_(past_clip_end[..., None], 0.0)
    return log_mel, num_frames


def validate_sampling_rate(sampling_rate, name: str = "sampling_rate") -> int:
    """
    `sampling_rate` as an `int`, or a `ValueError` naming the argument: a rate must be a positive whole number of Hz
    (an integer, or a float such as 44100.0). The one check of every sampling rate the package is given.
    """
    is_number = isinstance(sampling_rate, numbers.Real) and not isinstance(sampling_rate, bool)
    if not is_number or not math.isfinite(sampling_rate) or sampling_rate <= 0 or sampling_rate != int(sampling_rate):
        raise ValueError(f"{name} must be a positive whole number of samples per second, got {sampling_rate!r}.")
    return int(sampling_rate)


def as_float_samples(samples, name: str):
    """
    Audio samples (a numpy array or a torch tensor) as float: float samples as they are, int16, int32 and uint8 PCM
    scaled to [-1, 1) as float32. A `ValueError` starting with `name` for any other dtype.
    """
    dtype = str(samples.dtype).removeprefix("torch.")
    if dtype in FLOAT_DTYPES:
        return samples
    if dtype not in PCM_FORMATS:
        raise ValueError(
            f"{name} has dtype {dtype}: pass float samples in [-1, 1], or int16, int32 or uint8 PCM (scaled to "
            "[-1, 1) as soundfile reads them)."
        )
    zero, full_scale = PCM_FORMATS[dtype]
    floats = samples.float() if isinstance(samples, torch.Tensor) else samples.astype(np.float32)
    if zero:
        floats -= zero
    # Dividing by a power of two is exact: the same float32 samples as scaling in float64. In place: no second copy.
    floats /= full_scale
    return floats


def _is_positive_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def check_sample_values(samples, name: str) -> None:
    """A `ValueError` starting with `name` if non-empty `samples` hold NaN, infinity, or values beyond int32 full
    scale (which no audio convention produces; from ~4e18 the features would be NaN)."""
    # max and min propagate NaN; unlike abs(), they need no copy of a long waveform.
    peak = max(float(samples.max()), -float(samples.min()))
    if not math.isfinite(peak):
        raise ValueError(f"{name} contains NaN or infinite samples.")
    if peak > MAX_ABS_SAMPLE:
        raise ValueError(
            f"{name} has peak amplitude {peak:.3g}, beyond any audio scale: pass float samples in [-1, 1] (values up "
            f"to int32 full scale, {MAX_ABS_SAMPLE:.0f}, are accepted)."
        )


def _as_float_waveform(clip, index: int) -> torch.Tensor:
    """One clip as a 1-D float32 tensor, integer PCM scaled to [-1, 1); a `ValueError` saying what is wrong if not."""
    if not isinstance(clip, torch.Tensor):
        try:
            array = np.asarray(clip)
        except ValueError as error:
            raise ValueError(f"Clip {index} is a ragged nested sequence, not a 1-D clip: {error}") from None
        if array.dtype == object:
            raise ValueError(f"Clip {index} is a ragged nested sequence, not a 1-D clip.")
        clip = torch.as_tensor(np.ascontiguousarray(array))
    if clip.ndim != 1:
        raise ValueError(
            f"Clip {index} has shape {tuple(clip.shape)}; every clip must be 1-D mono audio. Downmix multi-channel "
            "audio first (e.g. `waveform.mean(axis=-1)` for `(samples, channels)`)."
        )
    if clip.numel() == 0:
        raise ValueError(f"Clip {index} is empty.")
    waveform = as_float_samples(clip.detach(), f"Clip {index}").to(torch.float32)
    check_sample_values(waveform, f"Clip {index}")
    return waveform


class AudioMAEFeatureExtractor(SequenceFeatureExtractor):
    r"""
    Constructs an Audio-MAE feature extractor: the log-mel spectrogram the released Audio-MAE models were trained on.

    Each clip's waveform mean is removed, Kaldi-compatible filter-bank features are computed (25 ms Hann windows
    every 10 ms, pre-emphasis 0.97, `num_mel_bins` mel filters from 20 Hz to Nyquist, natural log floored at float32
    epsilon), the frames are zero-padded at the end or cropped to `target_length`, and the result is normalised as
    `(fbank - mean) / (2 * std)`. This is the official preprocessing (`torchaudio.compliance.kaldi.fbank` with the
    options of Audio-MAE's `dataset.py`), computed batched in torch, on any device, without torchaudio.

    Input is 16 kHz mono: a 1-D array or tensor is one clip; a 2-D array or tensor, or a list of 1-D arrays of any
    lengths, is a batch. A 2-D array is always read as `(batch, samples)`, so multi-channel audio must be downmixed
    to mono first. Float samples are taken as they are; int16, int32 and uint8 PCM are scaled to [-1, 1) (by
    1/2**15, 1/2**31, and (x - 128)/2**7), as soundfile reads them. Other rates must be resampled to 16 kHz first:
    the package's pipeline and `audiomae_hf.audio_decoding.load_waveform` decode and resample any file or array.

    This feature extractor inherits from [`~feature_extraction_sequence_utils.SequenceFeatureExtractor`] which contains
    most of the main methods. Users should refer to this superclass for more information regarding those methods.

    Args:
        feature_size (`int`, *optional*):
            The feature dimension of the extracted features: always `num_mel_bins`, which sets it.
        sampling_rate (`int`, *optional*, defaults to 16000):
            The sampling rate at which the audio must be given, in Hz.
        num_mel_bins (`int`, *optional*, defaults to 128):
            Number of mel filters.
        target_length (`int`, *optional*, defaults to 1024):
            Frames of every output spectrogram: longer clips are cropped, shorter ones padded at the end.
        padding_value (`float`, *optional*, defaults to 0.0):
            Log-mel value of padding frames, before normalisation (Audio-MAE pads with zeros there).
        do_normalize (`bool`, *optional*, defaults to `True`):
            Whether to normalise the log-mel features with `mean` and `std`.
        mean (`float`, *optional*, defaults to -4.2677393):
            Mean of the log-mel features of the training corpus (AudioSet by default). See
            `audiomae_hf.normalization_stats` to compute it for another corpus.
        std (`float`, *optional*, defaults to 4.5689974):
            Standard deviation of the log-mel features of the training corpus (AudioSet by default).
        return_attention_mask (`bool`, *optional*, defaults to `False`):
            Whether [`~AudioMAEFeatureExtractor.__call__`] returns an `attention_mask` over frames: 1 for frames
            computed from audio, 0 for padding.
    """

    model_input_names = ["input_values", "attention_mask"]

    def __init__(
        self,
        feature_size=None,
        sampling_rate=16000,
        num_mel_bins=128,
        target_length=1024,
        padding_value=0.0,
        do_normalize=True,
        mean=-4.2677393,
        std=4.5689974,
        return_attention_mask=False,
        **kwargs,
    ):
        if feature_size not in (None, num_mel_bins):
            raise ValueError(
                f"feature_size={feature_size} must equal num_mel_bins={num_mel_bins}: both count mel bins."
            )
        for name, value in {"num_mel_bins": num_mel_bins, "target_length": target_length}.items():
            if not _is_positive_integer(value):
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        for name, value in {"padding_value": padding_value, "mean": mean, "std": std}.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}.")
        if std <= 0:
            # Normalising divides by 2 * std: zero would give infinite features, a negative std flipped ones.
            raise ValueError(
                f"std must be positive, got {std!r}: it is the standard deviation of the corpus's log-mel values "
                "(see `audiomae_hf.normalization_stats`)."
            )
        super().__init__(
            feature_size=num_mel_bins,
            sampling_rate=validate_sampling_rate(sampling_rate),
            padding_value=padding_value,
            return_attention_mask=return_attention_mask,
            **kwargs,
        )
        self.num_mel_bins = num_mel_bins
        self.target_length = target_length
        self.do_normalize = do_normalize
        self.mean = mean
        self.std = std

    def __call__(
        self,
        raw_speech: np.ndarray | torch.Tensor | Sequence[np.ndarray] | Sequence[torch.Tensor] | Sequence[float],
        sampling_rate: int | None = None,
        return_tensors: str | TensorType | None = None,
        return_attention_mask: bool | None = None,
        device: str | torch.device | None = None,
        padding: bool | str | PaddingStrategy = "max_length",
        max_length: int | None = None,
        truncation: bool = True,
        pad_to_multiple_of: int | None = None,
    ) -> BatchFeature:
        """
        Featurize one clip or a batch of clips.

        The defaults give what Audio-MAE was trained on: exactly `target_length` frames per clip, longer clips
        cropped and shorter ones padded. `padding`, `max_length`, `truncation` and `pad_to_multiple_of` mean what they
        mean for transformers' sequence feature extractors, counted in output frames (10 ms each) rather than samples,
        since frames are what the model sees: the model takes fewer frames than `target_length` (any multiple of its
        patch size), never more.

        Args:
            raw_speech (`np.ndarray`, `torch.Tensor`, `list[np.ndarray]`, `list[torch.Tensor]` or `list[float]`):
                One 1-D clip, a 2-D `(batch, samples)` array or tensor, or a list of 1-D clips of any lengths. Mono,
                at `self.sampling_rate`, at least one 25 ms frame long.
            sampling_rate (`int`, *optional*):
                The sampling rate of `raw_speech`. Strongly recommended: a mismatch then raises instead of silently
                producing features the model was not trained on.
            return_tensors (`str` or [`~utils.TensorType`], *optional*):
                `"pt"` for torch tensors on `device`, `"np"` for numpy arrays, `None` for lists of numpy arrays.
            return_attention_mask (`bool`, *optional*):
                Whether to return the frame-level `attention_mask`; defaults to `self.return_attention_mask`.
            device (`str` or `torch.device`, *optional*):
                Where to compute, e.g. `"cuda"`; defaults to the device of a tensor input, else the CPU.
            padding (`bool`, `str` or [`~utils.PaddingStrategy`], *optional*, defaults to `"max_length"`):
                `"max_length"`: pad every clip to `max_length` frames. `True` or `"longest"`: pad to the longest clip
                of the batch. `False` or `"do_not_pad"`: each clip keeps its own frames (a batch of different lengths
                then needs `return_tensors=None`).
            max_length (`int`, *optional*):
                Frames to pad to (`"max_length"`) and to crop to (`truncation=True`); defaults to `target_length`.
            truncation (`bool`, *optional*, defaults to `True`):
                Whether clips longer than `max_length` frames are cropped to their first `max_length` frames.
            pad_to_multiple_of (`int`, *optional*):
                Pad the frames further, to a multiple of this (e.g. the model's patch size, 16).

        Returns:
            [`BatchFeature`]: `input_values` of shape `(batch, frames, num_mel_bins)`, float32, with `frames =
            target_length` by default, and `attention_mask` of shape `(batch, frames)` if requested.
        """
        padding, max_length = self._padding_strategy(padding, max_length, truncation, pad_to_multiple_of)
        if sampling_rate is not None:
            if validate_sampling_rate(sampling_rate) != self.sampling_rate:
                raise ValueError(
                    f"The model corresponding to this feature extractor: {self.__class__.__name__} was trained using "
                    f"a sampling rate of {self.sampling_rate}. Please make sure that the provided `raw_speech` input "
                    f"was sampled with {self.sampling_rate} and not {sampling_rate}. Resample it first, e.g. "
                    f"`soxr.resample(waveform, {sampling_rate}, {self.sampling_rate})` (`pip install soxr`), or classify "
                    "files and arrays at any rate with the pipeline, which decodes and resamples: "
                    '`pipeline("audio-classification", model=...)` with the audiomae-hf package installed, '
                    "`pipeline(model=..., trust_remote_code=True)` without it."
                )
        else:
            logger.warning(
                f"It is strongly recommended to pass the `sampling_rate` argument to `{self.__class__.__name__}()`. "
                "Failing to do so can result in silent errors that might be hard to debug."
            )
        if return_attention_mask is None:
            return_attention_mask = self.return_attention_mask
        if device is None:
            device = raw_speech.device if isinstance(raw_speech, torch.Tensor) else "cpu"

        waveforms, num_samples = self._batch_waveforms(raw_speech, device)
        log_mel, num_frames = log_mel_fbank(
            waveforms,
            num_samples,
            self.sampling_rate,
            self.num_mel_bins,
            max_frames=max_length if truncation else None,
        )
        output_frames = (
            max(max_length, log_mel.shape[1]) if padding == PaddingStrategy.MAX_LENGTH else log_mel.shape[1]
        )
        if pad_to_multiple_of is not None:
            output_frames = math.ceil(output_frames / pad_to_multiple_of) * pad_to_multiple_of
        is_audio_frame = torch.arange(output_frames, device=waveforms.device) < num_frames[:, None]
        # Audio-MAE pads the log-mel (with zeros by default) and then normalises padding and audio frames alike.
        input_values = log_mel
        if log_mel.shape[1] < output_frames:
            input_values = torch.nn.functional.pad(log_mel, (0, 0, 0, output_frames - log_mel.shape[1]))
        if self.padding_value != 0.0:
            input_values.masked_fill_(~is_audio_frame[..., None], self.padding_value)
        if self.do_normalize:
            input_values.sub_(self.mean).div_(2 * self.std)

        features = {"input_values": input_values}
        if return_attention_mask:
            features["attention_mask"] = is_audio_frame.long()
        if padding == PaddingStrategy.DO_NOT_PAD:
            return self._unpadded(features, num_frames, return_tensors)
        if return_tensors != "pt" and return_tensors != TensorType.PYTORCH:
            features = {name: value.cpu().numpy() for name, value in features.items()}
            if return_tensors is None:
                features = {name: list(value) for name, value in features.items()}
        return BatchFeature(features)

    def _padding_strategy(self, padding, max_length, truncation, pad_to_multiple_of) -> tuple[PaddingStrategy, int]:
        """The padding strategy and `max_length` in frames, or a `ValueError` naming the argument that is not valid."""
        if padding is True:
            padding = PaddingStrategy.LONGEST
        elif padding is False:
            padding = PaddingStrategy.DO_NOT_PAD
        try:
            padding = PaddingStrategy(padding)
        except ValueError:
            choices = ", ".join(repr(strategy.value) for strategy in PaddingStrategy)
            raise ValueError(f"padding={padding!r} is not a padding strategy: pass True, False, {choices}.") from None
        if max_length is None:
            max_length = self.target_length
        for name, value in {"max_length": max_length, "pad_to_multiple_of": pad_to_multiple_of or 1}.items():
            if not _is_positive_integer(value):
                raise ValueError(f"{name} must be a positive number of frames, got {value!r}.")
        if not isinstance(truncation, bool):
            raise ValueError(f"truncation must be True or False, got {truncation!r}.")
        return padding, int(max_length)

    def _unpadded(self, features, num_frames, return_tensors) -> BatchFeature:
        """`features` cut to each clip's own frames, for `padding=False`."""
        num_frames = num_frames.tolist()
        if return_tensors is not None and len(set(num_frames)) > 1:
            raise ValueError(
                f"padding=False leaves clips of different lengths ({num_frames} frames), which cannot be stacked into "
                f"return_tensors={return_tensors!r}: pass padding='longest', or return_tensors=None for a list."
            )
        if return_tensors == "pt" or return_tensors == TensorType.PYTORCH:
            return BatchFeature({name: value[:, : num_frames[0]] for name, value in features.items()})
        clips = {
            name: [clip[:frames].cpu().numpy() for clip, frames in zip(value, num_frames, strict=True)]
            for name, value in features.items()
        }
        if return_tensors is not None:
            clips = {name: np.stack(value) for name, value in clips.items()}
        return BatchFeature(clips)

    def _batch_waveforms(self, raw_speech, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Validate the input and stack it into zero-padded float32 clips `(batch, samples)` and their lengths."""
        frame_length, _ = frame_samples(self.sampling_rate)
        if isinstance(raw_speech, (np.ndarray, torch.Tensor)):
            if raw_speech.ndim > 2:
                raise ValueError(
                    f"raw_speech has shape {tuple(raw_speech.shape)}: expected one mono clip (samples,) or a batch "
                    "(batch, samples). Downmix multi-channel audio to mono first."
                )
            if raw_speech.ndim == 2 and 0 < raw_speech.shape[1] < frame_length:
                raise ValueError(
                    f"raw_speech has shape {tuple(raw_speech.shape)}: a 2-D input is a batch (batch, samples), and "
                    f"{raw_speech.shape[1]} samples are shorter than one {FRAME_LENGTH_MS} ms frame. If it is one clip "
                    "with channels last, (samples, channels), downmix the channels to mono first: "
                    "`waveform.mean(axis=-1)`."
                )
            clips = [raw_speech] if raw_speech.ndim == 1 else list(raw_speech)
        elif isinstance(raw_speech, (list, tuple)):
            if len(raw_speech) > 0 and all(isinstance(sample, numbers.Real) for sample in raw_speech):
                clips = [np.asarray(raw_speech, dtype=np.float32)]
            else:
                clips = list(raw_speech)
        else:
            raise ValueError(
                f"raw_speech of type {type(raw_speech).__name__} is not audio: pass a numpy array, a torch tensor, "
                "or a list of 1-D arrays."
            )
        if not clips:
            raise ValueError("raw_speech is empty: pass at least one clip.")
        waveforms = [_as_float_waveform(clip, index) for index, clip in enumerate(clips)]
        too_short = {index: len(waveform) for index, waveform in enumerate(waveforms) if len(waveform) < frame_length}
        if too_short:
            shown = dict(list(too_short.items())[:5])
            more = f" and {len(too_short) - len(shown)} more" if len(too_short) > len(shown) else ""
            raise ValueError(
                f"Clips shorter than one {FRAME_LENGTH_MS} ms frame ({frame_length} samples) have no features; "
                f"samples of those clips by index: {shown}{more}."
            )
        num_samples = torch.tensor([len(waveform) for waveform in waveforms], device=device)
        waveforms = [waveform.to(device) for waveform in waveforms]
        if len(set(map(len, waveforms))) == 1:
            return torch.stack(waveforms), num_samples
        return torch.nn.utils.rnn.pad_sequence(waveforms, batch_first=True), num_samples


__all__ = ["AudioMAEFeatureExtractor", "kaldi_mel_filter_bank", "log_mel_fbank"]

"""
ONNX export of Audio-MAE: the log-mel front end, the encoder, the classifier, and raw audio -> logits in one graph.

A model folder exports to these graphs, each with a dynamic batch axis (see docs/onnx.md):

| file | inputs | outputs |
|---|---|---|
| `fbank.onnx` | `waveforms` `[batch, samples]` float32, 16 kHz mono | `input_values` `[batch, target_length, num_mel_bins]` |
| `encoder.onnx` | `input_values` `[batch, time, num_mel_bins]`, `time` a multiple of 16 | `last_hidden_state`, `pooler_output` |
| `audio_encoder.onnx` | `waveforms` | `last_hidden_state`, `pooler_output` |
| `classifier.onnx` (classifiers) | `input_values` | `logits` `[batch, num_labels]` |
| `audio_classifier.onnx` (classifiers) | `waveforms` | `logits` |

`fbank.onnx` computes what `AudioMAEFeatureExtractor` returns for a batch of clips of `samples` samples each: the
mean removal, pre-emphasis and Hann window of every 25 ms frame and the power spectrum in float64, the mel product and
the log in float32, then the padding or cropping to `target_length` and the normalisation. The FFT is a float64
matrix product with the window folded in (plain `MatMul`, which every ONNX runtime runs in float64).

```python
>>> from audiomae_hf.onnx_export import export_onnx
>>> export_onnx("path/to/classifier-folder", "onnx/")  # writes the graphs and the folder's JSON files
```
"""

from __future__ import annotations

import argparse
import math
import shutil
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from .configuration_audiomae import AudioMAEConfig
from .feature_extraction_audiomae import (
    LOG_FLOOR,
    PREEMPHASIS_COEFFICIENT,
    AudioMAEFeatureExtractor,
    _frame_means,
    frame_samples,
    kaldi_mel_filter_bank,
)
from .modeling_audiomae import AudioMAEForAudioClassification, AudioMAEModel, AudioMAEPreTrainedModel

OPSET = 18


class LogMelFrontEnd(nn.Module):
    """`AudioMAEFeatureExtractor` as a module of fixed-shape tensor ops: `[batch, samples]` 16 kHz waveforms, every
    clip `samples` long, to normalised log-mel features `[batch, target_length, num_mel_bins]`."""

    def __init__(self, feature_extractor: AudioMAEFeatureExtractor):
        super().__init__()
        sampling_rate = feature_extractor.sampling_rate
        self.frame_length, self.frame_shift = frame_samples(sampling_rate)
        self.target_length = feature_extractor.target_length
        self.num_mel_bins = feature_extractor.num_mel_bins
        self.padding_value = feature_extractor.padding_value
        self.do_normalize = feature_extractor.do_normalize
        self.mean, self.std = feature_extractor.mean, feature_extractor.std
        fft_length = 2 ** math.ceil(math.log2(self.frame_length))
        # Tensors, not Python floats: the exporter would round scalar constants to float32 (0.97 -> 0.97000003),
        # which moves the weak low-frequency bands by up to 1e-4 in the log.
        self.register_buffer("preemphasis", torch.tensor(PREEMPHASIS_COEFFICIENT, dtype=torch.float64), False)
        self.register_buffer("mean_weight", torch.tensor(1 - PREEMPHASIS_COEFFICIENT, dtype=torch.float64), False)
        # The Hann window's first weight is zero, so a frame's first sample never counts (as in log_mel_fbank).
        window = torch.hann_window(self.frame_length, periodic=False, dtype=torch.float64)[1:]
        sample = torch.arange(self.frame_length - 1, dtype=torch.float64)[:, None]
        frequency = torch.arange(fft_length // 2 + 1, dtype=torch.float64)[None, :]
        angle = 2 * math.pi * (sample * frequency % fft_length) / fft_length
        self.register_buffer("windowed_cosines", window[:, None] * angle.cos(), persistent=False)
        self.register_buffer("windowed_sines", window[:, None] * angle.sin(), persistent=False)
        self.register_buffer(
            "mel_filters", kaldi_mel_filter_bank(self.num_mel_bins, fft_length, sampling_rate), persistent=False
        )

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        # Only the samples of the first target_length frames matter; Kaldi's snip_edges keeps whole frames only.
        waveforms = waveforms[:, : (self.target_length - 1) * self.frame_shift + self.frame_length]
        num_frames = (waveforms.shape[1] - self.frame_length) // self.frame_shift + 1
        waveforms = waveforms[:, : (num_frames - 1) * self.frame_shift + self.frame_length].double()
        frame_offsets = self.mean_weight * _frame_means(waveforms, self.frame_length, self.frame_shift)
        emphasized = waveforms[:, 1:] - self.preemphasis * waveforms[:, :-1]
        frames = emphasized.unfold(-1, self.frame_length - 1, self.frame_shift) - frame_offsets[..., None]
        power = (frames @ self.windowed_cosines).square() + (frames @ self.windowed_sines).square()
        log_mel = (power.float() @ self.mel_filters).clamp(min=LOG_FLOOR).log()  # [batch, frames, mel]
        padding = torch.full_like(log_mel[:, :1], self.padding_value).expand(-1, self.target_length, -1)
        features = torch.cat([log_mel, padding], dim=1)[:, : self.target_length]
        if self.do_normalize:
            features = (features - self.mean) / (2 * self.std)
        return features


class _ModelGraph(nn.Module):
    """The encoder's outputs, and the classifier's logits first when the model has a head, as a plain tuple."""

    def __init__(self, model: AudioMAEPreTrainedModel):
        super().__init__()
        self.model = model

    def forward(self, input_values: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if isinstance(self.model, AudioMAEForAudioClassification):
            encoded = self.model.audiomae(input_values)
            logits = self.model.classifier(self.model.fc_norm(encoded.pooler_output))
            return logits, encoded.last_hidden_state, encoded.pooler_output
        encoded = self.model(input_values)
        return encoded.last_hidden_state, encoded.pooler_output


def _export(module: nn.Module, example: torch.Tensor, path: Path, input_name: str, dims: dict, outputs: list[str]):
    with warnings.catch_warnings():
        # The exporter's own deprecation chatter (pytree, copyreg) says nothing about the graph.
        warnings.simplefilter("ignore", FutureWarning)
        program = torch.onnx.export(
            module.eval(),
            (example,),
            input_names=[input_name],
            output_names=outputs,
            dynamic_shapes=(dims,),
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    program.save(str(path))


def export_fbank(feature_extractor: AudioMAEFeatureExtractor, path: str | Path) -> None:
    """Export `feature_extractor` as `LogMelFrontEnd` to `path`: `waveforms` `[batch, samples]` -> `input_values`."""
    frame_length, _ = frame_samples(feature_extractor.sampling_rate)
    _export(
        LogMelFrontEnd(feature_extractor),
        torch.zeros(2, feature_extractor.sampling_rate),
        Path(path),
        "waveforms",
        {0: torch.export.Dim("batch"), 1: torch.export.Dim("samples", min=frame_length)},
        ["input_values"],
    )


def _prepend_front_end(front_end_path: Path, model_path: Path, path: Path) -> None:
    """Chain fbank.onnx into a model graph: `waveforms` in, the model's outputs out."""
    front_end = onnx.compose.add_prefix(onnx.load(front_end_path), "fbank/", rename_inputs=False)
    model = onnx.load(model_path)
    combined = onnx.compose.merge_models(front_end, model, io_map=[("fbank/input_values", "input_values")])
    onnx.save(combined, path)


def export_onnx(model_folder: str | Path, output_dir: str | Path) -> dict[str, Path]:
    """
    Export the Audio-MAE model saved in `model_folder` (by `save_pretrained`, with its feature extractor) to ONNX
    graphs in `output_dir`, next to copies of its `config.json` (labels) and `preprocessor_config.json`.

    Every folder gives `fbank.onnx`, `encoder.onnx` and `audio_encoder.onnx` (waveforms -> `last_hidden_state`,
    `pooler_output`); a classifier (`AudioMAEForAudioClassification`) adds `classifier.onnx` and
    `audio_classifier.onnx` (waveforms -> `logits`). Returns the graphs' paths by name.

    Graphs go through `torch.onnx.export(..., dynamo=True)`: `torch.export` traces the shapes symbolically, so the
    batch, the clip length and the spectrogram's time axis (a multiple of `patch_size` up to `target_length`) stay
    dynamic, and a shape the model would refuse is a failed constraint at export time, not a silently baked constant.
    """
    model_folder, output_dir = Path(model_folder), Path(output_dir)
    config = AudioMAEConfig.from_pretrained(model_folder)
    feature_extractor = AudioMAEFeatureExtractor.from_pretrained(model_folder)
    is_classifier = "AudioMAEForAudioClassification" in (config.architectures or [])
    model_class = AudioMAEForAudioClassification if is_classifier else AudioMAEModel
    model = model_class.from_pretrained(model_folder).eval()
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: output_dir / f"{name}.onnx" for name in ("fbank", "encoder", "audio_encoder")}
    if is_classifier:
        paths |= {name: output_dir / f"{name}.onnx" for name in ("classifier", "audio_classifier")}

    export_fbank(feature_extractor, paths["fbank"])
    encoder_outputs = ["last_hidden_state", "pooler_output"]
    # One trace of the model; the encoder and the classifier are cut out of it by their outputs.
    traced = output_dir / "model.onnx"
    time_patches = torch.export.Dim("time_patches", min=1, max=config.target_length // config.patch_size)
    _export(
        _ModelGraph(model),
        torch.zeros(2, config.target_length, config.num_mel_bins),
        traced,
        "input_values",
        {0: torch.export.Dim("batch"), 1: config.patch_size * time_patches},
        ["logits", *encoder_outputs] if is_classifier else encoder_outputs,
    )
    onnx.utils.extract_model(str(traced), str(paths["encoder"]), ["input_values"], encoder_outputs)
    if is_classifier:
        onnx.utils.extract_model(str(traced), str(paths["classifier"]), ["input_values"], ["logits"])
        _prepend_front_end(paths["fbank"], paths["classifier"], paths["audio_classifier"])
    traced.unlink()
    _prepend_front_end(paths["fbank"], paths["encoder"], paths["audio_encoder"])
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copyfile(model_folder / name, output_dir / name)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="audiomae-export-onnx",
        description=(
            "Export an Audio-MAE model folder to ONNX: fbank.onnx (16 kHz waveforms -> log-mel), encoder.onnx, "
            "audio_encoder.onnx, and for classifiers classifier.onnx and audio_classifier.onnx (waveforms -> logits)."
        ),
    )
    parser.add_argument("model_folder", help="a folder written by save_pretrained (model and feature extractor)")
    parser.add_argument("output_dir", help="where the .onnx graphs, config.json and preprocessor_config.json go")
    args = parser.parse_args(argv)
    for name, path in export_onnx(args.model_folder, args.output_dir).items():
        print(f"{name}: {path}")


__all__ = ["LogMelFrontEnd", "export_fbank", "export_onnx", "main"]

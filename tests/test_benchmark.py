"""The benchmark script's device mode and FLOP count, checked on the CPU so that they keep working without a GPU."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from tiny_configs import tiny_config

from audiomae_hf import AudioMAEConfig

_spec = importlib.util.spec_from_file_location("benchmark", Path(__file__).parents[1] / "scripts" / "benchmark.py")
benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark)


def table_row(output: str, task: str, implementation: str) -> str:
    rows = [line for line in output.splitlines() if line.startswith(f"| {task}") and f"| {implementation} " in line]
    assert len(rows) == 1, output
    return rows[0]


@pytest.mark.parametrize("decoder_attention", ["local", "global"])
def test_analytic_pretraining_flops_equal_the_flop_counter(decoder_attention):
    config = tiny_config(decoder_attention=decoder_attention)
    assert benchmark.pretraining_forward_flops(config, 3) == benchmark.counted_forward_flops(config, 3)


def test_analytic_flops_of_the_vit_b_pretraining_forward_equal_the_flop_counter():
    """
    140,281,061,376 FLOPs for a batch of 2 (70.14 GFLOP per clip): the count of `torch.utils.flop_counter` on meta
    tensors for the default ViT-B config, taken once (building ViT-B is too slow for the suite). Its forward +
    backward count was 210.22 GFLOP per clip, 0.1% under 3x the forward: autograd skips the input gradient of the
    patch embedding, which 3x counts.
    """
    assert benchmark.pretraining_forward_flops(AudioMAEConfig(), 2) == 140_281_061_376


def test_device_mode_runs_every_gpu_row_on_the_cpu_with_a_tiny_model(capsys):
    threads = torch.get_num_threads()
    try:
        # One thread: on a shared CPU, multi-threaded tiny steps mostly wait for each other.
        benchmark.main(["--device", "cpu", "--tiny", "--no-compile", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    output = capsys.readouterr().out
    for task in ("pretraining step", "classify", "fbank"):
        assert task in output
    for task in ("pretraining step", "classify"):
        for precision in ("float32", "bf16 autocast"):
            assert "failed" not in table_row(output, task, f"{precision}, sdpa")
    assert "Projection: 32 epochs of 2M clips on 8 such devices:" in output


def test_device_mode_refuses_only_which_selects_cpu_benchmarks():
    with pytest.raises(SystemExit):
        benchmark.main(["--device", "cpu", "--only", "decoding_rows"])


@pytest.mark.parametrize(
    "device_name, peak",
    [
        ("NVIDIA H200", ("H200", 989.0)),
        ("NVIDIA GH200 480GB", ("GH200", 989.0)),
        ("NVIDIA H100 80GB HBM3", ("H100", 989.0)),
        ("NVIDIA H100 PCIe", ("H100 PCIe", 756.0)),
        ("NVIDIA A100-SXM4-80GB", ("A100", 312.0)),
        ("Tesla T4", None),
    ],
)
def test_peak_bf16_rate_is_looked_up_by_device_name(device_name, peak):
    assert benchmark.peak_bf16_tflops(device_name) == peak


@pytest.mark.parametrize("audio_format, rate", [("WAV", 44_100), ("FLAC", 48_000)])
def test_decoding_rows_compare_paths_that_give_the_same_waveform(tmp_path, audio_format, rate):
    """Measured: the three paths agree within 0.021 on these clips (tone 0.3 + noise 0.05; they differ near 8 kHz)."""
    [path] = benchmark._write_clips(tmp_path, audio_format, rate, count=1)
    waveforms = {implementation: benchmark._decoder(implementation)(path) for implementation in benchmark.DECODERS}
    reference = waveforms.pop("audiomae_hf")
    assert reference.shape == (160_000,)
    for waveform in waveforms.values():
        assert waveform.dtype == np.float32
        np.testing.assert_allclose(waveform, reference, rtol=0, atol=0.03)


def test_decoding_sets_hold_clips_of_their_format_and_rate(tmp_path):
    for label, paths in benchmark._write_decoding_sets(tmp_path, count=2).items():
        for path in paths:
            info = soundfile.info(path)
            assert f"{info.format} {info.samplerate}" == label
            assert info.duration == 10

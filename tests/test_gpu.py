"""
Checks that need a CUDA device: `scripts/gpu_check.sh` runs them on a GPU machine. Skipped without CUDA, so that
`make test` never needs a GPU.
"""

import numpy as np
import pytest
import torch
from tiny_configs import tiny_config
from transformers import pipeline

from audiomae_hf import AudioMAEFeatureExtractor, AudioMAEForAudioClassification, AudioMAEForPreTraining

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def noise_clips(lengths: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(length)).astype(np.float32) for length in lengths]


def test_fbank_on_the_gpu_equals_the_cpu_path():
    """Bound stated before any GPU run: 1e-5 absolute on the normalised features (both compute in float64)."""
    extractor = AudioMAEFeatureExtractor()
    clips = noise_clips([160_000, 48_000, 400])
    on_cpu = extractor(clips, sampling_rate=16_000, return_tensors="pt")["input_values"]
    on_gpu = extractor(clips, sampling_rate=16_000, return_tensors="pt", device="cuda")["input_values"]
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, atol=1e-5, rtol=0)


def test_bf16_autocast_training_on_the_gpu_gives_finite_decreasing_loss():
    torch.manual_seed(0)
    model = AudioMAEForPreTraining(tiny_config()).cuda().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    inputs = torch.randn(4, 128, 32, device="cuda")
    noise = torch.rand(4, 16, device="cuda")  # the same mask every step, so the loss can only fall by learning
    losses = []
    for _ in range(20):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(inputs, noise=noise).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_bf16_weights_training_step_on_the_gpu_gives_finite_loss():
    torch.manual_seed(0)
    model = AudioMAEForPreTraining(tiny_config()).to("cuda", torch.bfloat16).train()
    loss = model(torch.randn(4, 128, 32, device="cuda")).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(parameter.grad).all() for parameter in model.parameters() if parameter.grad is not None)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_pipeline_classifies_on_the_gpu(tmp_path, dtype):
    torch.manual_seed(0)
    AudioMAEForAudioClassification(tiny_config()).save_pretrained(tmp_path)
    AudioMAEFeatureExtractor(num_mel_bins=32, target_length=128).save_pretrained(tmp_path)
    classify = pipeline("audio-classification", model=str(tmp_path), device="cuda", dtype=dtype)
    assert classify.model.device.type == "cuda"
    predictions = classify(noise_clips([16_000])[0])
    assert len(predictions) == 3
    assert all(np.isfinite(prediction["score"]) for prediction in predictions)

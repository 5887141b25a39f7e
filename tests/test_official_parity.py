"""Converted weights in our models reproduce the official Audio-MAE code's outputs.

The goldens in `fixtures/official_parity/` were computed by the official code (commit bd60e29) on seeded weights from
`official_weights.py`; see `scripts/make_official_parity_fixtures.py`. Here the same state dicts go through
`audiomae_hf.convert` into our models, which must give the same mask, loss, predicted patches, unmasked encoder output
and classifier logits, at the small shape and at ViT-B.

Tolerances, in float32:
- relative error max|ours - official| / max|official| <= 1e-5, the bar for every output;
- elementwise, |ours - official| <= 3e-5 + 1e-5 |official|. Every output is of unit scale by construction (normalised
  tokens, normalised-patch predictions, logits of std ~1). The local decoder divides cosine similarities by a
  temperature clamped at 0.01, so its attention logits reach ~100 and float32 rounding of equivalent formulations
  (official: q.k / (|q||k|) / tau; ours: (q/|q|/tau) . (k/|k|) inside SDPA) moves them by ~100 * 2^-24 = 6e-6. The
  worst element measured is 6e-6 (predicted patches, small shape); 3e-5 leaves room for other BLAS builds, still ~250
  float32 steps at 1.
"""

import functools
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from official_weights import SHAPES, make_official_state_dict, make_spectrograms

from audiomae_hf.convert import convert_official_state_dict

FIXTURES = Path(__file__).parent / "fixtures" / "official_parity"
MAX_RELATIVE_ERROR = 1e-5
ELEMENTWISE_ATOL = 3e-5
ELEMENTWISE_RTOL = 1e-5

SHAPE_NAMES = [pytest.param("small"), pytest.param("vit_base", marks=pytest.mark.slow)]


@functools.cache
def golden(shape_name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{shape_name}.npz") as fixture:
        return {key: fixture[key] for key in fixture.files}


def official_inputs(shape_name: str) -> torch.Tensor:
    reference = golden(shape_name)
    return torch.from_numpy(make_spectrograms(reference["noise"].shape[0], int(reference["seed"])))


def convert(kind: str, shape_name: str):
    shape = SHAPES[shape_name]
    state_dict = make_official_state_dict(kind, shape, int(golden("small")["seed"]))
    return convert_official_state_dict(state_dict, num_attention_heads=shape.num_heads)


def relative_error(ours: torch.Tensor, reference: np.ndarray) -> float:
    reference = torch.from_numpy(np.asarray(reference))
    return float((ours - reference).abs().max() / reference.abs().max())


def assert_matches_official(ours: torch.Tensor, reference: np.ndarray) -> None:
    assert tuple(ours.shape) == reference.shape
    assert relative_error(ours, reference) <= MAX_RELATIVE_ERROR
    torch.testing.assert_close(
        ours, torch.from_numpy(np.asarray(reference)), rtol=ELEMENTWISE_RTOL, atol=ELEMENTWISE_ATOL
    )


@pytest.fixture(scope="module", params=SHAPE_NAMES)
def shape_name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def pretraining_model(shape_name):
    return convert("pretrained", shape_name)


@pytest.fixture(scope="module")
def pretraining_outputs(pretraining_model, shape_name):
    noise = torch.from_numpy(golden(shape_name)["noise"])
    with torch.no_grad():
        return pretraining_model(official_inputs(shape_name), noise=noise)


@pytest.fixture(scope="module")
def unmasked_encoder_output(pretraining_model, shape_name):
    with torch.no_grad():
        # The official forward_encoder ends with `norm`; our encoder leaves it to the pretraining head.
        tokens = pretraining_model.audiomae(official_inputs(shape_name)).last_hidden_state
        return pretraining_model.encoder_norm(tokens)


def test_goldens_were_made_from_the_shapes_and_inputs_the_tests_rebuild(shape_name):
    reference = golden(shape_name)
    assert json.loads(str(reference["shape"])) == SHAPES[shape_name].as_dict()
    digest = hashlib.sha256(official_inputs(shape_name).numpy().tobytes()).hexdigest()
    assert digest == str(reference["input_values_sha256"])


def test_same_noise_hides_the_same_patches(pretraining_outputs, shape_name):
    np.testing.assert_array_equal(pretraining_outputs.mask.numpy(), golden(shape_name)["mask"])


def test_pretraining_loss_matches_official(pretraining_outputs, shape_name):
    assert_matches_official(pretraining_outputs.loss, golden(shape_name)["loss"])


def test_predicted_patches_match_official(pretraining_outputs, shape_name):
    assert_matches_official(pretraining_outputs.logits, golden(shape_name)["pred"])


def test_unmasked_encoder_output_matches_official(unmasked_encoder_output, shape_name):
    assert_matches_official(unmasked_encoder_output, golden(shape_name)["encoder_output"])


def test_fine_tuned_classifier_logits_match_official(shape_name):
    model = convert("finetuned", shape_name)
    with torch.no_grad():
        logits = model(official_inputs(shape_name)).logits
    assert_matches_official(logits, golden(shape_name)["classifier_logits"])


@pytest.fixture(scope="module")
def global_decoder_outputs():
    model = convert("pretrained", "small_global_decoder")
    with torch.no_grad():
        return model(official_inputs("small"), noise=torch.from_numpy(golden("small")["noise"]))


def test_global_decoder_predicted_patches_match_official(global_decoder_outputs):
    assert json.loads(str(golden("small")["global_decoder_shape"])) == SHAPES["small_global_decoder"].as_dict()
    assert_matches_official(global_decoder_outputs.logits, golden("small")["global_decoder_pred"])


def test_global_decoder_loss_matches_official(global_decoder_outputs):
    assert_matches_official(global_decoder_outputs.loss, golden("small")["global_decoder_loss"])

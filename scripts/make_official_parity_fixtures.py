"""Compute golden outputs of the official Audio-MAE code for the parity tests.

Runs the official models (facebookresearch/AudioMAE, commit bd60e29) on CPU with the seeded weights of
`tests/official_weights.py` and writes `tests/fixtures/official_parity/{small,vit_base}.npz`. Our tests convert the same
weights with `audiomae_hf.convert` and must reproduce these outputs. Run it with a python that has the official code's
dependencies, never with the project's environment (timm 0.3.2 must not go there):

    python3 -m venv /tmp/official/venv
    /tmp/official/venv/bin/pip install torch==2.13.0 pillow
    /tmp/official/venv/bin/pip install --no-deps timm==0.3.2 numpy
    mkdir /tmp/official/AudioMAE && git -C <bare AudioMAE repo> archive bd60e29 | tar -x -C /tmp/official/AudioMAE
    # the official timm_patch.sh, pointed at the scratch timm:
    TIMM=/tmp/official/venv/lib/python3.11/site-packages/timm/models
    cp /tmp/official/AudioMAE/timm_patch/swin_transformer.py $TIMM/
    cp /tmp/official/AudioMAE/timm_patch/helpers.py $TIMM/layers/
    /tmp/official/venv/bin/python scripts/make_official_parity_fixtures.py --official-repo /tmp/official/AudioMAE

The official files stay untouched on disk. What no longer runs on today's torch and numpy is shimmed inside this
process only, with the meaning the official code had:

- `torch._six` is gone: `util/misc.py` (imported by `models_mae`) takes `inf` from it; we register a `torch._six`
  module holding `math.inf`. timm 0.3.2's own `torch._six.container_abcs` import is replaced by the official
  `timm_patch/helpers.py` above, which already falls back to `collections.abc` on torch >= 1.8.
- timm 0.3.2's `timm.data` imports `torchvision.transforms` at import time (and PIL, hence pillow above); we register
  empty `torchvision` and `torchvision.transforms(.functional)` modules, no code. Nothing here transforms images.
- `np.float` is gone from numpy: `util/pos_embed.py` uses it for the sin-cos frequencies; we set `np.float =
  np.float64`, which is what the alias meant.
- `MaskedAutoencoderViT.forward` returns a zero contrastive loss made with `.cuda()`; during that call
  `torch.Tensor.cuda` returns the tensor itself.
- Official `random_masking` draws `torch.rand(N, L)`; during each call `torch.rand` returns our recorded noise instead
  (checked to be asked for the same shape), so our model can be fed the very same noise.

The models are built as the official entry points build them: `main_pretrain.py`'s `MaskedAutoencoderViT(audio_exp=True,
img_size=(1024, 128), in_chans=1, patch_size=16, norm_pix_loss=True, norm_layer=LayerNorm(eps=1e-6), decoder_mode=...)`
and `main_finetune_as.py`'s `models_vit.VisionTransformer(global_pool=True, ...)` with its patch embedding replaced by
`PatchEmbed_new(stride=16)` and its position table by a fixed one; all in eval mode, in float32.
"""

import argparse
import hashlib
import json
import math
import sys
import types
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from official_weights import (  # noqa: E402
    SHAPES,
    identity_masking_noise,
    make_masking_noise,
    make_official_state_dict,
    make_spectrograms,
    official_position_table,
)

MASK_RATIO = 0.8  # main_pretrain.py's default, and the paper's
BATCH_SIZES = {"small": 2, "vit_base": 1}


def install_import_shims() -> None:
    """Let the official code and timm 0.3.2 import on current torch and numpy (see the module docstring)."""
    six = types.ModuleType("torch._six")
    six.inf = math.inf
    sys.modules["torch._six"] = six
    for name in ("torchvision", "torchvision.transforms", "torchvision.transforms.functional"):
        sys.modules[name] = types.ModuleType(name)
    np.float = np.float64


@contextmanager
def fixed_torch_rand(noise: torch.Tensor):
    """Make `torch.rand(N, L)` inside the official masking return `noise`."""

    def recorded_rand(*size, **kwargs):
        if tuple(size) != tuple(noise.shape):
            raise AssertionError(f"official code asked torch.rand for {size}, the recorded noise is {noise.shape}")
        return noise.clone()

    with mock.patch("torch.rand", recorded_rand):
        yield


def load_exactly(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """Load `state_dict` after checking it has precisely the model's keys and shapes."""
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    given = {key: tuple(value.shape) for key, value in state_dict.items()}
    if expected != given:
        raise AssertionError(
            "tests/official_weights.py disagrees with the official model:\n"
            f"  only official: {sorted(set(expected) - set(given))}\n"
            f"  only ours: {sorted(set(given) - set(expected))}\n"
            f"  shapes: {[(k, expected[k], given[k]) for k in expected.keys() & given.keys() if expected[k] != given[k]]}"
        )
    model.load_state_dict(state_dict, strict=True)


def build_pretraining_model(models_mae, shape) -> nn.Module:
    model = models_mae.MaskedAutoencoderViT(
        img_size=(1024, 128),
        patch_size=16,
        in_chans=1,
        embed_dim=shape.embed_dim,
        depth=shape.depth,
        num_heads=shape.num_heads,
        decoder_embed_dim=shape.decoder_embed_dim,
        decoder_depth=shape.decoder_depth,
        decoder_num_heads=shape.decoder_num_heads,
        mlp_ratio=shape.mlp_ratio,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
        norm_pix_loss=True,
        audio_exp=True,
        decoder_mode=shape.decoder_mode,
    )
    # Our stand-in tables must be the official init's, bit for bit, since the tests convert our state dicts.
    for key in ("pos_embed", "decoder_pos_embed"):
        official = getattr(model, key).detach().numpy()[0]
        if not np.array_equal(official, official_position_table(official.shape[-1])):
            raise AssertionError(f"official_position_table differs from the official {key} init")
    return model.eval()


def build_classifier(models_vit, patch_embed_module, shape) -> nn.Module:
    model = models_vit.VisionTransformer(
        global_pool=True,
        num_classes=shape.num_classes,
        img_size=(1024, 128),
        in_chans=1,
        patch_size=16,
        embed_dim=shape.embed_dim,
        depth=shape.depth,
        num_heads=shape.num_heads,
        mlp_ratio=shape.mlp_ratio,
        qkv_bias=True,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
    )
    # As main_finetune_as.py does for audio: a stride-16 patch embedding and a fixed (loaded) position table.
    model.patch_embed = patch_embed_module.PatchEmbed_new(
        img_size=(1024, 128), patch_size=(16, 16), in_chans=1, embed_dim=shape.embed_dim, stride=16
    )
    num_patches = model.patch_embed.num_patches
    model.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, shape.embed_dim), requires_grad=False)
    return model.eval()


def run_pretraining(model, spectrograms: torch.Tensor, noise: torch.Tensor) -> dict[str, np.ndarray]:
    batch_size, num_patches = noise.shape
    with fixed_torch_rand(noise), mock.patch.object(torch.Tensor, "cuda", lambda tensor, *args, **kwargs: tensor):
        loss, pred, mask, _ = model(spectrograms, mask_ratio=MASK_RATIO)
    with fixed_torch_rand(torch.from_numpy(identity_masking_noise(batch_size))):
        encoded, unmasked, _, _ = model.forward_encoder(spectrograms, 0.0)
    if unmasked.any():
        raise AssertionError("mask_ratio 0 with identity noise should keep every patch")
    return {
        "loss": loss.numpy(),
        "pred": pred.numpy(),
        "mask": mask.numpy(),
        "encoder_output": encoded.numpy(),
    }


def make_fixture(shape_name: str, seed: int, official_modules) -> dict[str, np.ndarray]:
    models_mae, models_vit, patch_embed_module = official_modules
    batch_size = BATCH_SIZES[shape_name]
    spectrograms = make_spectrograms(batch_size, seed)
    noise = make_masking_noise(batch_size, seed)
    inputs = torch.from_numpy(spectrograms)
    shape = SHAPES[shape_name]
    fixture = {
        "seed": np.array(seed),
        "shape": np.array(json.dumps(shape.as_dict())),
        "mask_ratio": np.array(MASK_RATIO, dtype=np.float32),
        # The spectrograms are regenerated from the seed by the tests (storing them would double the fixtures);
        # the digest catches a numpy whose generator no longer gives the same stream.
        "input_values_sha256": np.array(hashlib.sha256(spectrograms.tobytes()).hexdigest()),
        "noise": noise,
    }

    model = build_pretraining_model(models_mae, shape)
    load_exactly(model, make_official_state_dict("pretrained", shape, seed))
    fixture |= run_pretraining(model, inputs, torch.from_numpy(noise))

    if shape_name == "small":
        global_shape = SHAPES["small_global_decoder"]
        model = build_pretraining_model(models_mae, global_shape)
        load_exactly(model, make_official_state_dict("pretrained", global_shape, seed))
        outputs = run_pretraining(model, inputs, torch.from_numpy(noise))
        fixture["global_decoder_shape"] = np.array(json.dumps(global_shape.as_dict()))
        fixture |= {f"global_decoder_{key}": value for key, value in outputs.items() if key in ("loss", "pred")}

    classifier = build_classifier(models_vit, patch_embed_module, shape)
    load_exactly(classifier, make_official_state_dict("finetuned", shape, seed))
    fixture["classifier_logits"] = classifier(inputs).numpy()
    return fixture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official-repo", type=Path, required=True, help="a checkout of facebookresearch/AudioMAE")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "tests/fixtures/official_parity")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    install_import_shims()
    sys.path.insert(0, str(args.official_repo.resolve()))
    import models_mae
    import models_vit
    from util import patch_embed

    torch.set_grad_enabled(False)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for shape_name in BATCH_SIZES:
        fixture = make_fixture(shape_name, args.seed, (models_mae, models_vit, patch_embed))
        path = args.output_dir / f"{shape_name}.npz"
        np.savez_compressed(path, **fixture)
        print(f"{path}: {path.stat().st_size / 1e6:.2f} MB, loss {float(fixture['loss']):.6f}")


if __name__ == "__main__":
    main()

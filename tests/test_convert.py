"""Converting official Audio-MAE checkpoints into Hugging Face folders: mapping, round trip, folder contents, refusals."""

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from huggingface_hub import HfApi
from official_weights import SHAPES, make_official_state_dict, official_parameter_shapes
from safetensors.torch import load_file, save_file
from transformers import AutoModelForAudioClassification, AutoModelForPreTraining

from audiomae_hf import AudioMAEForAudioClassification, AudioMAEForPreTraining, AudioMAEModel
from audiomae_hf import convert as convert_module
from audiomae_hf.convert import (
    CheckpointError,
    config_from_official,
    convert_checkpoint,
    convert_official_state_dict,
    hf_to_official_state_dict,
    official_to_hf_state_dict,
    remove_stale_staging_folders,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SMALL_HEADS = SHAPES["small"].num_heads


def official_checkpoint(kind: str, shape: str = "small", **args) -> dict:
    """What the official training code saves: the weights under "model", the argparse arguments under "args"."""
    checkpoint = {"model": make_official_state_dict(kind, shape, seed=1), "epoch": 32}
    if args:
        checkpoint["args"] = argparse.Namespace(**args)
    return checkpoint


def shapes_only(kind: str, shape: str) -> dict[str, torch.Tensor]:
    """A state dict with the right keys and shapes and no values, for tests that only read the structure."""
    return {key: torch.empty(size) for key, size in official_parameter_shapes(kind, SHAPES[shape]).items()}


@pytest.fixture(scope="module")
def pretrained_pth(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("checkpoints") / "pretrained.pth"
    torch.save(official_checkpoint("pretrained", mask_ratio=0.8, norm_pix_loss=True, model="mae_vit_small"), path)
    return path


@pytest.fixture(scope="module")
def finetuned_pth(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("checkpoints") / "finetuned.pth"
    torch.save(official_checkpoint("finetuned", mask_t_prob=0.2, mask_f_prob=0.2), path)
    return path


@pytest.fixture(scope="module")
def pretrained_folder(pretrained_pth, tmp_path_factory) -> Path:
    return convert_checkpoint(
        pretrained_pth, tmp_path_factory.mktemp("converted") / "pretrained", num_attention_heads=SMALL_HEADS
    )


@pytest.fixture(scope="module")
def finetuned_folder(finetuned_pth, tmp_path_factory) -> Path:
    return convert_checkpoint(
        finetuned_pth, tmp_path_factory.mktemp("converted") / "finetuned", num_attention_heads=SMALL_HEADS
    )


def leftovers(parent: Path) -> list[str]:
    return sorted(path.name for path in parent.iterdir())


# --- key mapping and round trip ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "shape"),
    [("pretrained", "small"), ("pretrained", "small_global_decoder"), ("finetuned", "small")],
)
def test_every_official_key_maps_to_a_model_key_and_back(kind, shape):
    state_dict = shapes_only(kind, shape)
    config = config_from_official(state_dict, num_attention_heads=SMALL_HEADS)
    model_class = AudioMAEForPreTraining if kind == "pretrained" else AudioMAEForAudioClassification
    converted = official_to_hf_state_dict(state_dict, config)
    assert converted.keys() == model_class(config).state_dict().keys()
    checkpoint_kind = "pretraining" if kind == "pretrained" else "classification"
    assert hf_to_official_state_dict(converted, config, checkpoint_kind).keys() == state_dict.keys()


@pytest.mark.parametrize(
    ("kind", "shape"),
    [("pretrained", "small"), ("pretrained", "small_global_decoder"), ("finetuned", "small")],
)
def test_official_to_folder_to_official_gives_back_every_tensor_bit_identically(kind, shape, tmp_path):
    original = make_official_state_dict(kind, shape, seed=2)
    torch.save({"model": original}, tmp_path / "official.pth")
    folder = convert_checkpoint(tmp_path / "official.pth", tmp_path / "folder", num_attention_heads=SMALL_HEADS)
    config = json.loads((folder / "config.json").read_text())
    model_class = AudioMAEForPreTraining if kind == "pretrained" else AudioMAEForAudioClassification
    model_config = model_class.config_class.from_dict(config)
    checkpoint_kind = "pretraining" if kind == "pretrained" else "classification"
    back = hf_to_official_state_dict(load_file(folder / "model.safetensors"), model_config, checkpoint_kind)
    assert back.keys() == original.keys()
    for key, tensor in original.items():
        assert back[key].dtype == tensor.dtype and torch.equal(back[key], tensor), key


# --- configuration inferred from the checkpoint ------------------------------------------------------------------------


def test_vit_base_shapes_are_recognised_with_the_official_head_counts():
    config = config_from_official(shapes_only("pretrained", "vit_base"))
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (768, 12, 12)
    assert (config.decoder_hidden_size, config.decoder_num_hidden_layers, config.decoder_num_attention_heads) == (
        512,
        16,
        16,
    )
    assert config.decoder_attention == "local"
    assert (config.target_length, config.num_mel_bins, config.patch_size) == (1024, 128, 16)


def test_an_encoder_width_without_official_preset_asks_for_the_head_count():
    with pytest.raises(CheckpointError, match="num_attention_heads"):
        config_from_official(shapes_only("pretrained", "small"))


def test_a_decoder_without_windows_is_the_global_decoder():
    config = config_from_official(shapes_only("pretrained", "small_global_decoder"), num_attention_heads=SMALL_HEADS)
    assert (config.decoder_attention, config.decoder_num_hidden_layers) == ("global", 2)


def test_masking_and_loss_recipe_come_from_the_training_arguments():
    args = argparse.Namespace(mask_ratio=0.7, norm_pix_loss=False, no_shift=True)
    config = config_from_official(shapes_only("pretrained", "small"), args, num_attention_heads=SMALL_HEADS)
    assert (config.mask_ratio, config.norm_pix_loss, config.decoder_attention) == (0.7, False, "local_no_shift")


def test_audioset_classifier_gets_the_527_class_names_and_multi_label_loss(finetuned_folder):
    config = json.loads((finetuned_folder / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert len(config["id2label"]) == 527
    assert (config["id2label"]["0"], config["id2label"]["526"]) == ("Speech", "Field recording")


# --- the written folder ------------------------------------------------------------------------------------------------


def test_pretraining_folder_holds_weights_code_config_feature_extractor_and_card(pretrained_folder):
    names = set(leftovers(pretrained_folder))
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "README.md"} <= names
    assert {"configuration_audiomae.py", "modeling_audiomae.py"} <= names
    assert "AutoModelForPreTraining" in json.loads((pretrained_folder / "config.json").read_text())["auto_map"]


def test_converted_weights_keep_the_official_license_in_the_card(pretrained_folder):
    card = (pretrained_folder / "README.md").read_text()
    assert "license: cc-by-nc-4.0" in card
    assert "pretrained.pth" in card


def test_pretraining_folder_loads_with_auto_classes(pretrained_folder):
    model = AutoModelForPreTraining.from_pretrained(pretrained_folder)
    assert isinstance(model, AudioMAEForPreTraining)


def test_classifier_folder_loads_with_auto_classes(finetuned_folder):
    model = AutoModelForAudioClassification.from_pretrained(finetuned_folder)
    assert isinstance(model, AudioMAEForAudioClassification)


def test_timm_port_in_safetensors_converts_like_the_official_checkpoint(tmp_path):
    # The timm ports keep the official names: cls_token, pos_embed, patch_embed.proj.*, blocks.*, fc_norm.*, head.*.
    state_dict = make_official_state_dict("finetuned", "small", seed=3)
    save_file(state_dict, tmp_path / "model.safetensors")
    folder = convert_checkpoint(tmp_path / "model.safetensors", tmp_path / "folder", num_attention_heads=SMALL_HEADS)
    model = AutoModelForAudioClassification.from_pretrained(folder)
    assert torch.equal(model.classifier.weight, state_dict["head.weight"])


def test_encoder_only_checkpoint_without_final_norm_becomes_audiomae_model():
    state_dict = make_official_state_dict("finetuned", "small", seed=4)
    encoder = {key: value for key, value in state_dict.items() if not key.startswith(("head.", "fc_norm."))}
    model = convert_official_state_dict(encoder, num_attention_heads=SMALL_HEADS)
    assert isinstance(model, AudioMAEModel)


def test_encoder_only_checkpoint_with_final_norm_is_refused_unless_converting_the_encoder_only():
    state_dict = make_official_state_dict("pretrained", "small", seed=4)
    encoder_and_norm = {
        key: value
        for key, value in state_dict.items()
        if key.startswith(("blocks.", "norm.", "cls_", "pos_", "patch_"))
    }
    with pytest.raises(CheckpointError, match="encoder_only"):
        convert_official_state_dict(encoder_and_norm, num_attention_heads=SMALL_HEADS)
    model = convert_official_state_dict(encoder_and_norm, num_attention_heads=SMALL_HEADS, encoder_only=True)
    assert isinstance(model, AudioMAEModel)


def test_head_without_fc_norm_is_refused_as_ambiguous():
    # timm's export of the pretrained encoder: final `norm` and a placeholder `head`, no `fc_norm`.
    state_dict = make_official_state_dict("finetuned", "small", seed=4)
    state_dict["norm.weight"], state_dict["norm.bias"] = (
        state_dict.pop("fc_norm.weight"),
        state_dict.pop("fc_norm.bias"),
    )
    with pytest.raises(CheckpointError, match="encoder_only"):
        convert_official_state_dict(state_dict, num_attention_heads=SMALL_HEADS)


def test_encoder_only_conversion_of_a_pretraining_checkpoint_keeps_the_encoder_weights():
    state_dict = make_official_state_dict("pretrained", "small", seed=4)
    model = convert_official_state_dict(state_dict, num_attention_heads=SMALL_HEADS, encoder_only=True)
    assert isinstance(model, AudioMAEModel)
    assert torch.equal(model.encoder.layer[1].mlp.fc2.weight, state_dict["blocks.1.mlp.fc2.weight"])


def test_encoder_only_conversion_still_refuses_unknown_tensors():
    state_dict = make_official_state_dict("pretrained", "small", seed=4)
    state_dict["blocks.0.attn.relative_position_bias_table"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match="relative_position_bias_table"):
        convert_official_state_dict(state_dict, num_attention_heads=SMALL_HEADS, encoder_only=True)


# --- refusals, with nothing left behind --------------------------------------------------------------------------------


def assert_refused_without_output(checkpoint: Path, tmp_path: Path, match: str) -> None:
    output_parent = tmp_path / "out"
    output_parent.mkdir()
    with pytest.raises(CheckpointError, match=match):
        convert_checkpoint(checkpoint, output_parent / "model", num_attention_heads=SMALL_HEADS)
    assert leftovers(output_parent) == []


def test_truncated_checkpoint_is_refused(pretrained_pth, tmp_path):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(pretrained_pth.read_bytes()[: pretrained_pth.stat().st_size // 2])
    assert_refused_without_output(truncated, tmp_path, "truncated or corrupt")


def test_corrupt_checkpoint_is_refused(pretrained_pth, tmp_path):
    corrupt = bytearray(pretrained_pth.read_bytes())
    corrupt[:4096] = bytes(4096)
    (tmp_path / "corrupt.pth").write_bytes(bytes(corrupt))
    assert_refused_without_output(tmp_path / "corrupt.pth", tmp_path, "truncated or corrupt")


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    resnet = {
        "conv1.weight": torch.zeros(64, 3, 7, 7),
        "bn1.weight": torch.ones(64),
        "layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3),
        "fc.weight": torch.zeros(1000, 2048),
    }
    torch.save({"model": resnet}, tmp_path / "resnet.pth")
    assert_refused_without_output(tmp_path / "resnet.pth", tmp_path, "Not an Audio-MAE")


def test_image_mae_with_three_input_channels_is_refused(tmp_path):
    state_dict = make_official_state_dict("pretrained", "small", seed=5)
    state_dict["patch_embed.proj.weight"] = torch.zeros(192, 3, 16, 16)
    torch.save({"model": state_dict}, tmp_path / "image_mae.pth")
    assert_refused_without_output(tmp_path / "image_mae.pth", tmp_path, "image model")


def test_missing_tensor_is_refused_and_named(tmp_path):
    state_dict = make_official_state_dict("pretrained", "small", seed=5)
    del state_dict["decoder_blocks.7.attn.tau"]
    torch.save({"model": state_dict}, tmp_path / "missing.pth")
    assert_refused_without_output(
        tmp_path / "missing.pth", tmp_path, r"missing from the checkpoint: \['decoder_blocks\.7\.attn\.tau'\]"
    )


def test_unexpected_tensor_is_refused_and_named(tmp_path):
    state_dict = make_official_state_dict("pretrained", "small", seed=5)
    state_dict["blocks.0.attn.relative_position_bias_table"] = torch.zeros(3)
    torch.save({"model": state_dict}, tmp_path / "extra.pth")
    assert_refused_without_output(tmp_path / "extra.pth", tmp_path, "blocks.0.attn.relative_position_bias_table")


def test_tensor_of_the_wrong_shape_is_refused_and_named(tmp_path):
    state_dict = make_official_state_dict("pretrained", "small", seed=5)
    state_dict["decoder_blocks.3.attn.qkv.weight"] = torch.zeros(3 * 128, 64)
    torch.save({"model": state_dict}, tmp_path / "wrong_shape.pth")
    assert_refused_without_output(
        tmp_path / "wrong_shape.pth", tmp_path, r"decoder_blocks\.3\.attn\.qkv\.weight: checkpoint"
    )


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_checkpoint_is_never_unpickled_beyond_tensors_and_training_arguments(tmp_path):
    payload = _RunsCodeWhenUnpickled()
    payload.marker = str(tmp_path / "code_ran")
    torch.save(
        {"model": make_official_state_dict("finetuned", "small", seed=5), "extra": payload}, tmp_path / "bad.pth"
    )
    assert_refused_without_output(tmp_path / "bad.pth", tmp_path, "Unsupported global")
    assert not (tmp_path / "code_ran").exists()


def test_existing_non_empty_output_folder_is_left_alone(pretrained_pth, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        convert_checkpoint(pretrained_pth, tmp_path / "taken", num_attention_heads=SMALL_HEADS)
    assert leftovers(tmp_path / "taken") == ["notes.txt"]


# --- command line and Hub upload ----------------------------------------------------------------------------------------


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "convert_audiomae_to_hf.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_command_line_writes_a_loadable_folder(finetuned_pth, tmp_path):
    result = run_cli(str(finetuned_pth), str(tmp_path / "cli"), "--num-attention-heads", str(SMALL_HEADS))
    assert result.returncode == 0, result.stderr
    model = AutoModelForAudioClassification.from_pretrained(tmp_path / "cli")
    assert model.config.num_labels == 527


def test_command_line_reports_a_bad_checkpoint_and_writes_nothing(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("convert_cli", REPO_ROOT / "scripts" / "convert_audiomae_to_hf.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    assert cli.main([str(tmp_path / "broken.pth"), str(tmp_path / "cli")]) == 2
    assert "error: Cannot read" in capsys.readouterr().err
    assert not (tmp_path / "cli").exists()


def test_push_to_hub_uploads_the_converted_folder(pretrained_pth, tmp_path, monkeypatch):
    uploads = []

    def create_repo(self, repo_id, **kwargs):
        uploads.append(("create_repo", repo_id, kwargs.get("private")))

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        uploads.append(("upload_folder", repo_id, sorted(path.name for path in Path(folder_path).iterdir())))
        uploads.append(("card", (Path(folder_path) / "README.md").read_text()))

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    convert_checkpoint(
        pretrained_pth, tmp_path / "pushed", push_to_hub="me/audiomae-as2m", private=True, num_attention_heads=3
    )
    assert uploads[0] == ("create_repo", "me/audiomae-as2m", True)
    assert uploads[1][:2] == ("upload_folder", "me/audiomae-as2m")
    assert {"README.md", "config.json", "model.safetensors", "preprocessor_config.json"} <= set(uploads[1][2])
    assert "license: cc-by-nc-4.0" in uploads[2][1] and "me/audiomae-as2m" in uploads[2][1]


# --- what each official tensor becomes ----------------------------------------------------------------------------------


# The role each official block tensor plays, restated from the official models (not from convert.py's rules), so a
# swap of two same-shaped rules (norm1 / norm2) fails here and not only in the parity goldens.
ENCODER_BLOCK_ROLES = {
    "norm1.weight": "layernorm_before.weight",  # pre-norm: before attention
    "norm2.weight": "layernorm_after.weight",  # before the MLP
    "attn.qkv.weight": "attention.qkv.weight",
    "attn.proj.weight": "attention.proj.weight",
    "mlp.fc1.weight": "mlp.fc1.weight",
    "mlp.fc2.weight": "mlp.fc2.weight",
}
LOCAL_DECODER_BLOCK_ROLES = {
    "norm1.weight": "attention_output_norm.weight",  # post-norm: on the attention output
    "norm2.weight": "mlp_output_norm.weight",  # on the MLP output
    "attn.meta_mlp.fc1.weight": "attention.position_bias_mlp.fc1.weight",
    "attn.meta_mlp.fc2.weight": "attention.position_bias_mlp.fc2.weight",
    "attn.tau": "attention.tau",
    "mlp.fc1.weight": "mlp.fc1.weight",
    "mlp.fc2.weight": "mlp.fc2.weight",
}


def test_every_block_tensor_lands_on_the_module_that_plays_its_official_role():
    official = make_official_state_dict("pretrained", "small", seed=1)
    ours = convert_official_state_dict(official, num_attention_heads=SMALL_HEADS).state_dict()
    for official_name, our_name in ENCODER_BLOCK_ROLES.items():
        assert torch.equal(ours[f"audiomae.encoder.layer.1.{our_name}"], official[f"blocks.1.{official_name}"])
    for official_name, our_name in LOCAL_DECODER_BLOCK_ROLES.items():
        assert torch.equal(ours[f"decoder.layer.3.{our_name}"], official[f"decoder_blocks.3.{official_name}"])


def official_encoder_block(state: dict, prefix: str, x: torch.Tensor, heads: int) -> torch.Tensor:
    """A pre-norm ViT block written from the official names: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def weights(name):
        return state[f"{prefix}{name}.weight"], state[f"{prefix}{name}.bias"]

    batch, length, width = x.shape
    qkv = F.linear(F.layer_norm(x, (width,), *weights("norm1"), eps=1e-6), *weights("attn.qkv"))
    q, k, v = qkv.view(batch, length, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    attention = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, length, width)
    x = x + F.linear(attention, *weights("attn.proj"))
    hidden = F.gelu(F.linear(F.layer_norm(x, (width,), *weights("norm2"), eps=1e-6), *weights("mlp.fc1")))
    return x + F.linear(hidden, *weights("mlp.fc2"))


def test_converted_encoder_block_computes_the_official_block():
    official = make_official_state_dict("finetuned", "small", seed=1)
    model = convert_official_state_dict(official, num_attention_heads=SMALL_HEADS)
    x = torch.randn(2, 9, 192, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = model.audiomae.encoder.layer[0](x)
    torch.testing.assert_close(ours, official_encoder_block(official, "blocks.0.", x, SMALL_HEADS))


# --- damaged checkpoints and killed conversions ------------------------------------------------------------------------


def test_checkpoint_with_a_nan_weight_is_refused_naming_the_tensor(tmp_path):
    checkpoint = official_checkpoint("pretrained")
    checkpoint["model"]["blocks.1.mlp.fc2.weight"][0, 0] = float("nan")
    torch.save(checkpoint, tmp_path / "nan.pth")
    # Before: "The weights saved in ... differ from the converted model's", naming no tensor.
    assert_refused_without_output(
        tmp_path / "nan.pth", tmp_path, r"NaN or infinite values: \['blocks.1.mlp.fc2.weight'\]"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (dict(mask_ratio="0.8"), "args.mask_ratio='0.8' is a str, expected a float"),
        (dict(mask_ratio=0.8, norm_pix_loss="False"), "args.norm_pix_loss='False' is a str, expected a bool"),
        (dict(no_shift="True"), "args.no_shift='True' is a str, expected a bool"),
        (dict(mask_2d=True, mask_t_prob=[0.3], mask_f_prob=0.3), r"args.mask_t_prob=\[0.3\] is a list"),
    ],
)
def test_training_arguments_of_the_wrong_type_are_refused_naming_the_field(tmp_path, args, message):
    # Before: a raw TypeError for mask_ratio, and norm_pix_loss="False" silently read as True.
    torch.save(official_checkpoint("pretrained", **args), tmp_path / "typed.pth")
    assert_refused_without_output(tmp_path / "typed.pth", tmp_path, message)


def dead_pid() -> int:
    process = subprocess.Popen(["sleep", "60"])
    process.kill()
    process.wait()
    return process.pid


def test_staging_folder_of_a_conversion_killed_with_sigkill_is_removed_by_the_next_run(pretrained_pth, tmp_path):
    slow_conversion = textwrap.dedent(
        f"""
        import time
        import audiomae_hf.convert as convert

        def write_slowly(model, folder, **kwargs):
            (folder / "model.safetensors").write_bytes(b"half written")
            time.sleep(600)

        convert.write_model_folder = write_slowly
        convert.convert_checkpoint({str(pretrained_pth)!r}, {str(tmp_path / "model")!r}, num_attention_heads=3)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", slow_conversion])
    try:
        for _ in range(600):
            staging = [path for path in tmp_path.iterdir() if path.name.startswith(".model.partial-")]
            if staging and (staging[0] / "model.safetensors").exists():
                break
            time.sleep(0.1)
        else:
            pytest.fail("the conversion never started writing")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert [path.name for path in tmp_path.iterdir()] == [staging[0].name]  # what kill -9 leaves
    convert_checkpoint(pretrained_pth, tmp_path / "model", num_attention_heads=SMALL_HEADS)
    assert leftovers(tmp_path) == ["model"]


def test_only_this_targets_staging_folders_of_dead_processes_are_removed(tmp_path):
    host, dead = convert_module._HOST, dead_pid()
    names = {
        f".model.partial-{host}-{dead}-0123abcd": False,  # killed conversion into "model": removed
        f".model.partial-{host}-{os.getpid()}-0123abcd": True,  # a live conversion
        f".model.partial-otherhost-{dead}-0123abcd": True,  # another machine's, on a shared filesystem
        f".other.partial-{host}-{dead}-0123abcd": True,  # another target
        f".model.partial-{host}-{dead}-notours": True,  # not our naming
    }
    for name in names:
        (tmp_path / name).mkdir()
    removed = remove_stale_staging_folders(tmp_path / "model")
    assert [path.name for path in removed] == [f".model.partial-{host}-{dead}-0123abcd"]
    assert sorted(leftovers(tmp_path)) == sorted(name for name, kept in names.items() if kept)

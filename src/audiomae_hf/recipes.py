"""The paper's fine-tuning recipes for its six downstream tasks, as data: `--recipe esc50` and friends.

Each `Recipe` lists the fine-tuning script's flags (and config fields) for one task of Table 2 of the paper
(arXiv 2207.06405), each value with the place it comes from: the paper's hyper-parameter table (Table 3, Appendix B),
its text (section 4), or, where the paper is silent, the released code (facebookresearch/AudioMAE at bd60e29). Where
the paper and the release disagree the value is the paper's and `release` says what the release does instead (SPC-1
and VoxCeleb have no released recipe: `main_finetune_as.py` knows only AudioSet, ESC-50 and "speechcommands").

`apply_recipe` turns `--recipe NAME` in a command line (or `"recipe": NAME` in the one JSON file of arguments it may
be) into the recipe's flags, put before the user's own so that any flag the user gives explicitly wins
(`--config_overrides` entries are merged, the user's last). docs/reproduce.md
holds `render_recipe_tables()`, regenerated with `python -m audiomae_hf.recipes`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .training_arguments import split_overrides

RECIPE_FLAG = "--recipe"
CONFIG_OVERRIDES_FLAG = "--config_overrides"

PAPER_TABLE = "paper Table 3"
MASKING_SOURCE = "paper §4.2 (0.3 in time and in frequency while fine-tuning) and §4.4, Fig. 4b"
LAYER_DECAY_SOURCE = "release main_finetune_as.py:75, main_finetune_esc.py:72 (not in the paper)"


@dataclass(frozen=True)
class Setting:
    """One value of a recipe, where it comes from, and what the release does where it disagrees."""

    value: bool | int | float
    source: str
    release: str | None = None

    def as_text(self) -> str:
        if isinstance(self.value, bool):
            return str(self.value).lower()
        return repr(self.value) if isinstance(self.value, float) else str(self.value)


@dataclass(frozen=True)
class Recipe:
    """The fine-tuning recipe of one task: script flags, config fields, and the result the paper reports."""

    name: str
    task: str
    paper_result: str
    metric: str
    paper_gpus: int
    flags: dict[str, Setting]
    config: dict[str, Setting] = field(default_factory=dict)


def _per_device_batch(total: int, gpus: int, release: str | None = None) -> Setting:
    return Setting(total // gpus, f"{PAPER_TABLE}: batch {total} on {gpus} GPUs", release)


def _warmup(warmup_epochs: int, epochs: int, release: str | None = None) -> Setting:
    return Setting(
        round(warmup_epochs / epochs, 4), f"{PAPER_TABLE}: {warmup_epochs} warm-up epochs of {epochs}", release
    )


def _masking(release: str | None) -> dict[str, Setting]:
    return {
        "mask_time_prob": Setting(0.3, MASKING_SOURCE, release),
        "mask_frequency_prob": Setting(0.3, MASKING_SOURCE, release),
        "num_mel_bins": Setting(128, "paper §4.2 and App. B: 128 Kaldi mel bands"),
    }


def _common(weight_decay_release: str | None, roll_release: str | None = None) -> dict[str, Setting]:
    """The values every task shares in the paper's table."""
    return {
        "weight_decay": Setting(1e-4, f"{PAPER_TABLE} (one value for all columns)", weight_decay_release),
        "layer_decay": Setting(0.75, LAYER_DECAY_SOURCE),
        "drop_path_rate": Setting(0.1, f"{PAPER_TABLE}; release main_finetune_as.py:62, main_finetune_esc.py:59"),
        "roll_mag_aug": Setting(
            True, f"{PAPER_TABLE}: augmentation R (random start, cyclic roll in time)", roll_release
        ),
    }


_AS_RELEASE_MASKING = "0.2 / 0.2 (README.md:40, ft_as.sh:55-56)"
_AS_WEIGHT_DECAY = "5e-4 (main_finetune_as.py:68)"
_SPEECH_COMMANDS_MASKING = "0.0 / 0.0: main_finetune_as.py:180-181 defaults, no Speech Commands launch script"
_AUDIOSET_FBANK = {
    "fbank_mean": Setting(-4.2677393, f"{PAPER_TABLE} (-4.268); digits from release main_finetune_as.py:250"),
    "fbank_std": Setting(4.5689974, f"{PAPER_TABLE} (4.569); digits from release main_finetune_as.py:250"),
}
_NOT_MULTI_LABEL = Setting(False, f"{PAPER_TABLE}: multilabel False")
_NOISE = Setting(
    True, f"{PAPER_TABLE}: augmentation N; release dataset.py:301-303 (noise, then a shift of <= 10 frames)"
)
_NO_NOISE = Setting(False, f"{PAPER_TABLE}: no augmentation N")

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="as2m",
            task="AudioSet-2M tagging (527 classes, multi-label), 19K eval set",
            paper_result="47.3 ± 0.11 mAP",
            metric="mAP",
            paper_gpus=64,
            flags={
                # 100 "epochs" of 200,000 class-balanced draws each: counted in steps, as the sampler draws per epoch
                # as many clips as the corpus holds.
                "max_steps": Setting(
                    math.ceil(100 * 200_000 / 512),
                    "paper §4.3 and Table 3: 100 epochs of 200,000 clips at batch 512",
                    "100 epochs of 200,000 (submit_ft_mask_bal.sh:55, main_finetune_as.py:184) at batch 256",
                ),
                "per_device_train_batch_size": _per_device_batch(
                    512,
                    64,
                    "4 per GPU on 8 nodes of 8 GPUs, 256 (submit_ft_mask_bal.sh:40,50, submitit_finetune.py:23)",
                ),
                "base_learning_rate": Setting(
                    2e-4, PAPER_TABLE, "2e-4 in the README command (README.md:40); script default 1e-3"
                ),
                "warmup_steps": _warmup(20, 100, "10 warm-up epochs (submit_ft_mask_bal.sh:56)"),
                "mixup": Setting(0.5, PAPER_TABLE),
                "noise": _NO_NOISE,
                "class_balanced_sampling": Setting(
                    True,
                    f"{PAPER_TABLE} and §4.3: weighted sampling",
                    "without replacement (submit_ft_mask_bal.sh:58); here with replacement",
                ),
                "freqm": Setting(48, f"{PAPER_TABLE}: SpecAug 192/48 (time/frequency)"),
                "timem": Setting(192, f"{PAPER_TABLE}: SpecAug 192/48 (time/frequency)"),
                "target_length": Setting(1024, "paper App. B: 10 s, 1024 x 128 input"),
                "multi_label": Setting(True, f"{PAPER_TABLE}: multilabel True, BCE"),
                **_AUDIOSET_FBANK,
                **_common(_AS_WEIGHT_DECAY),
            },
            config=_masking(_AS_RELEASE_MASKING),
        ),
        Recipe(
            name="as20k",
            task="AudioSet-20K tagging (balanced train set, 527 classes, multi-label), 19K eval set",
            paper_result="37.0 ± 0.11 mAP",
            metric="mAP",
            paper_gpus=4,
            flags={
                "num_train_epochs": Setting(60, PAPER_TABLE),
                "per_device_train_batch_size": _per_device_batch(32, 4),
                "base_learning_rate": Setting(1e-3, PAPER_TABLE),
                "warmup_steps": _warmup(4, 60),
                "mixup": Setting(0.5, PAPER_TABLE),
                "class_balanced_sampling": Setting(False, f"{PAPER_TABLE} and §4.3: no weighted sampling"),
                "noise": _NO_NOISE,
                "freqm": Setting(48, f"{PAPER_TABLE}: SpecAug 192/48 (time/frequency)"),
                "timem": Setting(192, f"{PAPER_TABLE}: SpecAug 192/48 (time/frequency)"),
                "target_length": Setting(1024, "paper App. B: 10 s, 1024 x 128 input"),
                "multi_label": Setting(True, f"{PAPER_TABLE}: multilabel True, BCE"),
                **_AUDIOSET_FBANK,
                **_common(_AS_WEIGHT_DECAY),
            },
            config=_masking(_AS_RELEASE_MASKING),
        ),
        Recipe(
            name="esc50",
            task="ESC-50 (50 classes), 5-fold cross-validation",
            paper_result="94.1 ± 0.10 % accuracy",
            metric="accuracy",
            paper_gpus=4,
            flags={
                "num_train_epochs": Setting(60, PAPER_TABLE, "50 (main_finetune_esc.py:48)"),
                "per_device_train_batch_size": _per_device_batch(
                    64, 4, "64 per GPU (main_finetune_esc.py:46), on a GPU count no launch script gives"
                ),
                "base_learning_rate": Setting(1e-3, PAPER_TABLE),
                "warmup_steps": _warmup(4, 60, "5 warm-up epochs of 50 (main_finetune_esc.py:78)"),
                "mixup": Setting(0.0, PAPER_TABLE),
                "class_balanced_sampling": Setting(False, PAPER_TABLE),
                "noise": _NO_NOISE,
                "freqm": Setting(
                    24,
                    f"{PAPER_TABLE}: SpecAug 96/24 (time/frequency)",
                    "96, swapped with timem (main_finetune_esc.py:162)",
                ),
                "timem": Setting(
                    96,
                    f"{PAPER_TABLE}: SpecAug 96/24 (time/frequency)",
                    "24, swapped with freqm (main_finetune_esc.py:163)",
                ),
                "target_length": Setting(512, "paper App. B: 5 s, 512 x 128 input; release main_finetune_esc.py:193"),
                "multi_label": Setting(False, f"{PAPER_TABLE}: multilabel False, CE"),
                "fbank_mean": Setting(-6.6268077, f"{PAPER_TABLE} (-6.627); digits from main_finetune_esc.py:192"),
                "fbank_std": Setting(5.358466, f"{PAPER_TABLE} (5.359); digits from main_finetune_esc.py:192"),
                **_common(
                    "0.05 (main_finetune_esc.py:65)",
                    "false: main_finetune_esc.py:217 builds its training set without roll_mag_aug",
                ),
            },
            config=_masking("none: main_finetune_esc.py has no fine-tuning masking"),
        ),
        Recipe(
            name="spc2",
            task="Speech Commands V2 (35 words), testing_list.txt",
            paper_result="98.3 ± 0.06 % accuracy",
            metric="accuracy",
            paper_gpus=4,
            flags={
                "num_train_epochs": Setting(60, PAPER_TABLE),
                "per_device_train_batch_size": _per_device_batch(256, 4),
                "base_learning_rate": Setting(1e-3, PAPER_TABLE),
                "warmup_steps": _warmup(4, 60),
                "mixup": Setting(0.5, f"{PAPER_TABLE} (with BCE, as mixed targets are trained here)"),
                "class_balanced_sampling": Setting(False, PAPER_TABLE),
                "noise": _NOISE,
                "freqm": Setting(48, f"{PAPER_TABLE}: SpecAug 48/48 (time/frequency)"),
                "timem": Setting(
                    48,
                    f"{PAPER_TABLE}: SpecAug 48/48 (time/frequency)",
                    "192, hard-coded for every dataset (main_finetune_as.py:257)",
                ),
                "target_length": Setting(128, "paper App. B: 1 s, 128 x 128 input; release main_finetune_as.py:252"),
                "multi_label": Setting(
                    False, _NOT_MULTI_LABEL.source, "multilabel True for speechcommands (main_finetune_as.py:253)"
                ),
                "fbank_mean": Setting(-6.845978, f"{PAPER_TABLE} (-6.846); digits from main_finetune_as.py:251"),
                "fbank_std": Setting(5.5654526, f"{PAPER_TABLE} (5.565); digits from main_finetune_as.py:251"),
                **_common(_AS_WEIGHT_DECAY),
            },
            config=_masking(_SPEECH_COMMANDS_MASKING),
        ),
        Recipe(
            name="spc1",
            task="Speech Commands V1 (10 words + silence + unknown), testing_list.txt",
            paper_result="96.9 ± 0.00 % accuracy",
            metric="accuracy",
            paper_gpus=4,
            flags={
                "num_train_epochs": Setting(10, PAPER_TABLE),
                "per_device_train_batch_size": _per_device_batch(256, 4),
                "base_learning_rate": Setting(1e-3, PAPER_TABLE),
                "warmup_steps": _warmup(1, 10),
                "mixup": Setting(0.5, f"{PAPER_TABLE} (with BCE, as mixed targets are trained here)"),
                # The paper balances SPC-1 by repeating clips (Table 3, note *): prepare_downstream_data does that.
                "class_balanced_sampling": Setting(False, f"{PAPER_TABLE}: False*, balanced by repetition instead"),
                "noise": _NOISE,
                "freqm": Setting(48, f"{PAPER_TABLE}: SpecAug 48/48 (time/frequency)"),
                "timem": Setting(48, f"{PAPER_TABLE}: SpecAug 48/48 (time/frequency)"),
                "target_length": Setting(128, "paper App. B: 1 s, 128 x 128 input"),
                "multi_label": _NOT_MULTI_LABEL,
                "fbank_mean": Setting(-6.702, PAPER_TABLE),
                "fbank_std": Setting(5.448, PAPER_TABLE),
                **_common(None),
            },
            config=_masking(None),
        ),
        Recipe(
            name="sid",
            task="VoxCeleb-1 speaker identification (1,251 speakers), iden_split.txt test set",
            paper_result="94.8 ± 0.11 % accuracy",
            metric="accuracy",
            paper_gpus=4,
            flags={
                "num_train_epochs": Setting(60, PAPER_TABLE),
                "per_device_train_batch_size": _per_device_batch(64, 4),
                "base_learning_rate": Setting(1e-3, PAPER_TABLE),
                "warmup_steps": _warmup(4, 60),
                "mixup": Setting(0.0, PAPER_TABLE),
                "class_balanced_sampling": Setting(False, PAPER_TABLE),
                "noise": _NOISE,
                "freqm": Setting(48, f"{PAPER_TABLE}: SpecAug 192/48 (time/frequency)"),
                "timem": Setting(192, f"{PAPER_TABLE}: SpecAug 192/48 (time/frequency)"),
                "target_length": Setting(1024, "paper App. B: 10 s, 1024 x 128 input"),
                "multi_label": Setting(False, f"{PAPER_TABLE}: multilabel False, CE"),
                "fbank_mean": Setting(-6.370, PAPER_TABLE),
                "fbank_std": Setting(3.074, PAPER_TABLE),
                **_common(None),
            },
            config=_masking(None),
        ),
    )
}


def get_recipe(name: str) -> Recipe:
    """The recipe called `name`; a `ValueError` naming the known ones otherwise."""
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}; the recipes are {', '.join(RECIPES)}.")
    return RECIPES[name]


def _flag_name(argument: str) -> str | None:
    """`--name` or `--name=value` -> "name"; `--no_name` (a negated boolean) -> "name"; None for a value. The
    recipe's flags come first, so a later explicit one would win in any case: leaving them out keeps argv readable."""
    if not argument.startswith("--"):
        return None
    name = argument[2:].split("=", 1)[0].replace("-", "_")  # HfArgumentParser accepts --target-length too
    return name[3:] if name.startswith("no_") else name


def _values_of(argv: list[str], flag: str) -> list[str]:
    """Every value given to `flag` in `argv` (as `--flag value` or `--flag=value`)."""
    values = []
    for index, argument in enumerate(argv):
        if argument == flag and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif argument.startswith(flag + "="):
            values.append(argument.split("=", 1)[1])
    return values


def _json_as_argv(path: str) -> list[str] | None:
    """The arguments of a JSON file as command-line flags if it names a recipe; None if it does not."""
    arguments = json.loads(Path(path).read_text())
    if not isinstance(arguments, dict) or RECIPE_FLAG[2:] not in arguments:
        return None
    argv = []
    for name, value in arguments.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        argv += [f"--{name}"] + [
            str(item).lower() if isinstance(item, bool) else json.dumps(item) if isinstance(item, dict) else str(item)
            for item in values
        ]
    return argv


def apply_recipe(argv: list[str]) -> list[str]:
    """
    `argv` with the recipe it names (`--recipe NAME`) spelt out as flags, before the user's own. A flag `argv` gives
    explicitly keeps its value; `--config_overrides` holds the recipe's fields first and the user's after them, so the
    user's win field by field. A single JSON file of arguments that names a recipe is read as those flags. Without a
    recipe, `argv` comes back unchanged.
    """
    if len(argv) == 1 and argv[0].endswith(".json"):
        argv = _json_as_argv(argv[0]) or argv
    names = _values_of(argv, RECIPE_FLAG)
    if not names:
        return list(argv)
    if len(set(names)) > 1:
        raise ValueError(f"{RECIPE_FLAG} is given more than once, with different recipes: {names}.")
    recipe = get_recipe(names[0])
    explicit = {_flag_name(argument) for argument in argv} - {None}
    preset: list[str] = []
    for flag, setting in recipe.flags.items():
        if flag not in explicit:
            preset += [f"--{flag}", setting.as_text()]
    if recipe.config and not _values_of(argv, CONFIG_OVERRIDES_FLAG):  # else merged below, where the user's stands
        preset += [CONFIG_OVERRIDES_FLAG, _merged_overrides(recipe, "")]
    merged = []
    for index, argument in enumerate(argv):
        if index > 0 and argv[index - 1] == CONFIG_OVERRIDES_FLAG:
            argument = _merged_overrides(recipe, argument)
        elif argument.startswith(CONFIG_OVERRIDES_FLAG + "="):
            argument = f"{CONFIG_OVERRIDES_FLAG}={_merged_overrides(recipe, argument.split('=', 1)[1])}"
        merged.append(argument)
    return preset + merged


def _merged_overrides(recipe: Recipe, user_overrides: str) -> str:
    entries = [f"{name}={setting.as_text()}" for name, setting in recipe.config.items()]
    return ",".join(entries + split_overrides(user_overrides))


def render_recipe_tables() -> str:
    """The Markdown tables of docs/reproduce.md: every recipe value with its source and the release's deviation."""
    lines = ["| recipe | task | paper result (Table 2) | metric | paper's GPUs |", "|---|---|---|---|---|"]
    for recipe in RECIPES.values():
        lines.append(
            f"| `{recipe.name}` | {recipe.task} | {recipe.paper_result} | {recipe.metric} | {recipe.paper_gpus} |"
        )
    for recipe in RECIPES.values():
        lines += [
            "",
            f"#### `--recipe {recipe.name}`",
            "",
            "| setting | value | source | the release instead |",
            "|---|---|---|---|",
        ]
        for flag, setting in recipe.flags.items():
            lines.append(f"| `--{flag}` | {setting.as_text()} | {setting.source} | {setting.release or ''} |")
        for name, setting in recipe.config.items():
            lines.append(f"| config `{name}` | {setting.as_text()} | {setting.source} | {setting.release or ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_recipe_tables(), end="")

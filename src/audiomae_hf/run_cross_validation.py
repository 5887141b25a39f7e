"""ESC-50 five-fold cross-validation in one command: fine-tune on four folds, evaluate on the fifth, for each fold.

The clips are first resampled once to 16 kHz into `output_dir/esc50_16k/` (as the paper pre-processes every corpus).
Each fold then runs `run_audio_classification.main` with the `esc50` recipe (unless another `--recipe` is given) on
manifests written from the corpus's `meta/esc50.csv`, into `output_dir/fold_<k>/`. The per-fold and mean accuracy
(the number the paper reports, Table 2: 94.1) are printed and written to `output_dir/cross_validation_results.json`.
Every flag the driver does not know goes to the fine-tuning script:

    python scripts/run_cross_validation.py --esc50_dir ESC-50-master --output_dir esc50_cv \\
        --model_name_or_path audiomae-vit-base-as2m-pretrained --bf16 true
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from .downstream_data import ESC50_FOLDS, esc50_at_16k, esc50_fold_manifests
from .recipes import RECIPE_FLAG
from .run_audio_classification import main as run_audio_classification

RESULTS_FILE = "cross_validation_results.json"


def main(argv: list[str] | None = None) -> dict:
    """Run the cross-validation the command line `argv` describes; return the per-fold and mean accuracy."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--esc50_dir", required=True, help="Where the ESC-50 archive unpacks (audio/, meta/esc50.csv)."
    )
    parser.add_argument("--output_dir", required=True, help="One fine-tuned model per fold, and the results.")
    parser.add_argument(
        "--folds", type=int, nargs="+", default=list(ESC50_FOLDS), help="Folds to evaluate (default: all five)."
    )
    args, fine_tuning_argv = parser.parse_known_args(argv)
    if not any(argument.split("=")[0] == RECIPE_FLAG for argument in fine_tuning_argv):
        fine_tuning_argv = [RECIPE_FLAG, "esc50", *fine_tuning_argv]
    output_dir = Path(args.output_dir)
    corpus = esc50_at_16k(args.esc50_dir, output_dir / "esc50_16k")

    accuracies = {}
    for fold in args.folds:
        fold_dir = output_dir / f"fold_{fold}"
        train, evaluation = esc50_fold_manifests(corpus, fold_dir / "manifests", eval_fold=fold)
        metrics = run_audio_classification(
            ["--train_file", str(train), "--eval_file", str(evaluation), "--output_dir", str(fold_dir)]
            + ["--do_train", "true", "--do_eval", "true", *fine_tuning_argv]
        )
        accuracies[fold] = metrics["eval_accuracy"]

    values = list(accuracies.values())
    results = {
        "per_fold_accuracy": accuracies,
        "mean_accuracy": statistics.fmean(values),
        "std_accuracy": statistics.pstdev(values),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
    for fold, accuracy in accuracies.items():
        print(f"fold {fold}: {100 * accuracy:.2f}%")
    mean, std = 100 * results["mean_accuracy"], 100 * results["std_accuracy"]
    print(f"mean over {len(values)} folds: {mean:.2f}% (std {std:.2f})")
    return results


if __name__ == "__main__":
    main()

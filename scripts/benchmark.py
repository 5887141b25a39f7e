"""Side-by-side benchmarks of audiomae_hf, measured in one run and printed as one table (`make bench`).

Each benchmark is a function `rows(threads: int) -> list[dict]`; add yours to `BENCHMARKS`. A row has the keys
`task`, `implementation`, `seconds` (median wall time), `ratio` (speed relative to the task's baseline row),
`peak_mib`, and optionally `best_seconds` (fastest repeat: the time on a quiet machine, when others share it) and
`notes` (say there what the memory figure measures). Run a subset with `--only NAME`
(repeatable). Everything runs on the CPU with `--threads` (default 2) torch threads.

For feature extraction, each implementation runs in its own fresh subprocess (`--measure NAME`, see `MEASURED`), so
that no library's threads left over from another implementation compete with it (numpy's OpenBLAS threads keep
spinning after a call and slowed the torch threads of the next call in the same process twentyfold). In that
subprocess, once the imports and the inputs are in place, the kernel's resident-set high-water mark is reset
(`/proc/self/clear_refs`) and the first call runs: peak memory is how far the high-water mark rose above the resident
set before the call. It counts every page the call touched, whatever allocated it (torch, numpy, the FFT libraries,
one-time initialisation included), and nothing allocated before. Then the entry's number of repeats are timed.

The models run the same way: ViT-B classification of 10 s inputs against transformers' AST of the same width and
depth, and one ViT-B pretraining step (forward and backward) with eager against SDPA attention.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def measure_in_subprocess(name: str, threads: int) -> dict:
    """Median and best wall time and first-call peak memory of `MEASURED[name]`, in a fresh subprocess."""
    command = [sys.executable, __file__, "--measure", name, "--threads", str(threads)]
    # numpy's BLAS would otherwise start a thread per core whatever torch is told
    limits = {variable: str(threads) for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    result = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, **limits})
    return json.loads(result.stdout.strip().splitlines()[-1])


def _resident_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _measure(name: str) -> None:
    make_run, repeats = MEASURED[name]
    run = make_run()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
    resident_before = _resident_kib("VmRSS")
    run()
    peak_mib = (_resident_kib("VmHWM") - resident_before) / 1024
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    print(json.dumps({"seconds": statistics.median(timings), "best_seconds": min(timings), "peak_mib": peak_mib}))


# Feature extraction: a batch of 32 ten-second clips, ours against transformers' ASTFeatureExtractor, whose numpy
# path (used when torchaudio is missing, as here) computes the same Kaldi-style fbank.
FEATURE_EXTRACTION_BATCH = (32, 160_000)


def _feature_extraction_batch() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return list((0.1 * rng.standard_normal(FEATURE_EXTRACTION_BATCH)).astype(np.float32))


def _audiomae_extractor_run() -> Callable[[], object]:
    from audiomae_hf import AudioMAEFeatureExtractor

    extractor = AudioMAEFeatureExtractor()
    clips = _feature_extraction_batch()
    return lambda: extractor(clips, sampling_rate=16000, return_tensors="pt")


def _ast_extractor_run() -> Callable[[], object]:
    from transformers import ASTFeatureExtractor

    extractor = ASTFeatureExtractor(num_mel_bins=128, max_length=1024)
    clips = _feature_extraction_batch()
    return lambda: extractor(clips, sampling_rate=16000, return_tensors="pt")


def comparison_rows(task: str, variants: list[tuple[str, str, str]], threads: int) -> list[dict]:
    """Rows for (implementation, `MEASURED` name, note) variants; the first is the baseline of the speed ratio."""
    rows = []
    for implementation, name, note in variants:
        measured = measure_in_subprocess(name, threads)
        baseline = rows[0]["seconds"] if rows else measured["seconds"]
        ratio = baseline / measured["seconds"]
        rows.append({"task": task, "implementation": implementation, **measured, "ratio": ratio, "notes": note})
    return rows


def feature_extraction_rows(threads: int) -> list[dict]:
    note = "peak RSS increase during the first call"
    variants = [
        ("ASTFeatureExtractor (transformers, numpy path)", "ast_feature_extractor", f"loop over clips; {note}"),
        ("AudioMAEFeatureExtractor", "audiomae_feature_extractor", f"batched torch; {note}"),
    ]
    return comparison_rows("feature extraction, 32 x 10 s clips", variants, threads)


# Models, at ViT-B size (768 wide, 12 layers) on 10 s inputs (1024 frames x 128 mel bins).
CLASSIFIER_BATCH, PRETRAINING_BATCH = 4, 4


def _classifier_run(model) -> Callable[[], object]:
    inputs = torch.randn(CLASSIFIER_BATCH, 1024, 128)

    def classify():
        with torch.inference_mode():
            return model(inputs).logits

    return classify


def _audiomae_classifier_run() -> Callable[[], object]:
    from audiomae_hf import AudioMAEConfig, AudioMAEForAudioClassification

    return _classifier_run(AudioMAEForAudioClassification(AudioMAEConfig(num_labels=527)).eval())


def _ast_classifier_run() -> Callable[[], object]:
    from transformers import ASTConfig, ASTForAudioClassification

    # Overlapping 16x16 patches with stride 10 give AST 1212 patch tokens for 1024 frames; Audio-MAE has 512.
    return _classifier_run(ASTForAudioClassification(ASTConfig(num_labels=527)).eval())


def _pretraining_step_run(attention: str) -> Callable[[], Callable[[], object]]:
    def make_run():
        from audiomae_hf import AudioMAEConfig, AudioMAEForPreTraining

        model = AudioMAEForPreTraining(AudioMAEConfig(_attn_implementation=attention)).train()
        inputs = torch.randn(PRETRAINING_BATCH, 1024, 128)

        def step():
            model.zero_grad(set_to_none=True)
            model(inputs).loss.backward()

        return step

    return make_run


def classifier_inference_rows(threads: int) -> list[dict]:
    note = "peak RSS increase during the first forward"
    variants = [
        ("ASTForAudioClassification (1212 tokens)", "ast_classifier", note),
        ("AudioMAEForAudioClassification (512 tokens)", "audiomae_classifier", note),
    ]
    return comparison_rows(f"classify {CLASSIFIER_BATCH} x 10 s, ViT-B, sdpa", variants, threads)


def pretraining_step_rows(threads: int) -> list[dict]:
    note = "peak RSS increase during the first forward + backward"
    variants = [
        ("AudioMAEForPreTraining, eager attention", "pretraining_step_eager", note),
        ("AudioMAEForPreTraining, sdpa attention", "pretraining_step_sdpa", note),
    ]
    return comparison_rows(f"pretraining step, batch {PRETRAINING_BATCH}, ViT-B", variants, threads)


# name: (factory of the measured call, timed repeats after the first call)
MEASURED = {
    "audiomae_feature_extractor": (_audiomae_extractor_run, 7),
    "ast_feature_extractor": (_ast_extractor_run, 7),
    "audiomae_classifier": (_audiomae_classifier_run, 3),
    "ast_classifier": (_ast_classifier_run, 3),
    "pretraining_step_eager": (_pretraining_step_run("eager"), 2),
    "pretraining_step_sdpa": (_pretraining_step_run("sdpa"), 2),
}

BENCHMARKS = [feature_extraction_rows, classifier_inference_rows, pretraining_step_rows]


def format_table(rows: list[dict]) -> str:
    header = ["task", "implementation", "median time", "best time", "speed ratio", "peak memory", "notes"]
    lines = [
        [
            row["task"],
            row["implementation"],
            f"{row['seconds'] * 1000:.1f} ms",
            f"{row['best_seconds'] * 1000:.1f} ms" if "best_seconds" in row else "",
            f"{row['ratio']:.1f}x",
            f"{row['peak_mib']:.0f} MiB",
            row.get("notes", ""),
        ]
        for row in rows
    ]
    widths = [max(len(cells[column]) for cells in [header, *lines]) for column in range(len(header))]
    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    rendered = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"
        for cells in [header, *lines]
    ]
    return "\n".join([rendered[0], separator, *rendered[1:]])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [benchmark.__name__ for benchmark in BENCHMARKS]
    parser.add_argument("--only", action="append", choices=names, help="run only this benchmark (repeatable)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--measure", choices=sorted(MEASURED), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    if args.measure:
        _measure(args.measure)
        return
    rows = []
    for benchmark in BENCHMARKS:
        if args.only is None or benchmark.__name__ in args.only:
            rows.extend(benchmark(args.threads))
    # Other processes on the machine slow multi-threaded runs most: the load average tells how quiet it was.
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average {load}")
    print(format_table(rows))


if __name__ == "__main__":
    main()

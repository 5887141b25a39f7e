"""Data-parallel fine-tuning (`torchrun`, 2 CPU processes over gloo) ends where one process ends at the same global batch.

The runs are made comparable by switching off every random part of the recipe (mixup, SpecAugment, roll and gain,
patch masking, drop path): each process seeds its RNG with the same seed, so with randomness on the two processes
would draw the same noise for their two half-batches, unlike the single process. The sampler (seeded by the Trainer
through accelerate) yields the same order in both runs; process 0 takes the first half of each global batch of 8,
process 1 the second, and DDP averages their gradients: the mean of the two half-batch mean losses is the full-batch
mean loss, so the updates agree up to float rounding. Evaluation is split into equal batches (3 clips per process,
6 in one process) so that the mean of the per-batch losses is the same mean. Without GPUs `torchrun` needs
`--use_cpu true`, or the Trainer would train each process alone (the scripts refuse to).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile
import torch
from safetensors.torch import load_file

from audiomae_hf.run_audio_classification import main as run_audio_classification

SCRIPT = Path(__file__).parents[1] / "scripts" / "run_audio_classification.py"
TINY_DETERMINISTIC_MODEL = (
    "hidden_size=32,num_hidden_layers=2,num_attention_heads=2,num_mel_bins=32,target_length=96,decoder_attention=global,"
    "mask_time_prob=0,mask_frequency_prob=0"
)


def write_corpus(root: Path) -> None:
    for split, clips in (("train", 8), ("eval", 3)):  # 16 training clips, 2 global batches of 8; 6 eval clips
        for label, frequency in (("low", 300.0), ("high", 3000.0)):
            for index in range(clips):
                time = np.arange(16_000) / 16_000
                tone = 0.3 * np.sin(2 * np.pi * frequency * (1 + 0.03 * index) * time)
                path = root / split / label / f"{index}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                soundfile.write(path, tone.astype(np.float32), 16_000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_process_training_matches_one_process_at_the_same_global_batch(tmp_path):
    write_corpus(tmp_path)
    arguments = ["--train_dir", str(tmp_path / "train"), "--eval_dir", str(tmp_path / "eval")]
    arguments += ["--do_train", "--do_eval", "--max_steps", "4", "--config_overrides", TINY_DETERMINISTIC_MODEL]
    arguments += ["--mixup", "0", "--freqm", "0", "--timem", "0", "--roll_mag_aug", "false", "--drop_path_rate", "0"]
    # Logging every step makes the Trainer average the training loss over the processes (else it reports rank 0's).
    arguments += ["--logging_steps", "1", "--save_strategy", "no", "--disable_tqdm", "true", "--report_to", "none"]

    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}"]
    distributed_arguments = ["--output_dir", str(tmp_path / "ddp"), "--per_device_train_batch_size", "4"]
    distributed_arguments += ["--per_device_eval_batch_size", "3"]
    completed = subprocess.run(
        [*launch, str(SCRIPT), *arguments, *distributed_arguments, "--use_cpu", "true"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    # Every parameter takes part in every step (test_modeling.py), so DDP need not search for unused ones; when told
    # to, it warned on every run that the search "can adversely affect performance".
    assert "find_unused_parameters=True" not in completed.stderr
    single = run_audio_classification(
        [*arguments, "--output_dir", str(tmp_path / "single")]
        + ["--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "6"]
    )

    distributed = json.loads((tmp_path / "ddp" / "all_results.json").read_text())
    assert distributed["epoch"] == single["epoch"] == 2.0
    for metric in ("train_loss", "eval_loss", "eval_accuracy"):
        assert abs(distributed[metric] - single[metric]) < 1e-5, metric
    weights_single = load_file(tmp_path / "single" / "model.safetensors")
    weights_distributed = load_file(tmp_path / "ddp" / "model.safetensors")
    for name, weight in weights_single.items():
        torch.testing.assert_close(weights_distributed[name], weight, rtol=0, atol=1e-5, msg=name)


# Streaming: each process decodes its own part of the training split

# run_audio_classification.py, logging each clip it decodes as "<pid> <label>/<file>" to one file per process.
TRACED_SCRIPT = """
import os, sys
from audiomae_hf import batching
from audiomae_hf.run_audio_classification import main

load_waveform = batching.load_waveform

def traced_load_waveform(audio, *args, **kwargs):
    path = audio["path"] if isinstance(audio, dict) else str(audio)
    with open(os.path.join(sys.argv[1], "decoded." + os.environ["RANK"]), "a") as log:
        log.write(f"{os.getpid()} {os.path.basename(os.path.dirname(path))}/{os.path.basename(path)}\\n")
    return load_waveform(audio, *args, **kwargs)

batching.load_waveform = traced_load_waveform
main(sys.argv[2:])
"""


def test_two_streaming_processes_each_decode_their_own_half_of_the_training_split_with_all_their_workers(tmp_path):
    """
    Measured before: the main process decoded every training clip for both (accelerate sends an iterable dataset's
    batches from the main process), the other process decoded clips it then threw away, and each used one of its two
    DataLoader workers (a local split streamed as one shard). 70 clips do not split into equal shards for 2 processes
    x 2 workers, so 2 are repeated (72 shards of one clip); 8 steps of 3 accumulated batches of 4 run into a third
    epoch, where processes whose epochs differed in length waited for each other for ever.
    """
    for label, frequency in (("low", 300.0), ("high", 3000.0)):
        for index in range(35):
            tone = 0.3 * np.sin(2 * np.pi * frequency * (1 + 0.01 * index) * np.arange(8_000) / 16_000)
            path = tmp_path / "train" / label / f"{index}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, tone.astype(np.float32), 16_000)
    script = tmp_path / "traced_run_audio_classification.py"
    script.write_text(TRACED_SCRIPT)
    arguments = ["--train_dir", str(tmp_path / "train"), "--do_train", "--streaming", "--max_steps", "8"]
    arguments += ["--gradient_accumulation_steps", "3", "--per_device_train_batch_size", "4"]
    arguments += ["--dataloader_num_workers", "2", "--config_overrides", TINY_DETERMINISTIC_MODEL]
    arguments += ["--output_dir", str(tmp_path / "out"), "--save_strategy", "no", "--report_to", "none"]
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}"]
    completed = subprocess.run(
        [*launch, str(script), str(tmp_path), *arguments, "--use_cpu", "true"],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    first_epoch = {}
    for rank in (0, 1):
        decoded = [line.split() for line in (tmp_path / f"decoded.{rank}").read_text().splitlines()]
        assert len(decoded) >= 2 * 36  # into a second epoch
        first_epoch[rank] = [clip for _, clip in decoded[:36]]  # 72 shards of one clip, 36 per process
        assert len({pid for pid, _ in decoded[:36]}) == 2, "both DataLoader workers decode"
    both = first_epoch[0] + first_epoch[1]
    assert set(both) == {f"{label}/{index}.wav" for label in ("low", "high") for index in range(35)}
    assert len(both) - len(set(both)) == 2  # the repeated ones

"""Side-by-side benchmarks of audiomae_hf, measured in one run and printed as one table (`make bench`).

Each benchmark is a function `rows(threads: int) -> list[dict]`; add yours to `BENCHMARKS`. A row has the keys
`task`, `implementation`, `seconds` (median wall time), `ratio` (speed relative to the task's baseline row), and
optionally `best_seconds` (fastest repeat: the time on a quiet machine, when others share it), `clips_per_second`,
`peak_mib` and `notes` (say there what the memory figure measures). Run a subset with `--only NAME` (repeatable).
These run on the CPU with `--threads` (default 2) torch threads; the decoding and input-pipeline rows use one thread
per process, as a DataLoader worker does.

Each multi-threaded implementation runs in its own fresh subprocess (`--measure NAME`, see `MEASURED`), so that no
library's threads left over from another implementation compete with it (numpy's OpenBLAS threads keep spinning after
a call and slowed the torch threads of the next call in the same process twentyfold). The one-core decoders share one
subprocess and are timed in turn, a round at a time, so that the machine's drifting speed reaches them all alike. In
the subprocess, once the imports and the inputs are in place, the kernel's resident-set high-water mark is reset
(`/proc/self/clear_refs`) and the first call runs: peak memory is how far the high-water mark rose above the resident
set before the call. It counts every page the call touched, whatever allocated it (torch, numpy, the FFT libraries,
one-time initialisation included), and nothing allocated before. Then the entry's number of repeats are timed.

The CPU rows: feature extraction against transformers' ASTFeatureExtractor; decoding + resampling (+ fbank) of 10 s
clips against soundfile with scipy's `resample_poly` and with soxr, and soxr alone (the floor); the DataLoader input
pipeline with 0, 1 and 2 workers, map-style and streamed; ViT-B classification against transformers' AST of the same
width and depth; one ViT-B pretraining step (forward and backward) with eager against SDPA attention.

`--device cuda` instead measures the model on the device, in this process: the pretraining step with its model FLOP
utilisation (MFU) in float32, bf16 autocast and bf16 weights, SDPA, flex and flash attention, with and without
`torch.compile`; classifier inference; the fbank on the device; and a projection of the paper's 32 AudioSet-2M
epochs on 8 such devices. `--device cpu --tiny` runs that mode with a tiny model, as the tests do.
"""

import argparse
import copy
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import numpy as np
import torch


def measure_in_subprocess(name: str, threads: int) -> dict:
    """Median and best wall time and first-call peak memory of `MEASURED[name]`, in a fresh subprocess.

    A factory that returns one call gives one result; one that returns `{label: call}` gives `{label: result}`.
    """
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


def _first_call_peak_mib(run: Callable[[], object]) -> float:
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
    resident_before = _resident_kib("VmRSS")
    run()
    return (_resident_kib("VmHWM") - resident_before) / 1024


def _time_calls(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict]:
    """
    Each call's first-call peak memory, then `repeats` rounds that time every call once, in turn: on a shared machine
    whose speed drifts from minute to minute, the drift then reaches every call alike.
    """
    peaks = {label: _first_call_peak_mib(call) for label, call in calls.items()}
    timings = {label: [] for label in calls}
    for _ in range(repeats):
        for label, call in calls.items():
            start = time.perf_counter()
            call()
            timings[label].append(time.perf_counter() - start)
    return {
        label: {"seconds": statistics.median(times), "best_seconds": min(times), "peak_mib": peaks[label]}
        for label, times in timings.items()
    }


def _measure(name: str) -> None:
    make_run, repeats = MEASURED[name]
    run = make_run()
    results = _time_calls(run if isinstance(run, dict) else {"": run}, repeats)
    print(json.dumps(results if isinstance(run, dict) else results[""]))


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


# Decoding: what a DataLoader worker does per clip, on one core. Ten-second int16 clips (as most corpora store them)
# at the rates corpora come in, written once per subprocess, read back through three decode + resample paths; the
# "+ fbank" rows add the feature extractor over the batch of decoded clips, as the collator computes it.
DECODING_CLIPS, DECODING_SECONDS = 8, 10
DECODING_SETS = [(audio_format, rate) for audio_format in ("WAV", "FLAC") for rate in (16_000, 44_100, 48_000)]
DECODERS = {
    "resample_poly": "soundfile + scipy.signal.resample_poly",
    "soxr": "soundfile + soxr.resample",
    "audiomae_hf": "audiomae_hf load_waveform",
    # The floor under any decoder that resamples with soxr: each clip is read on the untimed first call, then only
    # resampled, so "load_waveform minus this" is what reading costs, on whatever CPU runs the benchmark.
    "soxr_only": "soxr.resample alone (clips read beforehand)",
}


def _write_clips(folder: Path, audio_format: str, rate: int, count: int = DECODING_CLIPS) -> list[Path]:
    import soundfile

    rng = np.random.default_rng(rate)
    time_axis = np.arange(DECODING_SECONDS * rate) / rate
    paths = []
    for index in range(count):
        # A tone over noise: FLAC can neither compress it away (pure tone) nor store it raw (pure noise).
        clip = 0.3 * np.sin(2 * np.pi * (220 + 110 * index) * time_axis) + 0.05 * rng.standard_normal(time_axis.size)
        path = folder / f"clip{index}.{audio_format.lower()}"
        soundfile.write(path, clip.astype(np.float32), rate, subtype="PCM_16")
        paths.append(path)
    return paths


def _write_decoding_sets(folder: Path, count: int = DECODING_CLIPS) -> dict[str, list[Path]]:
    """`{"WAV 16000": paths, ...}`: `count` clips of each of `DECODING_SETS`, a folder per set."""
    sets = {}
    for audio_format, rate in DECODING_SETS:
        subfolder = folder / f"{audio_format}_{rate}"
        subfolder.mkdir()
        sets[f"{audio_format} {rate}"] = _write_clips(subfolder, audio_format, rate, count)
    return sets


def _decoder(implementation: str) -> Callable[[Path], np.ndarray]:
    """path -> mono float32 waveform at 16 kHz, holding at most the feature extractor's 1024 frames of audio."""
    import soundfile

    from audiomae_hf.audio_decoding import load_waveform, seconds_for_frames

    max_seconds = seconds_for_frames(1024)
    if implementation == "audiomae_hf":
        return lambda path: load_waveform(path, 16_000, max_seconds=max_seconds)

    def read(path: Path) -> tuple[np.ndarray, int]:
        with soundfile.SoundFile(path) as sound_file:
            frames = math.ceil(max_seconds * sound_file.samplerate)
            samples = sound_file.read(frames=frames, dtype="float32", always_2d=True)
            return samples.mean(axis=1, dtype=np.float32), sound_file.samplerate

    if implementation in ("soxr", "soxr_only"):
        import soxr

        def resample(mono, rate):
            return soxr.resample(mono, rate, 16_000)
    else:
        from scipy.signal import resample_poly

        def resample(mono, rate):
            divisor = math.gcd(rate, 16_000)
            return resample_poly(mono, 16_000 // divisor, rate // divisor).astype(np.float32)

    if implementation == "soxr_only":
        read = cache(read)

    def decode(path: Path) -> np.ndarray:
        mono, rate = read(path)
        return mono if rate == 16_000 else resample(mono, rate)

    return decode


def _decoders(with_fbank: bool) -> list[str]:
    """The decoders compared in a stage: the soxr floor only where no fbank follows."""
    return [implementation for implementation in DECODERS if not (with_fbank and implementation == "soxr_only")]


def _decoding_runs(with_fbank: bool) -> Callable[[], dict[str, Callable[[], object]]]:
    """`{"<implementation> <format> <rate>": call}`: every decoder on every set, timed in turn (see `_time_calls`)."""

    def make_runs():
        import tempfile

        from audiomae_hf import AudioMAEFeatureExtractor

        extractor = AudioMAEFeatureExtractor()
        sets = _write_decoding_sets(Path(tempfile.mkdtemp(prefix="audiomae_bench_")))
        runs = {}
        for implementation in _decoders(with_fbank):
            decode = _decoder(implementation)
            for label, paths in sets.items():

                def run(decode=decode, paths=paths):
                    waveforms = [decode(path) for path in paths]
                    if with_fbank:
                        extractor(waveforms, sampling_rate=16_000, return_tensors="pt")

                runs[f"{implementation} {label}"] = run
        return runs

    return make_runs


def decoding_rows(threads: int) -> list[dict]:
    """Per clip, on one core whatever `--threads` says: a DataLoader worker has one."""
    rows = []
    for with_fbank in (False, True):
        stage = "decode + resample + fbank" if with_fbank else "decode + resample"
        measured = measure_in_subprocess("decoding_fbank" if with_fbank else "decoding", 1)
        for audio_format, rate in DECODING_SETS:
            label = f"{audio_format} {rate}"
            baseline = measured[f"resample_poly {label}"]["seconds"]
            for implementation in _decoders(with_fbank):
                result = measured[f"{implementation} {label}"]
                rows.append(
                    {
                        "task": f"{stage}, 10 s {audio_format} {rate / 1000:g} kHz, per clip, 1 core",
                        "implementation": DECODERS[implementation]
                        + (" + AudioMAEFeatureExtractor" if with_fbank else ""),
                        "seconds": result["seconds"] / DECODING_CLIPS,
                        "best_seconds": result["best_seconds"] / DECODING_CLIPS,
                        "clips_per_second": DECODING_CLIPS / result["seconds"],
                        "ratio": baseline / result["seconds"],
                        # No peak memory: the calls share a subprocess, and later ones reuse what earlier ones freed.
                        "notes": f"{DECODING_CLIPS} int16 mono clips; time per clip",
                    }
                )
    return rows


# The training input pipeline: clips/s that a torch DataLoader delivers from undecoded rows through the package's
# on-the-fly decoding transform and collator, as run_audio_classification.py builds them.
PIPELINE_BATCH, PIPELINE_BATCHES, PIPELINE_FORMAT = 16, 4, ("FLAC", 48_000)


def _one_torch_thread(worker_id: int) -> None:
    torch.set_num_threads(1)


# name: (DataLoader workers, how the rows reach the DataLoader): map-style, or streamed (`--streaming`) as the package
# cuts a local split into shards, or as one shard (`Dataset.to_iterable_dataset()`'s default, where datasets stops all
# workers but one).
INPUT_PIPELINES = {
    **{f"input_pipeline_{workers}_workers": (workers, "map-style") for workers in (0, 1, 2)},
    "input_pipeline_2_workers_streamed_one_shard": (2, "streamed as one shard"),
    "input_pipeline_2_workers_streamed": (2, "streamed"),
}


def _input_pipeline_run(num_workers: int, source: str = "map-style") -> Callable[[], Callable[[], object]]:
    def make_run():
        import tempfile

        import datasets

        from audiomae_hf import AudioMAEFeatureExtractor
        from audiomae_hf.audio_decoding import seconds_for_frames
        from audiomae_hf.batching import AudioCollator, DecodeAudio, decode_on_the_fly

        folder = Path(tempfile.mkdtemp(prefix="audiomae_bench_"))
        paths = _write_clips(folder, *PIPELINE_FORMAT)
        rows = [str(paths[index % len(paths)]) for index in range(PIPELINE_BATCH * PIPELINE_BATCHES)]
        dataset = datasets.Dataset.from_dict({"audio": rows})
        if source == "streamed":
            from audiomae_hf.data_sources import as_stream

            dataset = as_stream(dataset, shuffle_seed=None, shuffle_buffer_size=0, readers=max(1, num_workers))
        elif source == "streamed as one shard":
            dataset = dataset.to_iterable_dataset()
        feature_extractor = AudioMAEFeatureExtractor()
        decoder = DecodeAudio("audio", "train", max_seconds=seconds_for_frames(feature_extractor.target_length))
        loader = torch.utils.data.DataLoader(
            decode_on_the_fly(dataset, decoder),
            batch_size=PIPELINE_BATCH,
            num_workers=num_workers,
            collate_fn=AudioCollator(feature_extractor),
            worker_init_fn=_one_torch_thread,
            # Workers start once, in the untimed first epoch, as they do for a long training run.
            persistent_workers=num_workers > 0,
        )

        def epoch():
            for batch in loader:
                batch["input_values"].sum()  # the model would read it

        return epoch

    return make_run


def input_pipeline_rows(threads: int) -> list[dict]:
    audio_format, rate = PIPELINE_FORMAT
    clips = PIPELINE_BATCH * PIPELINE_BATCHES
    rows = []
    for name, (num_workers, source) in INPUT_PIPELINES.items():
        measured = measure_in_subprocess(name, 1)
        baseline = rows[0]["seconds"] if rows else measured["seconds"]
        rows.append(
            {
                "task": f"training input pipeline, {clips} x 10 s {audio_format} {rate / 1000:g} kHz, batch {PIPELINE_BATCH}",
                "implementation": f"DataLoader, {num_workers} workers, {source}, DecodeAudio + AudioCollator",
                **measured,
                "clips_per_second": clips / measured["seconds"],
                "ratio": baseline / measured["seconds"],
                "notes": "1 torch thread per process; workers persist; peak RSS of the main process, first epoch",
            }
        )
    return rows


# --device: the model on a training device, measured in this process (no BLAS threads to keep apart). On a GPU the
# figures that matter are clips/s and model FLOP utilisation (MFU): the model's FLOPs per second over the device's
# peak dense bf16 rate. `--device cpu --tiny` runs the same code with tiny sizes, so that the mode is tested without
# a GPU.

# Peak dense (no sparsity) bf16 tensor-core TFLOP/s from the vendors' data sheets, by a substring of
# `torch.cuda.get_device_name()`; the first match wins, so the longer names come first. Pass --peak-tflops otherwise.
PEAK_BF16_TFLOPS = [
    ("GH200", 989.0),
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10", 125.0),
]


def peak_bf16_tflops(device_name: str) -> tuple[str, float] | None:
    """(table entry, peak dense bf16 TFLOP/s) for a device name, or None if the table does not know it."""
    for entry, tflops in PEAK_BF16_TFLOPS:
        if entry in device_name:
            return entry, tflops
    return None


def pretraining_forward_flops(config, batch_size: int = 1) -> int:
    """
    Matrix-multiply FLOPs of one `AudioMAEForPreTraining` forward (2 per multiply-add; norms, softmax and the loss
    are left out, as is usual for MFU). With N patches of p x p, n = 1 + int(N (1 - mask_ratio)) encoder tokens
    (cls + visible), widths D (encoder) and d (decoder), MLP ratio r, L and l layers and a window of w patches:

        patch embedding (every patch, then the visible ones are kept)   2 N p^2 D
        encoder, per layer: qkv, proj, MLP + attention scores, values    2 n (4 + 2r) D^2 + 4 n^2 D
        decoder embedding                                                2 n D d
        local decoder, per layer: qkv, proj, MLP + windowed attention    2 N (4 + 2r) d^2 + 4 N w d
          (global decoder: N + 1 tokens attending to all N + 1)
        prediction head                                                  2 N d p^2
        continuous position bias MLP, per local layer and batch          2 w^2 (2 h + h H)   (h hidden, H heads)

    ViT-B on 1024 x 128 (N = 512, n = 103 at mask_ratio 0.8, D = 768, d = 512, L = 12, l = 16, w = 16): 70.1 GFLOP
    per clip. Forward + backward is taken as 3x the forward.
    """
    time_patches, frequency_patches = config.patch_grid
    patches = time_patches * frequency_patches
    patch_area = config.patch_size**2
    tokens = 1 + int(patches * (1 - config.mask_ratio))
    width, decoder_width, ratio = config.hidden_size, config.decoder_hidden_size, config.mlp_ratio
    flops = 2 * patches * patch_area * width
    flops += config.num_hidden_layers * (2 * tokens * (4 + 2 * ratio) * width**2 + 4 * tokens**2 * width)
    flops += 2 * tokens * width * decoder_width
    if config.decoder_attention == "local":
        window = config.decoder_window_size[0] * config.decoder_window_size[1]
        per_layer = 2 * patches * (4 + 2 * ratio) * decoder_width**2 + 4 * patches * window * decoder_width
    else:
        per_layer = 2 * (patches + 1) * (4 + 2 * ratio) * decoder_width**2 + 4 * (patches + 1) ** 2 * decoder_width
    flops += config.decoder_num_hidden_layers * per_layer
    flops += 2 * patches * decoder_width * patch_area
    flops *= batch_size
    if config.decoder_attention == "local":
        hidden, heads = config.decoder_position_bias_hidden_size, config.decoder_num_attention_heads
        flops += config.decoder_num_hidden_layers * 2 * window**2 * (2 * hidden + hidden * heads)
    return int(flops)


def counted_forward_flops(config, batch_size: int) -> int:
    """The same forward's FLOPs as `torch.utils.flop_counter` counts them, on meta tensors (no compute)."""
    from torch.utils.flop_counter import FlopCounterMode

    from audiomae_hf import AudioMAEForPreTraining

    # Eager attention: the counter has no formula for every fused SDPA kernel.
    config = copy.deepcopy(config)
    config._attn_implementation = "eager"
    model = AudioMAEForPreTraining(config).to("meta")
    inputs = torch.empty(batch_size, config.target_length, config.num_mel_bins, device="meta")
    with FlopCounterMode(display=False) as counter:
        model(inputs)
    return counter.get_total_flops()


@dataclass
class DeviceSizes:
    tiny: bool
    pretraining_batch: int
    classifier_batch: int
    fbank_batch: int
    fbank_seconds: int
    warmup: int
    repeats: int

    def config(self, **fields):
        """The benchmarked config: ViT-B, or the tests' tiny model (a 128-frame x 32-bin input, an 8 x 2 patch grid)."""
        if not self.tiny:
            from audiomae_hf import AudioMAEConfig

            return AudioMAEConfig(**fields)
        tests = str(Path(__file__).resolve().parents[1] / "tests")
        if tests not in sys.path:
            sys.path.append(tests)
        from tiny_configs import tiny_config

        return tiny_config(**fields)


FULL_SIZES = DeviceSizes(
    tiny=False,
    pretraining_batch=256,
    classifier_batch=256,
    fbank_batch=256,
    fbank_seconds=10,
    warmup=3,
    repeats=10,
)
TINY_SIZES = DeviceSizes(
    tiny=True,
    pretraining_batch=2,
    classifier_batch=2,
    fbank_batch=2,
    fbank_seconds=1,
    warmup=1,
    repeats=1,
)


@dataclass
class Variant:
    """How the model runs: attention kernel, precision ("float32", "bf16 autocast" or "bf16 weights"), compiled."""

    attention: str
    precision: str
    compiled: bool = False

    @property
    def name(self) -> str:
        return f"{self.precision}, {self.attention}" + (", torch.compile" if self.compiled else "")


def device_variants(device: torch.device, compile_models: bool) -> list[Variant]:
    from transformers.utils import is_flash_attn_2_available

    variants = [Variant("sdpa", "float32"), Variant("sdpa", "bf16 autocast"), Variant("sdpa", "bf16 weights")]
    if device.type == "cuda":
        # flex_attention compiles its kernel itself; too slow to build for a tiny CPU run.
        variants.append(Variant("flex_attention", "bf16 autocast"))
        if is_flash_attn_2_available():
            variants.append(Variant("flash_attention_2", "bf16 weights"))
    if compile_models:
        variants += [Variant("sdpa", "bf16 autocast", compiled=True), Variant("sdpa", "bf16 weights", compiled=True)]
    return variants


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_on_device(step: Callable[[], object], device: torch.device, sizes: DeviceSizes) -> dict:
    """Median and best seconds per call after `sizes.warmup` calls; peak memory allocated on a CUDA device."""
    for _ in range(sizes.warmup):
        step()
    _synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timings = []
    for _ in range(sizes.repeats):
        start = time.perf_counter()
        step()
        _synchronize(device)
        timings.append(time.perf_counter() - start)
    measured = {"seconds": statistics.median(timings), "best_seconds": min(timings)}
    if device.type == "cuda":
        measured["peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return measured


def _release(device: torch.device, compiled: bool) -> None:
    gc.collect()
    if compiled:
        torch._dynamo.reset()  # drop the compiled graphs, which hold the model
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _model_for(model_class, sizes: DeviceSizes, variant: Variant, device: torch.device, **fields):
    config = sizes.config(**fields, _attn_implementation=variant.attention)
    model = model_class(config).to(device)
    if variant.precision == "bf16 weights":
        model = model.to(torch.bfloat16)
    return model


def _autocast(variant: Variant, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=variant.precision == "bf16 autocast")


def _pretraining_step(sizes: DeviceSizes, variant: Variant, device: torch.device) -> Callable[[], object]:
    from audiomae_hf import AudioMAEForPreTraining

    model = _model_for(AudioMAEForPreTraining, sizes, variant, device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    forward = torch.compile(model) if variant.compiled else model
    config = model.config
    inputs = torch.randn(sizes.pretraining_batch, config.target_length, config.num_mel_bins, device=device)

    def step():
        with _autocast(variant, device):
            loss = forward(inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return step


def _classification(sizes: DeviceSizes, variant: Variant, device: torch.device) -> Callable[[], object]:
    from audiomae_hf import AudioMAEForAudioClassification

    model = _model_for(AudioMAEForAudioClassification, sizes, variant, device, num_labels=527).eval()
    forward = torch.compile(model) if variant.compiled else model
    config = model.config
    inputs = torch.randn(sizes.classifier_batch, config.target_length, config.num_mel_bins, device=device)

    def classify():
        with torch.inference_mode(), _autocast(variant, device):
            return forward(inputs).logits

    return classify


def _fbank(batch: int, seconds: int, device: torch.device, on_device: bool) -> Callable[[], object]:
    from audiomae_hf import AudioMAEFeatureExtractor

    extractor = AudioMAEFeatureExtractor()
    clips = torch.randn(batch, 16_000 * seconds) * 0.1
    if on_device:
        waveforms = clips.to(device)
        return lambda: extractor(waveforms, sampling_rate=16_000, return_tensors="pt")
    numpy_clips = list(clips.numpy())
    return lambda: extractor(numpy_clips, sampling_rate=16_000, return_tensors="pt", device=device)


def _device_row(
    task: str, implementation: str, make_step, clips: int, device, sizes, notes: str = "", compiled: bool = False
) -> dict:
    row = {"task": task, "implementation": implementation, "notes": notes}
    try:
        row.update(_time_on_device(make_step(), device, sizes))
        row["clips_per_second"] = clips / row["seconds"]
    except Exception as error:  # one failing variant must not cost the rest of a one-shot GPU run
        row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
    finally:
        _release(device, compiled)
    return row


def device_rows(device: torch.device, sizes: DeviceSizes, compile_models: bool, peak_tflops: float | None):
    """
    Every device row, measured cheapest first (the fbank, then each variant's pretraining step and inference, the
    compiled variants last) and printed as it is measured, so that a run cut short by a time limit keeps what it got.
    """
    config = sizes.config()
    flops_per_clip = 3 * pretraining_forward_flops(config, sizes.pretraining_batch) / sizes.pretraining_batch
    pretraining_task = f"pretraining step (forward, backward, AdamW), batch {sizes.pretraining_batch}"
    classification_task = f"classify {sizes.classifier_batch} x 10 s, inference"
    fbank_task = f"fbank, {sizes.fbank_batch} x {sizes.fbank_seconds} s at 16 kHz"
    rows = []

    def measure(task, implementation, make_step, clips, notes="", compiled=False):
        row = _device_row(task, implementation, make_step, clips, device, sizes, notes, compiled)
        if task == pretraining_task and "clips_per_second" in row and peak_tflops:
            utilisation = row["clips_per_second"] * flops_per_clip / (peak_tflops * 1e12)
            row["notes"] = f"MFU {100 * utilisation:.1f}% ({flops_per_clip / 1e9:.4g} GFLOP per clip)"
        measured = f"{row['clips_per_second']:.0f} clips/s" if "clips_per_second" in row else "failed"
        print(
            f"measured: {task} | {implementation} | {measured} {row.get('notes') or row.get('error', '')}", flush=True
        )
        rows.append(row)

    for implementation, on_device, notes in (
        ("AudioMAEFeatureExtractor, waveforms already on the device", True, ""),
        ("AudioMAEFeatureExtractor, numpy clips (as the collator passes them)", False, "copy to device included"),
    ):
        make_step = partial(_fbank, sizes.fbank_batch, sizes.fbank_seconds, device, on_device)
        measure(fbank_task, implementation, make_step, sizes.fbank_batch, notes)
    for variant in sorted(device_variants(device, compile_models), key=lambda variant: variant.compiled):
        make_step = partial(_pretraining_step, sizes, variant, device)
        measure(pretraining_task, variant.name, make_step, sizes.pretraining_batch, compiled=variant.compiled)
        # flex_attention's gain is in training; its kernel compiles for each new shape, which costs GPU time here.
        if variant.attention != "flex_attention":
            make_step = partial(_classification, sizes, variant, device)
            measure(classification_task, variant.name, make_step, sizes.classifier_batch, compiled=variant.compiled)
    task_order = [pretraining_task, classification_task, fbank_task]
    rows.sort(key=lambda row: task_order.index(row["task"]))  # stable: variants keep their order within a task
    for row in rows:
        # speed relative to the first variant of the task, when both ran
        baseline = next(other for other in rows if other["task"] == row["task"])
        row["ratio"] = baseline.get("seconds", math.nan) / row.get("seconds", math.nan)
    return rows, flops_per_clip


def epochs_projection(rows: list[dict], clips: float = 2e6, epochs: int = 32, gpus: int = 8) -> str:
    """The paper's AudioSet-2M pretraining, from the fastest pretraining step, assuming linear scaling."""
    steps = [row for row in rows if row["task"].startswith("pretraining step") and "clips_per_second" in row]
    if not steps:
        return "Projection: no pretraining variant ran."
    fastest = max(steps, key=lambda row: row["clips_per_second"])
    hours = epochs * clips / (gpus * fastest["clips_per_second"]) / 3600
    return (
        f"Projection: {epochs} epochs of {clips / 1e6:g}M clips on {gpus} such devices: {hours:.2f} hours "
        f"(fastest variant '{fastest['implementation']}', {fastest['clips_per_second']:.0f} clips/s per device; "
        "assumes linear scaling and an input pipeline that keeps up)"
    )


def run_device_benchmarks(args) -> None:
    device = torch.device(args.device)
    sizes = TINY_SIZES if args.tiny else FULL_SIZES
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 rows measure float32
        print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {name}")
    else:
        name = f"CPU ({os.cpu_count()} CPUs, {torch.get_num_threads()} threads)"
        print(f"torch {torch.__version__}, {name}")
    peak = (name, args.peak_tflops) if args.peak_tflops else peak_bf16_tflops(name)
    if peak:
        print(f"MFU against {peak[1]:g} TFLOP/s peak dense bf16 ('{peak[0]}')")
    else:
        print(f"No peak bf16 rate known for '{name}': pass --peak-tflops for MFU")
    rows, flops_per_clip = device_rows(device, sizes, args.compile, peak[1] if peak else None)
    config = sizes.config()
    batch = sizes.pretraining_batch
    analytic = pretraining_forward_flops(config, batch) / batch
    counted = counted_forward_flops(config, batch) / batch
    print(
        f"Pretraining forward FLOPs per clip: {analytic / 1e9:.4g} G analytic, {counted / 1e9:.4g} G counted by "
        f"torch.utils.flop_counter; a step counts 3x: {flops_per_clip / 1e9:.4g} GFLOP per clip"
    )
    print(format_table(rows))
    print(epochs_projection(rows))


# name: (factory of the measured call, timed repeats after the first call)
MEASURED = {
    "audiomae_feature_extractor": (_audiomae_extractor_run, 7),
    "ast_feature_extractor": (_ast_extractor_run, 7),
    "audiomae_classifier": (_audiomae_classifier_run, 3),
    "ast_classifier": (_ast_classifier_run, 3),
    "pretraining_step_eager": (_pretraining_step_run("eager"), 2),
    "pretraining_step_sdpa": (_pretraining_step_run("sdpa"), 2),
    "decoding": (_decoding_runs(with_fbank=False), 15),
    "decoding_fbank": (_decoding_runs(with_fbank=True), 15),
    **{name: (_input_pipeline_run(*pipeline), 3) for name, pipeline in INPUT_PIPELINES.items()},
}

BENCHMARKS = [
    feature_extraction_rows,
    decoding_rows,
    input_pipeline_rows,
    classifier_inference_rows,
    pretraining_step_rows,
]


def format_table(rows: list[dict]) -> str:
    header = ["task", "implementation", "median time", "best time", "clips/s", "speed ratio", "peak memory", "notes"]

    def cells(row: dict) -> list[str]:
        if "error" in row:
            return [row["task"], row["implementation"], "failed", "", "", "", "", row["error"]]
        return [
            row["task"],
            row["implementation"],
            f"{row['seconds'] * 1000:.1f} ms",
            f"{row['best_seconds'] * 1000:.1f} ms" if "best_seconds" in row else "",
            f"{row['clips_per_second']:.0f}" if "clips_per_second" in row else "",
            f"{row['ratio']:.1f}x" if math.isfinite(row["ratio"]) else "",
            f"{row['peak_mib']:.0f} MiB" if "peak_mib" in row else "",
            row.get("notes", ""),
        ]

    lines = [cells(row) for row in rows]
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
    device = parser.add_argument_group("device mode: the model and fbank on a training device")
    device.add_argument("--device", help="e.g. cuda: pretraining step with MFU, inference, fbank on that device")
    device.add_argument("--tiny", action="store_true", help="tiny model and batches (a quick check of the mode)")
    device.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile rows")
    device.add_argument("--peak-tflops", type=float, help="the device's peak dense bf16 TFLOP/s, if not in the table")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    if args.measure:
        _measure(args.measure)
        return
    if args.device:
        if args.only:
            parser.error("--only selects CPU benchmarks; --device runs the device benchmarks")
        run_device_benchmarks(args)
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

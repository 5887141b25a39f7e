"""Model rows of `make bench`: ViT-B classifier inference against the same-size AST, and one pretraining step.

The variants of a row are timed in one subprocess, alternating run by run, so that a change of machine load hits them
alike; the time is the median over repeats after a warm-up. Peak resident memory (ru_maxrss) is measured apart, one
fresh subprocess per variant running one step.
"""

import json
import subprocess
import sys
import textwrap

TIME_ALTERNATING = textwrap.dedent(
    """
    import json, statistics, time
    import torch
    torch.set_num_threads({threads})
    torch.manual_seed(0)
    variants = {{}}
    for name, setup in {setups!r}.items():
        variants[name] = {{"torch": torch}}
        exec(setup, variants[name])
        exec({step!r}, variants[name])  # warm-up
    times = {{name: [] for name in variants}}
    for _ in range({repeats}):
        for name, namespace in variants.items():
            start = time.perf_counter()
            exec({step!r}, namespace)
            times[name].append(time.perf_counter() - start)
    print(json.dumps({{name: statistics.median(values) for name, values in times.items()}}))
    """
)

PEAK_MEMORY = textwrap.dedent(
    """
    import json, resource
    import torch
    torch.set_num_threads({threads})
    namespace = {{"torch": torch}}
    exec({setup!r}, namespace)
    exec({step!r}, namespace)
    print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    """
)

VIT_B_CLASSIFIER = """
import audiomae_hf
config = audiomae_hf.AudioMAEConfig(num_labels=527, _attn_implementation="{attention}")
model = audiomae_hf.AudioMAEForAudioClassification(config).eval()
inputs = torch.randn({batch}, 1024, 128)
"""

AST_CLASSIFIER = """
from transformers import ASTConfig, ASTForAudioClassification
# Same width and depth as ViT-B; AST's overlapping 16x16 patches (stride 10) give 1212 tokens for 1024 frames.
config = ASTConfig(num_labels=527, max_length=1024, num_mel_bins=128, _attn_implementation="{attention}")
model = ASTForAudioClassification(config).eval()
inputs = torch.randn({batch}, 1024, 128)
"""

CLASSIFY = """
with torch.inference_mode():
    model(inputs)
"""

VIT_B_PRETRAINING = """
import audiomae_hf
config = audiomae_hf.AudioMAEConfig(_attn_implementation="{attention}")
model = audiomae_hf.AudioMAEForPreTraining(config).train()
inputs = torch.randn({batch}, 1024, 128)
"""

PRETRAINING_STEP = """
model.zero_grad(set_to_none=True)
model(inputs).loss.backward()
"""


def run_python(script: str):
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"benchmark subprocess failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare(task: str, setups: dict[str, str], step: str, threads: int, repeats: int) -> list[dict]:
    """One row per variant: median seconds, peak MiB, and the first variant's time over this one's."""
    seconds = run_python(TIME_ALTERNATING.format(threads=threads, setups=setups, step=step, repeats=repeats))
    baseline = seconds[next(iter(setups))]
    return [
        {
            "task": task,
            "implementation": name,
            "seconds": seconds[name],
            "peak_mib": run_python(PEAK_MEMORY.format(threads=threads, setup=setup, step=step)),
            "ratio": baseline / seconds[name],
        }
        for name, setup in setups.items()
    ]


def classifier_inference_rows(threads: int, batch: int = 2, repeats: int = 3) -> list[dict]:
    """ViT-B classifier on 10 s inputs (512 tokens) against ASTForAudioClassification of the same size (1212)."""
    setups = {
        "ASTForAudioClassification (1212 tokens)": AST_CLASSIFIER.format(attention="sdpa", batch=batch),
        "AudioMAEForAudioClassification (512 tokens)": VIT_B_CLASSIFIER.format(attention="sdpa", batch=batch),
    }
    return compare(f"classify {batch} x 10 s, ViT-B, sdpa", setups, CLASSIFY, threads, repeats)


def pretraining_step_rows(threads: int, batch: int = 4, repeats: int = 2) -> list[dict]:
    """One forward + backward of ViT-B pretraining (local decoder), eager against sdpa attention."""
    setups = {
        "AudioMAEForPreTraining, eager": VIT_B_PRETRAINING.format(attention="eager", batch=batch),
        "AudioMAEForPreTraining, sdpa": VIT_B_PRETRAINING.format(attention="sdpa", batch=batch),
    }
    return compare(f"pretraining step, batch {batch}, ViT-B", setups, PRETRAINING_STEP, threads, repeats)

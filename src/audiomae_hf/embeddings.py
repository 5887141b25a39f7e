"""
Clip embeddings from an Audio-MAE encoder: one vector per clip, for retrieval, clustering or linear probes.

An embedding is the encoder's `pooler_output` (the mean of the last layer's patch tokens), or the mean of the patch
tokens of any hidden layer (`layers=[4, 8]`: intermediate layers often serve probes better than the last one).
Clips are decoded with `audiomae_hf.audio_decoding.load_waveform` (any file soundfile reads, any rate, any channel
count), featurized in batches by the model's feature extractor, and encoded in batches.

```python
>>> from audiomae_hf.embeddings import embed_clips, add_embedding_columns, load_encoder
>>> model, feature_extractor = load_encoder("path/to/audiomae-folder")
>>> embeddings = embed_clips(model, feature_extractor, ["a.wav", "b.flac"], layers=[6])
>>> embeddings["pooler_output"].shape, embeddings["hidden_state_6"].shape
((2, 768), (2, 768))
>>> dataset = add_embedding_columns(dataset, model, feature_extractor)  # a `datasets` column per embedding
```

`scripts/extract_embeddings.py` (`audiomae-extract-embeddings`) does the same from the command line for an audio
folder or a dataset, writing safetensors, numpy or a saved dataset.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .audio_decoding import AUDIO_EXTENSIONS, find_audio_files, load_waveform, seconds_for_frames
from .feature_extraction_audiomae import AudioMAEFeatureExtractor
from .modeling_audiomae import AudioMAEModel

POOLER_OUTPUT = "pooler_output"


def load_encoder(
    model_name_or_path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[AudioMAEModel, AudioMAEFeatureExtractor]:
    """The encoder (`AudioMAEModel`, in eval mode on `device`) and the feature extractor of a pretrained or
    fine-tuned Audio-MAE folder or Hub repository; a classifier's head is left out."""
    model = AudioMAEModel.from_pretrained(model_name_or_path).to(device).eval()
    return model, AudioMAEFeatureExtractor.from_pretrained(model_name_or_path)


def embedding_names(layers: Sequence[int] = ()) -> list[str]:
    """The keys `embed_clips` returns: `pooler_output`, then `hidden_state_{layer}` for each of `layers`."""
    return [POOLER_OUTPUT, *(f"hidden_state_{layer}" for layer in layers)]


@torch.inference_mode()
def embed_waveforms(
    model: AudioMAEModel,
    feature_extractor: AudioMAEFeatureExtractor,
    waveforms: Sequence[np.ndarray],
    layers: Sequence[int] = (),
) -> dict[str, np.ndarray]:
    """
    Embeddings of one batch of mono waveforms at the feature extractor's rate, each `[len(waveforms), hidden_size]`
    float32: `pooler_output` as the model returns it for the feature extractor's output, and the mean of the patch
    tokens of each hidden layer in `layers` (0 is the patch embeddings, `num_hidden_layers` the last block).
    """
    num_layers = model.config.num_hidden_layers
    if any(not 0 <= layer <= num_layers for layer in layers):
        raise ValueError(f"layers must lie in [0, {num_layers}] (0: patch embeddings), got {list(layers)}.")
    device = model.device
    inputs = feature_extractor(
        list(waveforms), sampling_rate=feature_extractor.sampling_rate, return_tensors="pt", device=device
    )
    outputs = model(**inputs, output_hidden_states=bool(layers))
    embeddings = {POOLER_OUTPUT: outputs.pooler_output}
    for layer in layers:
        # Token 0 is the cls token; the patch tokens follow.
        embeddings[f"hidden_state_{layer}"] = outputs.hidden_states[layer][:, 1:].mean(dim=1)
    return {name: embedding.float().cpu().numpy() for name, embedding in embeddings.items()}


def _embed_clip_batch(
    model: AudioMAEModel, feature_extractor: AudioMAEFeatureExtractor, clips: Sequence, layers: Sequence[int]
) -> dict[str, np.ndarray]:
    """`embed_waveforms` of one batch of clips, each decoded only as far as the model sees it."""
    max_seconds = seconds_for_frames(feature_extractor.target_length)
    waveforms = [load_waveform(clip, feature_extractor.sampling_rate, max_seconds) for clip in clips]
    return embed_waveforms(model, feature_extractor, waveforms, layers)


def embed_clips(
    model: AudioMAEModel,
    feature_extractor: AudioMAEFeatureExtractor,
    clips: Iterable,
    *,
    layers: Sequence[int] = (),
    batch_size: int = 16,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """
    Embeddings of `clips`, each `[num_clips, hidden_size]` float32, in the order of `clips`, under the names of
    `embedding_names(layers)`.

    A clip is anything `load_waveform` reads: a path, an `Audio(decode=False)` value (`{"path", "bytes"}`) or a
    decoded one (`{"array", "sampling_rate"}`); only the audio the model uses is decoded. A clip that cannot be
    decoded raises `AudioDecodingError` naming it. `progress` shows a tqdm bar over the batches.
    """
    clips = list(clips)
    batches = [clips[start : start + batch_size] for start in range(0, len(clips), batch_size)]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in embedding_names(layers)}
    for batch in tqdm(batches, desc="Embedding clips", unit="batch", disable=not progress):
        for name, embedding in _embed_clip_batch(model, feature_extractor, batch, layers).items():
            parts[name].append(embedding)
    hidden_size = model.config.hidden_size
    return {
        name: np.concatenate(arrays) if arrays else np.zeros((0, hidden_size), np.float32)
        for name, arrays in parts.items()
    }


def add_embedding_columns(
    dataset,
    model: AudioMAEModel,
    feature_extractor: AudioMAEFeatureExtractor,
    *,
    audio_column: str = "audio",
    layers: Sequence[int] = (),
    batch_size: int = 16,
):
    """
    `dataset` (a `datasets.Dataset`) with one column per embedding (`embedding_names(layers)`), each row a list of
    `hidden_size` floats, computed in batches by `Dataset.map` (which shows the progress bar).

    An `Audio` column is read undecoded and decoded by `load_waveform`, so neither torchcodec nor FFmpeg is needed;
    a column of paths works as well.
    """
    from datasets import Audio

    if isinstance(dataset.features.get(audio_column), Audio):
        dataset = dataset.cast_column(audio_column, Audio(decode=False))

    def embed_batch(batch):
        embeddings = _embed_clip_batch(model, feature_extractor, batch[audio_column], layers)
        return {name: list(array) for name, array in embeddings.items()}

    return dataset.map(embed_batch, batched=True, batch_size=batch_size, desc="Embedding clips")


def save_embeddings(embeddings: dict[str, np.ndarray], clip_names: Sequence[str], path: str | os.PathLike) -> None:
    """Write embeddings and the name of each row's clip to `.safetensors` (names as JSON in the metadata, under
    `clips`) or `.npz` (names as the array `clips`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file(embeddings, path, metadata={"clips": json.dumps(list(clip_names))})
    elif path.suffix == ".npz":
        np.savez(path, **embeddings, clips=np.array(clip_names))
    else:
        raise ValueError(f"{path}: embeddings go to a .safetensors or .npz file.")


def _is_saved_dataset(source: str) -> bool:
    """Whether `source` is a folder written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk`."""
    return Path(source, "dataset_info.json").is_file() or Path(source, "dataset_dict.json").is_file()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="audiomae-extract-embeddings",
        description="Clip embeddings of an audio folder or a dataset from an Audio-MAE encoder.",
    )
    parser.add_argument("model", help="Audio-MAE folder or Hub id (pretrained or fine-tuned)")
    parser.add_argument(
        "source",
        help="a folder of audio files (searched recursively), a dataset saved with save_to_disk, or a Hub dataset id",
    )
    parser.add_argument(
        "output",
        help="a .safetensors or .npz file (embeddings and clip names), or, for a dataset source, a folder where the "
        "dataset is saved with its embedding columns",
    )
    parser.add_argument("--layers", type=int, nargs="*", default=[], help="hidden layers to embed besides the pooler")
    parser.add_argument("--batch_size", type=int, default=16, help="clips per batch (default 16)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device")
    parser.add_argument("--audio_column", default="audio", help="audio column of a dataset (default audio)")
    parser.add_argument("--dataset_config_name", default=None, help="configuration of a Hub dataset")
    parser.add_argument("--split", default="train", help="split of a dataset (default train)")
    args = parser.parse_args(argv)

    model, feature_extractor = load_encoder(args.model, args.device)
    if os.path.isdir(args.source) and not _is_saved_dataset(args.source):
        files = find_audio_files([args.source])
        if not files:
            parser.error(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {args.source}")
        embeddings = embed_clips(model, feature_extractor, files, layers=args.layers, batch_size=args.batch_size)
        save_embeddings(embeddings, [file.relative_to(args.source).as_posix() for file in files], args.output)
        print(f"{len(files)} clips -> {args.output} ({', '.join(embeddings)})")
        return

    from .data_sources import load_split  # needs `datasets` (the [train] extra); audio folders do not

    dataset = load_split(
        dataset_name=args.source,
        dataset_config_name=args.dataset_config_name,
        split=args.split,
        audio_column=args.audio_column,
        with_labels=False,
    )
    dataset = add_embedding_columns(
        dataset,
        model,
        feature_extractor,
        audio_column=args.audio_column,
        layers=args.layers,
        batch_size=args.batch_size,
    )
    names = embedding_names(args.layers)
    if Path(args.output).suffix in (".safetensors", ".npz"):
        embeddings = {name: np.asarray(dataset[name], dtype=np.float32) for name in names}
        save_embeddings(embeddings, [str(index) for index in range(len(dataset))], args.output)
    else:
        dataset.save_to_disk(args.output)
    print(f"{len(dataset)} clips -> {args.output} ({', '.join(names)})")


__all__ = [
    "add_embedding_columns",
    "embed_clips",
    "embed_waveforms",
    "embedding_names",
    "load_encoder",
    "main",
    "save_embeddings",
]

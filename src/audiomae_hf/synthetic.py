"""A synthetic sound-event corpus: labelled clips with real signal structure, written in `audiofolder` layout; and
small stand-ins for the paper's downstream corpora, laid out as the real ones are distributed.

Each clip holds one event of its class (a tone, a chirp, a harmonic stack, a noise burst, a click train, ...) at a
random frequency, duration, onset and level, over coloured background noise at a random signal-to-noise ratio. The
classes overlap in frequency range and loudness, so a classifier has to learn the shape of an event in the
spectrogram (flat, rising, falling, striped, pulsed, smeared), not a single frequency bin. Everything is drawn from
seeded generators: the same seed writes byte-identical files.

```python
>>> from audiomae_hf.synthetic import write_sound_event_corpus
>>> splits = write_sound_event_corpus("corpus", clips_per_class={"pretrain": 100, "train": 8, "eval": 20}, seed=0)
>>> splits["train"]  # corpus/train/<class>/<class>_0000.wav, ...
```

The stand-ins (`write_esc50_standin`, `write_speech_commands_standin`, `write_audioset_standin`,
`write_voxceleb1_standin`) copy the real corpora's folder layout, metadata files, label format, clip lengths and
sampling rates, with a few clips per class: enough for `audiomae_hf.downstream_data` and the recipes to run end to end.
The sound of class `i` is the sound-event class `i` modulo 8, so the clips carry learnable structure.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import soundfile
from tqdm.auto import tqdm

SAMPLING_RATE = 16_000

# Every event frequency lies in this band: inside the 8 kHz Nyquist limit with room for harmonics and sidebands,
# and spanning most of the mel axis so that frequency alone cannot name a class.
LOWEST_FREQUENCY_HZ = 150.0
HIGHEST_FREQUENCY_HZ = 5_000.0


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """Frequencies are drawn evenly per octave, as the mel axis spaces them."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _times(num_samples: int, sampling_rate: int) -> np.ndarray:
    return np.arange(num_samples) / sampling_rate


def _phase_of(instantaneous_frequency: np.ndarray, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Integrate a frequency track (Hz per sample) into a phase track, from a random start phase."""
    return rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(instantaneous_frequency) / sampling_rate


def _band_limited_noise(
    num_samples: int, low_hz: float, high_hz: float, sampling_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """White noise with everything outside [low_hz, high_hz] removed in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    frequencies = np.fft.rfftfreq(num_samples, 1 / sampling_rate)
    spectrum[(frequencies < low_hz) | (frequencies > high_hz)] = 0
    return np.fft.irfft(spectrum, num_samples)


def pure_tone(num_samples: int, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One steady sinusoid: a single horizontal line in the spectrogram."""
    frequency = _log_uniform(rng, LOWEST_FREQUENCY_HZ, HIGHEST_FREQUENCY_HZ)
    return np.sin(_phase_of(np.full(num_samples, frequency), sampling_rate, rng))


def _chirp(num_samples: int, sampling_rate: int, rng: np.random.Generator, rising: bool) -> np.ndarray:
    # At least one and a half octaves of sweep, so that a short chirp reads as a slope rather than a flat tone.
    octaves = rng.uniform(1.5, 4.0)
    low = _log_uniform(rng, LOWEST_FREQUENCY_HZ, HIGHEST_FREQUENCY_HZ / 2**octaves)
    start, end = (low, low * 2**octaves) if rising else (low * 2**octaves, low)
    # Exponential sweep: a straight line on the (roughly logarithmic) mel axis.
    track = start * (end / start) ** np.linspace(0, 1, num_samples)
    return np.sin(_phase_of(track, sampling_rate, rng))


def chirp_up(num_samples: int, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A sinusoid sweeping upward by one and a half to four octaves: a rising line."""
    return _chirp(num_samples, sampling_rate, rng, rising=True)


def chirp_down(num_samples: int, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A sinusoid sweeping downward by one and a half to four octaves: a falling line."""
    return _chirp(num_samples, sampling_rate, rng, rising=False)


def harmonic_stack(num_samples: int, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A low fundamental with its overtones, as a voice or a bowed string: evenly spaced horizontal lines."""
    # From 200 Hz up the overtones stay apart on a 128-bin mel axis; lower ones blur into a band like noise.
    fundamental = _log_uniform(rng, 200.0, 400.0)
    num_harmonics = int(rng.integers(4, 11))
    rolloff = rng.uniform(0.5, 1.5)
    phase = _phase_of(np.full(num_samples, fundamental), sampling_rate, rng)
    signal = np.zeros(num_samples)
    for harmonic in range(1, num_harmonics + 1):
        if harmonic * fundamental < sampling_rate / 2:
            signal += np.sin(harmonic * phase) / harmonic**rolloff
    return signal


def noise_burst(num_samples: int, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited noise, one and a half to three and a half octaves wide: a broad smeared band without lines."""
    octaves = rng.uniform(1.5, 3.5)
    low = _log_uniform(rng, LOWEST_FREQUENCY_HZ, HIGHEST_FREQUENCY_HZ / 2**octaves)
    return _band_limited_noise(num_samples, low, low * 2**octaves, sampling_rate, rng)


def click_train(num_samples: int, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Short decaying broadband clicks at a steady rate, as a ticking clock: evenly spaced vertical lines."""
    clicks_per_second = rng.uniform(4.0, 20.0)
    click_length = int(0.004 * sampling_rate)
    click = rng.standard_normal(click_length) * np.exp(-np.arange(click_length) / (0.001 * sampling_rate))
    signal = np.zeros(num_samples)
    start = int(rng.integers(0, max(1, int(sampling_rate / clicks_per_second))))
    for onset in range(start, num_samples - click_length, int(sampling_rate / clicks_per_second)):
        signal[onset : onset + click_length] += click
    return signal


def beep_train(num_samples: int, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Short tone beeps repeating 6 to 10 times a second, as an alarm: a dashed horizontal line."""
    carrier = _log_uniform(rng, LOWEST_FREQUENCY_HZ, HIGHEST_FREQUENCY_HZ)
    beeps_per_second = rng.uniform(6.0, 10.0)
    # Beeps fill 30-50% of each period: every 16-frame patch of the spectrogram holds a gap of several frames.
    duty_cycle = rng.uniform(0.3, 0.5)
    position_in_period = (np.arange(num_samples) / sampling_rate * beeps_per_second + rng.uniform()) % 1.0
    ramp = 0.01 * beeps_per_second  # 10 ms fades, so that each beep starts without a click
    envelope = np.clip(np.minimum(position_in_period, duty_cycle - position_in_period) / ramp, 0.0, 1.0)
    return envelope * np.sin(_phase_of(np.full(num_samples, carrier), sampling_rate, rng))


def fm_tone(num_samples: int, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A sinusoid whose pitch wobbles 5 to 10 times a second by 0.4 to 1 octave: a wavy line."""
    centre = _log_uniform(rng, 2 * LOWEST_FREQUENCY_HZ, HIGHEST_FREQUENCY_HZ / 2)
    wobble_rate = rng.uniform(5.0, 10.0)
    wobble_octaves = rng.uniform(0.4, 1.0)
    wobble = np.sin(_phase_of(np.full(num_samples, wobble_rate), sampling_rate, rng))
    return np.sin(_phase_of(centre * 2 ** (wobble_octaves / 2 * wobble), sampling_rate, rng))


EVENT_GENERATORS: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "beep_train": beep_train,
    "chirp_down": chirp_down,
    "chirp_up": chirp_up,
    "click_train": click_train,
    "fm_tone": fm_tone,
    "harmonic_stack": harmonic_stack,
    "noise_burst": noise_burst,
    "pure_tone": pure_tone,
}
SOUND_EVENT_CLASSES: tuple[str, ...] = tuple(EVENT_GENERATORS)


def _background_noise(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1/f^a, a drawn per clip between 0.6 and 1.4 (around pink noise)."""
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    exponent = rng.uniform(0.6, 1.4)
    frequencies = np.fft.rfftfreq(num_samples)
    frequencies[0] = frequencies[1]
    spectrum *= frequencies ** (-exponent / 2)
    return np.fft.irfft(spectrum, num_samples)


def _rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(signal**2)))


def synthesize_clip(
    label: str,
    rng: np.random.Generator,
    duration_s: float = 2.56,
    sampling_rate: int = SAMPLING_RATE,
    snr_db_range: tuple[float, float] = (6.0, 24.0),
) -> np.ndarray:
    """
    One clip of `duration_s` seconds holding one event of class `label` over background noise.

    The event lasts between four and nine tenths of the clip, starts anywhere it fits, fades in and out over 5-30
    ms (so that its edges do not click), and sits at a signal-to-noise ratio drawn from `snr_db_range` (measured
    over the event's span). The clip's peak level is drawn between -20 and -1 dBFS.

    Returns a float32 array of `round(duration_s * sampling_rate)` samples in [-1, 1].
    """
    if label not in EVENT_GENERATORS:
        raise ValueError(f"Unknown sound-event class {label!r}; expected one of {SOUND_EVENT_CLASSES}.")
    num_samples = round(duration_s * sampling_rate)
    event_length = int(rng.uniform(0.4, 0.9) * num_samples)
    onset = int(rng.integers(0, num_samples - event_length + 1))

    event = EVENT_GENERATORS[label](event_length, sampling_rate, rng)
    fade_length = min(int(rng.uniform(0.005, 0.03) * sampling_rate), event_length // 2)
    fade = 0.5 * (1 - np.cos(np.linspace(0, np.pi, fade_length)))
    event[:fade_length] *= fade
    event[event_length - fade_length :] *= fade[::-1]

    background = _background_noise(num_samples, rng)
    snr_db = rng.uniform(*snr_db_range)
    background *= _rms(event) / (_rms(background) * 10 ** (snr_db / 20))
    clip = background
    clip[onset : onset + event_length] += event

    peak_dbfs = rng.uniform(-20.0, -1.0)
    clip *= 10 ** (peak_dbfs / 20) / np.max(np.abs(clip))
    return clip.astype(np.float32)


def write_sound_event_split(
    directory: str | Path,
    clips_per_class: int,
    seed: int | tuple[int, ...],
    classes: tuple[str, ...] = SOUND_EVENT_CLASSES,
    duration_s: float = 2.56,
    sampling_rate: int = SAMPLING_RATE,
    progress_description: str | None = None,
) -> Path:
    """
    Write `clips_per_class` clips of each class as `directory/<class>/<class>_<index>.wav` (16-bit PCM), the layout
    `datasets.load_dataset("audiofolder", data_dir=directory)` reads with labels taken from the folder names.

    Clip `index` of class `c` is drawn from a generator seeded with `(*seed, c's position in SOUND_EVENT_CLASSES,
    index)`, so it does not depend on which other classes or how many other clips are written.
    """
    directory = Path(directory)
    seed = (seed,) if isinstance(seed, int) else tuple(seed)
    jobs = [(label, index) for label in classes for index in range(clips_per_class)]
    for label, index in tqdm(jobs, desc=progress_description or f"Writing {directory}", unit="clip"):
        rng = np.random.default_rng([*seed, SOUND_EVENT_CLASSES.index(label), index])
        clip = synthesize_clip(label, rng, duration_s=duration_s, sampling_rate=sampling_rate)
        (directory / label).mkdir(parents=True, exist_ok=True)
        soundfile.write(directory / label / f"{label}_{index:04d}.wav", clip, sampling_rate, subtype="PCM_16")
    return directory


def write_sound_event_corpus(
    root: str | Path,
    clips_per_class: Mapping[str, int],
    seed: int = 0,
    classes: tuple[str, ...] = SOUND_EVENT_CLASSES,
    duration_s: float = 2.56,
    sampling_rate: int = SAMPLING_RATE,
) -> dict[str, Path]:
    """
    Write one `audiofolder` directory per split, `root/<split>/<class>/*.wav`, with `clips_per_class[split]` clips
    of each class, e.g. `{"pretrain": 160, "train": 6, "eval": 30}`.

    Each split draws from its own seed, derived from `seed` and the split's name, so no clip appears in two splits
    and growing one split leaves the others unchanged. Returns the directory of each split.
    """
    root = Path(root)
    splits = {}
    for split, count in clips_per_class.items():
        splits[split] = write_sound_event_split(
            root / split,
            count,
            seed=(seed, zlib.crc32(split.encode())),
            classes=classes,
            duration_s=duration_s,
            sampling_rate=sampling_rate,
            progress_description=f"Synthesizing {split} clips",
        )
    return splits


def _standin_seed(seed: int, corpus: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(corpus.encode()), *keys])


def _write_event_clip(
    path: Path, class_indices: list[int], rng: np.random.Generator, duration_s: float, sampling_rate: int
) -> Path:
    """One clip holding an event of each of `class_indices` (sound-event class `i % 8`), as 16-bit PCM."""
    events = [
        synthesize_clip(SOUND_EVENT_CLASSES[index % len(SOUND_EVENT_CLASSES)], rng, duration_s, sampling_rate)
        for index in class_indices
    ]
    clip = np.sum(events, axis=0) / len(events)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, clip, sampling_rate, subtype="PCM_16")
    return path


ESC50_SAMPLING_RATE = 44_100
ESC50_CSV_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")


def write_esc50_standin(
    root: str | Path,
    categories: tuple[str, ...] = ("dog", "rooster", "rain"),
    clips_per_fold: int = 1,
    duration_s: float = 5.0,
    seed: int = 0,
) -> Path:
    """
    ESC-50 as its archive unpacks: `root/audio/{fold}-{source}-{take}-{target}.wav` (5 s, 44.1 kHz, mono) and
    `root/meta/esc50.csv` naming each clip's fold (1-5), target index and category; `clips_per_fold` clips of each
    category in each fold.
    """
    root = Path(root)
    rows = []
    for target, category in enumerate(categories):
        for fold in range(1, 6):
            for take in range(clips_per_fold):
                source = 100_000 + 1000 * target + 10 * fold + take
                filename = f"{fold}-{source}-A-{target}.wav"
                rng = _standin_seed(seed, "esc50", target, fold, take)
                _write_event_clip(root / "audio" / filename, [target], rng, duration_s, ESC50_SAMPLING_RATE)
                rows.append((filename, fold, target, category, "False", source, "A"))
    (root / "meta").mkdir(parents=True, exist_ok=True)
    with open(root / "meta" / "esc50.csv", "w", newline="") as table:
        writer = csv.writer(table)
        writer.writerow(ESC50_CSV_COLUMNS)
        writer.writerows(rows)
    return root


def write_speech_commands_standin(
    root: str | Path,
    words: tuple[str, ...],
    clips_per_split: Mapping[str, int] | None = None,
    background_seconds: float = 3.0,
    seed: int = 0,
) -> Path:
    """
    Speech Commands as its archive unpacks: `root/<word>/<speaker>_nohash_<n>.wav` (1 s, 16 kHz; by default 2
    training, 1 validation and 1 test clip per word), the validation and test clips listed in `validation_list.txt`
    and `testing_list.txt` (as `<word>/<file>`), and background-noise recordings in `root/_background_noise_/`.
    """
    root = Path(root)
    clips_per_split = clips_per_split or {"train": 2, "validation": 1, "test": 1}
    lists: dict[str, list[str]] = {"validation": [], "test": []}
    for word_index, word in enumerate(words):
        clip_index = 0
        for split, count in clips_per_split.items():
            for _ in range(count):
                name = f"{zlib.crc32(f'{word}{clip_index}'.encode()):08x}_nohash_0.wav"
                rng = _standin_seed(seed, "speech_commands", word_index, clip_index)
                _write_event_clip(root / word / name, [word_index], rng, 1.0, SAMPLING_RATE)
                if split in lists:
                    lists[split].append(f"{word}/{name}")
                clip_index += 1
    (root / "validation_list.txt").write_text("".join(f"{line}\n" for line in lists["validation"]))
    (root / "testing_list.txt").write_text("".join(f"{line}\n" for line in lists["test"]))
    noise_folder = root / "_background_noise_"
    noise_folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(("white_noise", "pink_noise")):
        noise = _background_noise(round(background_seconds * SAMPLING_RATE), _standin_seed(seed, "noise", index))
        soundfile.write(noise_folder / f"{name}.wav", 0.1 * noise / np.abs(noise).max(), SAMPLING_RATE, "PCM_16")
    return root


AUDIOSET_SEGMENTS_HEADER = (
    "# Segments csv created Sun Mar  5 10:54:31 2017\n"
    "# num_ytids=%d, num_segs=%d, num_unique_labels=%d, num_positive_labels=%d\n"
    "# YTID, start_seconds, end_seconds, positive_labels\n"
)


def write_audioset_standin(
    root: str | Path,
    label_ids: tuple[str, ...] = ("/m/09x0r", "/m/04rlf", "/m/0jbk"),
    num_clips: int = 12,
    duration_s: float = 10.0,
    seed: int = 0,
) -> Path:
    """
    An AudioSet download: `root/segments.csv` in the released segments format (`YTID, start_seconds, end_seconds,
    "label ids"`, one or two labels per clip) and its clips as `root/audio/Y<YTID>.wav` (10 s, 16 kHz); the last
    segment has no clip, as some always fail to download. Returns the segments CSV.
    """
    root = Path(root)
    lines = []
    for index in range(num_clips + 1):
        youtube_id = f"{zlib.crc32(f'clip{index}'.encode()):011x}"[-11:]
        rng = _standin_seed(seed, "audioset", index)
        labels = [index % len(label_ids)] + ([(index + 1) % len(label_ids)] if index % 2 else [])
        if index < num_clips:
            _write_event_clip(root / "audio" / f"Y{youtube_id}.wav", labels, rng, duration_s, SAMPLING_RATE)
        positive = ",".join(label_ids[label] for label in labels)
        lines.append(f'{youtube_id}, 30.000, 40.000, "{positive}"\n')
    segments = root / "segments.csv"
    header = AUDIOSET_SEGMENTS_HEADER % (len(lines), len(lines), len(label_ids), len(lines))
    segments.write_text(header + "".join(lines))
    return segments


def write_voxceleb1_standin(
    root: str | Path,
    num_speakers: int = 3,
    utterances_per_split: Mapping[str, int] | None = None,
    duration_range_s: tuple[float, float] = (4.0, 8.0),
    seed: int = 0,
) -> Path:
    """
    VoxCeleb-1 as distributed: `root/wav/id1xxxx/<video>/<nnnnn>.wav` (4-8 s, 16 kHz) and `root/iden_split.txt`
    (`<split> <speaker>/<video>/<file>`, split 1 train, 2 validation, 3 test; by default 2, 1 and 1 utterances of
    each speaker).
    """
    root = Path(root)
    utterances_per_split = utterances_per_split or {"1": 2, "2": 1, "3": 1}
    lines = []
    for speaker in range(num_speakers):
        speaker_id = f"id{10001 + speaker}"
        utterance = 0
        for split, count in utterances_per_split.items():
            for _ in range(count):
                rng = _standin_seed(seed, "voxceleb1", speaker, utterance)
                relative = f"{speaker_id}/{zlib.crc32(f'{speaker}{utterance}'.encode()):011x}/{utterance + 1:05d}.wav"
                _write_event_clip(
                    root / "wav" / relative, [speaker], rng, rng.uniform(*duration_range_s), SAMPLING_RATE
                )
                lines.append(f"{split} {relative}\n")
                utterance += 1
    (root / "iden_split.txt").write_text("".join(lines))
    return root


__all__ = [
    "EVENT_GENERATORS",
    "SAMPLING_RATE",
    "SOUND_EVENT_CLASSES",
    "synthesize_clip",
    "write_sound_event_corpus",
    "write_audioset_standin",
    "write_esc50_standin",
    "write_sound_event_split",
    "write_speech_commands_standin",
    "write_voxceleb1_standin",
]

"""`pipeline("audio-classification")` for Audio-MAE models without the ffmpeg binary or torchaudio.

The stock pipeline decodes file paths and bytes with the ffmpeg binary, resamples with torchaudio, and takes only 1-D
arrays. For Audio-MAE models this subclass reads every input through the package's one decoding path
(`audio_decoding.load_waveform`: soundfile, soxr) and hands a 16 kHz mono array to the stock code. It takes paths
(`str` or `pathlib.Path`), bytes, arrays and tensors at the model's rate (1-D or multi-channel, float or integer
PCM), `{"array" or "raw", "sampling_rate"}` dicts at any rate, and `datasets` `Audio` values, decoded (a torchcodec
`AudioDecoder`, or a dict with an array) or not (`{"path", "bytes"}`). Only the audio the model sees is read: the
first `target_length` frames (about 10 s) of a clip. Formats soundfile cannot read go to the stock ffmpeg path when
the ffmpeg binary is installed.

Importing `audiomae_hf` registers this class for the `audiomae` model type only (every other model keeps the stock
pipeline), and every saved Audio-MAE folder carries a copy of this file and of `audio_decoding.py` with a
`custom_pipelines` entry in its config, so that `pipeline(model=folder, trust_remote_code=True)` gives the same
decoding where the package is not installed.
"""

import shutil
import urllib.request

import numpy as np
import soundfile
import torch
from transformers.pipelines.audio_classification import AudioClassificationPipeline

from .audio_decoding import AudioDecodingError, load_waveform, seconds_for_frames


class AudioMAEAudioClassificationPipeline(AudioClassificationPipeline):
    def __call__(self, inputs, **kwargs):
        if isinstance(inputs, list) and not inputs:
            raise ValueError("No clips to classify: pass one clip, or a non-empty list of clips.")
        return super().__call__(inputs, **kwargs)

    def preprocess(self, inputs):
        return super().preprocess(self.decode(inputs))

    def decode(self, inputs):
        """The clip as `{"raw": 16 kHz mono float32 window, "sampling_rate"}`, or `inputs` unchanged where the stock
        code must handle it (formats soundfile cannot read, when ffmpeg is installed)."""
        if isinstance(inputs, str) and inputs.startswith(("http://", "https://")):
            with urllib.request.urlopen(inputs) as response:
                inputs = response.read()
        rate = self.feature_extractor.sampling_rate
        if isinstance(inputs, (np.ndarray, torch.Tensor)):
            inputs = {"raw": inputs, "sampling_rate": rate}
        try:
            waveform = load_waveform(inputs, rate, seconds_for_frames(self.feature_extractor.target_length))
        except AudioDecodingError as error:
            if isinstance(error.__cause__, soundfile.LibsndfileError) and shutil.which("ffmpeg"):
                return inputs
            raise
        return {"raw": waveform, "sampling_rate": rate}


class AudioClassificationPipelineByModelType(AudioClassificationPipeline):
    """
    The class `pipeline("audio-classification")` builds once `audiomae_hf` is imported: the Audio-MAE pipeline for
    `audiomae` models, and for every other model the stock `AudioClassificationPipeline` itself, unchanged.
    """

    def __new__(cls, model, **kwargs):
        is_audiomae = getattr(model.config, "model_type", None) == "audiomae"
        pipeline_class = AudioMAEAudioClassificationPipeline if is_audiomae else AudioClassificationPipeline
        # An instance of another class: Python then does not call this class's __init__ on it.
        return pipeline_class(model=model, **kwargs)

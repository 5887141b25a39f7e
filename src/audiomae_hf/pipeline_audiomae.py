"""`pipeline("audio-classification")` for Audio-MAE models without the ffmpeg binary or torchaudio.

The stock pipeline decodes file paths and bytes with the ffmpeg binary and resamples with torchaudio. For Audio-MAE
models this subclass decodes with soundfile (its wheel bundles libsndfile) and resamples with the package's own
resampler, then hands a 16 kHz array to the stock code. Formats soundfile cannot read still go to ffmpeg, and every
other model keeps the stock behaviour.
"""

import io

import numpy as np
import soundfile
import torch
from transformers.pipelines.audio_classification import AudioClassificationPipeline

from .feature_extraction_audiomae import resample
from .modeling_audiomae import AudioMAEPreTrainedModel


class AudioMAEAudioClassificationPipeline(AudioClassificationPipeline):
    def preprocess(self, inputs):
        if isinstance(self.model, AudioMAEPreTrainedModel):
            inputs = self.decode_and_resample(inputs)
        return super().preprocess(inputs)

    def decode_and_resample(self, inputs):
        if isinstance(inputs, str) and not inputs.startswith(("http://", "https://")):
            with open(inputs, "rb") as file:
                inputs = file.read()
        if isinstance(inputs, bytes):
            try:
                samples, sampling_rate = soundfile.read(io.BytesIO(inputs), dtype="float32", always_2d=True)
            except soundfile.LibsndfileError:
                return inputs
            # Downmix: the models take mono audio.
            inputs = {"array": samples.mean(axis=1), "sampling_rate": sampling_rate}
        if isinstance(inputs, dict) and inputs.get("sampling_rate") != self.feature_extractor.sampling_rate:
            array = inputs.get("raw", inputs.get("array"))
            if array is not None and "sampling_rate" in inputs:
                waveform = torch.as_tensor(np.asarray(array, dtype=np.float32))
                target_rate = self.feature_extractor.sampling_rate
                array = resample(waveform, inputs["sampling_rate"], target_rate).numpy()
                inputs = {"array": array, "sampling_rate": target_rate}
        return inputs

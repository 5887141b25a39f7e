"""Audio-MAE ("Masked Autoencoders that Listen") as a Hugging Face Transformers model family.

Importing the package registers the model type ``audiomae`` with the Auto classes, so that
``AutoConfig``, ``AutoModel``, ``AutoModelForPreTraining``, ``AutoModelForAudioClassification``,
``AutoFeatureExtractor`` and ``pipeline("audio-classification")`` resolve saved Audio-MAE folders.
"""

from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForAudioClassification,
    AutoModelForPreTraining,
)
from transformers.pipelines import PIPELINE_REGISTRY

from .configuration_audiomae import AudioMAEConfig
from .feature_extraction_audiomae import AudioMAEFeatureExtractor
from .modeling_audiomae import (
    AudioMAEForAudioClassification,
    AudioMAEForPreTraining,
    AudioMAEModel,
    AudioMAEPreTrainedModel,
)
from .pipeline_audiomae import AudioClassificationPipelineByModelType, AudioMAEAudioClassificationPipeline

AutoConfig.register(AudioMAEConfig.model_type, AudioMAEConfig, exist_ok=True)
AutoFeatureExtractor.register(AudioMAEConfig, AudioMAEFeatureExtractor, exist_ok=True)
AutoModel.register(AudioMAEConfig, AudioMAEModel, exist_ok=True)
AutoModelForPreTraining.register(AudioMAEConfig, AudioMAEForPreTraining, exist_ok=True)
AutoModelForAudioClassification.register(AudioMAEConfig, AudioMAEForAudioClassification, exist_ok=True)
# Audio-MAE models get the package's decoding (no ffmpeg binary, any rate, any input form); every other model keeps
# the stock pipeline class.
PIPELINE_REGISTRY.supported_tasks["audio-classification"]["impl"] = AudioClassificationPipelineByModelType

# save_pretrained then writes an `auto_map` and copies the code, so a saved folder loads with
# trust_remote_code=True where this package is not installed.
AudioMAEConfig.register_for_auto_class()
AudioMAEFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
AudioMAEModel.register_for_auto_class("AutoModel")
AudioMAEForPreTraining.register_for_auto_class("AutoModelForPreTraining")
AudioMAEForAudioClassification.register_for_auto_class("AutoModelForAudioClassification")

__version__ = "0.1.0"

__all__ = [
    "AudioMAEAudioClassificationPipeline",
    "AudioMAEConfig",
    "AudioMAEFeatureExtractor",
    "AudioMAEForAudioClassification",
    "AudioMAEForPreTraining",
    "AudioMAEModel",
    "AudioMAEPreTrainedModel",
]

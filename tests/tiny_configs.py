"""The tiny Audio-MAE the model and integration tests share: a 128-frame x 32-bin input, an 8x2 patch grid."""

from audiomae_hf import AudioMAEConfig


def tiny_config(**overrides) -> AudioMAEConfig:
    fields = dict(
        num_mel_bins=32,
        target_length=128,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        decoder_hidden_size=32,
        decoder_num_hidden_layers=2,
        decoder_num_attention_heads=4,
        decoder_window_size=(4, 2),
        decoder_shift_size=(2, 0),
        decoder_position_bias_hidden_size=16,
        mask_ratio=0.75,
        num_labels=3,
    )
    fields.update(overrides)
    return AudioMAEConfig(**fields)

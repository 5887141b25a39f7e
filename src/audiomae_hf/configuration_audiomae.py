"""Audio-MAE model configuration."""

from typing import Literal

from transformers import PreTrainedConfig

DECODER_ATTENTIONS = ("local", "local_no_shift", "hybrid", "global")


class AudioMAEConfig(PreTrainedConfig):
    r"""
    Configuration of an Audio-MAE model ("Masked Autoencoders that Listen", Huang et al. 2022). The defaults are the
    released ViT-B AudioSet recipe: 1024 frames x 128 mel bins cut into 16x16 patches (a 64x8 grid of 512 tokens), a
    12-layer 768-wide encoder and a 16-layer 512-wide decoder with local shifted-window attention.

    Args:
        num_mel_bins (`int`, defaults to 128):
            Mel bins of the input log-mel spectrogram (the frequency axis).
        target_length (`int`, defaults to 1024):
            Frames of the input spectrogram (10 ms hop, so 1024 frames is about 10 s). Sets the size of the position
            tables; shorter inputs (any multiple of `patch_size` frames) use the first rows of those tables.
        patch_size (`int`, defaults to 16):
            Side of the square, non-overlapping patches.
        hidden_size (`int`, defaults to 768):
            Width of the encoder.
        num_hidden_layers (`int`, defaults to 12):
            Encoder blocks.
        num_attention_heads (`int`, defaults to 12):
            Attention heads of each encoder block.
        mlp_ratio (`float`, defaults to 4.0):
            Hidden width of every MLP (encoder and decoder) relative to its block's width.
        hidden_act (`str`, defaults to `"gelu"`):
            Activation of the MLPs.
        qkv_bias (`bool`, defaults to `True`):
            Whether the query/key/value projections have a bias.
        layer_norm_eps (`float`, defaults to 1e-6):
            Epsilon of every LayerNorm.
        hidden_dropout_prob (`float`, defaults to 0.0):
            Dropout after the attention projection and inside the MLPs.
        attention_probs_dropout_prob (`float`, defaults to 0.0):
            Dropout on the attention probabilities.
        drop_path_rate (`float`, defaults to 0.0):
            Stochastic depth of the encoder, rising linearly from 0 at the first block to this value at the last.
            The released fine-tuning recipe uses 0.1; pretraining uses 0.
        initializer_range (`float`, defaults to 0.02):
            Standard deviation of the normal init of the cls and mask tokens.
        decoder_hidden_size (`int`, defaults to 512):
            Width of the pretraining decoder.
        decoder_num_hidden_layers (`int`, defaults to 16):
            Decoder blocks.
        decoder_num_attention_heads (`int`, defaults to 16):
            Attention heads of each decoder block.
        decoder_attention (`str`, defaults to `"local"`):
            The decoder variants the paper compares. `"local"`: the released decoder, Swin-V2 style blocks (scaled
            cosine attention, continuous relative position bias, post-norm) attending inside `decoder_window_size`
            windows of the patch grid, shifted by `decoder_shift_size` on odd blocks. `"local_no_shift"`: the same
            blocks with the windows never shifted (the release's `--no_shift`). `"global"`: plain pre-norm ViT blocks
            attending over all tokens, cls token included. `"hybrid"`: `"local"` blocks, then the last
            `decoder_num_global_layers` blocks global; the cls token joins at the first global block.
        decoder_num_global_layers (`int`, defaults to 2):
            Global blocks at the end of the `"hybrid"` decoder, from 0 (the same as `"local"`) to
            `decoder_num_hidden_layers` (the same as `"global"`). Ignored by the other variants.
        decoder_window_size (`tuple[int, int]`, defaults to `(4, 4)`):
            (time, frequency) patches per attention window of the local decoder.
        decoder_shift_size (`tuple[int, int]`, defaults to `(2, 0)`):
            (time, frequency) shift of the windows on odd local-decoder blocks. The release shifts along time only.
        decoder_position_bias_hidden_size (`int`, defaults to 384):
            Hidden width of the MLP that maps relative coordinates to the local decoder's attention bias.
        decoder_position_bias_dropout (`float`, defaults to 0.1):
            Dropout inside that MLP (active in training, as in the release).
        mask_ratio (`float`, defaults to 0.8):
            Fraction of patches hidden from the encoder in pretraining with `mask_mode="random"`.
        mask_mode (`str`, defaults to `"random"`):
            Pretraining masking: `"random"` hides `mask_ratio` of the patches independently; `"time_frequency"` hides
            whole time rows and frequency columns of the patch grid, with `mask_time_prob` and `mask_frequency_prob`.
        mask_time_prob (`float`, defaults to 0.2):
            Fraction of time rows of the patch grid dropped: while fine-tuning the classifier (its training mode
            only), and in pretraining with `mask_mode="time_frequency"`.
        mask_frequency_prob (`float`, defaults to 0.2):
            Fraction of frequency columns dropped, likewise.
        norm_pix_loss (`bool`, defaults to `True`):
            Whether reconstruction targets are normalised per patch (zero mean, unit variance).
        use_mean_pooling (`bool`, defaults to `True`):
            Classifier pooling: mean of the patch tokens (the release) or the cls token. Either is followed by
            `fc_norm`.

    Example:

    ```python
    >>> from audiomae_hf import AudioMAEConfig, AudioMAEForPreTraining
    >>> config = AudioMAEConfig()  # ViT-B, AudioSet recipe
    >>> model = AudioMAEForPreTraining(config)
    ```
    """

    model_type = "audiomae"

    num_mel_bins: int = 128
    target_length: int = 1024
    patch_size: int = 16
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    mlp_ratio: float = 4.0
    hidden_act: str = "gelu"
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-6
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    drop_path_rate: float = 0.0
    initializer_range: float = 0.02
    decoder_hidden_size: int = 512
    decoder_num_hidden_layers: int = 16
    decoder_num_attention_heads: int = 16
    decoder_attention: Literal["local", "local_no_shift", "hybrid", "global"] = "local"
    decoder_num_global_layers: int = 2
    decoder_window_size: tuple[int, int] | list[int] = (4, 4)
    decoder_shift_size: tuple[int, int] | list[int] = (2, 0)
    decoder_position_bias_hidden_size: int = 384
    decoder_position_bias_dropout: float = 0.1
    mask_ratio: float = 0.8
    mask_mode: Literal["random", "time_frequency"] = "random"
    mask_time_prob: float = 0.2
    mask_frequency_prob: float = 0.2
    norm_pix_loss: bool = True
    use_mean_pooling: bool = True

    def __post_init__(self, **kwargs):
        # JSON has no tuples: a saved config comes back with lists.
        self.decoder_window_size = tuple(self.decoder_window_size)
        self.decoder_shift_size = tuple(self.decoder_shift_size)
        super().__post_init__(**kwargs)
        self.check_recipe()

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(time, frequency) patches of a full-length input: (64, 8) for the defaults."""
        return self.target_length // self.patch_size, self.num_mel_bins // self.patch_size

    @property
    def decoder_num_local_layers(self) -> int:
        """Decoder blocks with window attention: they come first, any global blocks after them."""
        if self.decoder_attention == "global":
            return 0
        if self.decoder_attention == "hybrid":
            return self.decoder_num_hidden_layers - self.decoder_num_global_layers
        return self.decoder_num_hidden_layers

    @property
    def num_patches(self) -> int:
        time_patches, frequency_patches = self.patch_grid
        return time_patches * frequency_patches

    def check_recipe(self) -> None:
        """Raise a `ValueError` naming the field to change if the fields do not describe a buildable model."""
        for name in ("num_mel_bins", "target_length"):
            if getattr(self, name) % self.patch_size:
                raise ValueError(
                    f"{name}={getattr(self, name)} is not a multiple of patch_size={self.patch_size}: "
                    f"choose a {name} divisible by the patch size, or another patch_size."
                )
        for width, heads in (
            ("hidden_size", "num_attention_heads"),
            ("decoder_hidden_size", "decoder_num_attention_heads"),
        ):
            if getattr(self, width) % getattr(self, heads):
                raise ValueError(
                    f"{width}={getattr(self, width)} is not divisible by {heads}={getattr(self, heads)}: "
                    "every head needs the same width."
                )
        for width in ("hidden_size", "decoder_hidden_size"):
            if getattr(self, width) % 4:
                raise ValueError(
                    f"{width}={getattr(self, width)} must be a multiple of 4 for the 2-D sin-cos position table."
                )
        for name in (
            "mask_ratio",
            "mask_time_prob",
            "mask_frequency_prob",
            "hidden_dropout_prob",
            "attention_probs_dropout_prob",
            "drop_path_rate",
            "decoder_position_bias_dropout",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value} is a probability and must lie in [0, 1].")
        if self.mask_ratio == 1.0:
            raise ValueError("mask_ratio=1.0 leaves the encoder nothing to see; use a value below 1.")
        if self.decoder_attention not in DECODER_ATTENTIONS:
            raise ValueError(
                f"decoder_attention={self.decoder_attention!r}: expected one of {', '.join(map(repr, DECODER_ATTENTIONS))}."
            )
        if self.decoder_attention == "hybrid" and (
            isinstance(self.decoder_num_global_layers, bool)
            or not isinstance(self.decoder_num_global_layers, int)
            or not 0 <= self.decoder_num_global_layers <= self.decoder_num_hidden_layers
        ):
            raise ValueError(
                f"decoder_num_global_layers={self.decoder_num_global_layers!r} must be a whole number of blocks in "
                f"[0, decoder_num_hidden_layers={self.decoder_num_hidden_layers}] for the hybrid decoder."
            )
        if self.mask_mode not in ("random", "time_frequency"):
            raise ValueError(f"mask_mode={self.mask_mode!r}: expected 'random' or 'time_frequency'.")
        if self.decoder_attention != "global":
            for name in ("decoder_window_size", "decoder_shift_size"):
                if len(getattr(self, name)) != 2:
                    raise ValueError(f"{name}={getattr(self, name)} must be a (time, frequency) pair.")
            for axis, patches, window, shift in zip(
                ("time", "frequency"), self.patch_grid, self.decoder_window_size, self.decoder_shift_size, strict=True
            ):
                if window < 1 or patches % window:
                    raise ValueError(
                        f"decoder_window_size {axis} side {window} does not divide the {patches} {axis} patches of "
                        f"the grid {self.patch_grid}: pick a window side that divides it."
                    )
                if not 0 <= shift < window:
                    raise ValueError(
                        f"decoder_shift_size {axis} shift {shift} must lie in [0, {window}) for windows of {window}: "
                        f"set decoder_shift_size with decoder_window_size (the release shifts by half a window in "
                        f"time, 0 in frequency: ({self.decoder_window_size[0] // 2}, 0) here)."
                    )


__all__ = ["AudioMAEConfig"]

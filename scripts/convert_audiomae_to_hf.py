"""Convert an official Audio-MAE checkpoint (or its timm port) into a Hugging Face model folder.

    python scripts/convert_audiomae_to_hf.py pretrained.pth audiomae-vit-base-as2m
    python scripts/convert_audiomae_to_hf.py finetuned.pth audiomae-ft-as2m --push_to_hub me/audiomae-ft-as2m

The folder loads with `AutoModelForPreTraining` (pretrained.pth), `AutoModelForAudioClassification` (finetuned.pth) or
`AutoModel` (an encoder alone, or `--encoder-only`); see `audiomae_hf.convert`. The official weights are CC BY-NC 4.0, and so is the output.
"""

import argparse
import sys

from audiomae_hf.convert import CheckpointError, convert_checkpoint


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="official pretrained.pth / finetuned.pth, or a timm model.safetensors")
    parser.add_argument("output_dir", help="folder to create; it must not exist yet (or be empty)")
    parser.add_argument("--push_to_hub", "--push-to-hub", metavar="REPO_ID", help="also upload the folder there")
    parser.add_argument("--private", action="store_true", help="create the Hub repository as private")
    parser.add_argument(
        "--num-attention-heads",
        type=int,
        help="encoder heads, for a width that no official preset has (384: 6, 768: 12, 1024 and 1280: 16)",
    )
    parser.add_argument(
        "--decoder-num-attention-heads", type=int, help="heads of a global-attention decoder (official: 16)"
    )
    parser.add_argument(
        "--encoder-only",
        action="store_true",
        help="convert only the encoder into AudioMAEModel, leaving out any final norm, decoder or head "
        "(needed for timm exports of the pretrained encoder, which carry a final norm and a placeholder head)",
    )
    parser.add_argument("--converted-from", help="name or URL of the source checkpoint, for the model card")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        folder = convert_checkpoint(
            args.checkpoint,
            args.output_dir,
            push_to_hub=args.push_to_hub,
            private=args.private or None,
            num_attention_heads=args.num_attention_heads,
            decoder_num_attention_heads=args.decoder_num_attention_heads,
            encoder_only=args.encoder_only,
            converted_from=args.converted_from,
        )
    except (CheckpointError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {folder}" + (f" and uploaded it to {args.push_to_hub}" if args.push_to_hub else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

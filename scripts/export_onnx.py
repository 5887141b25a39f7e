"""Command-line entry point; see `audiomae_hf.onnx_export` for the arguments (`--help`)."""

from audiomae_hf.onnx_export import main

if __name__ == "__main__":
    main()

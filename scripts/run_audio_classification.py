"""Command-line entry point; see `audiomae_hf.run_audio_classification` for the arguments (`--help`)."""

from audiomae_hf.run_audio_classification import main

if __name__ == "__main__":
    main()

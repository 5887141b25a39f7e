"""Command-line entry point; see `audiomae_hf.run_pretraining` for the arguments (`--help`)."""

from audiomae_hf.run_pretraining import main

if __name__ == "__main__":
    main()

"""Command-line entry point; see `audiomae_hf.downstream_data` for the corpora and arguments (`--help`)."""

from audiomae_hf.downstream_data import main

if __name__ == "__main__":
    main()

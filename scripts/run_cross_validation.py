"""Command-line entry point; see `audiomae_hf.run_cross_validation` for the arguments (`--help`)."""

from audiomae_hf.run_cross_validation import main

if __name__ == "__main__":
    main()

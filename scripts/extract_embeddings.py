"""Command-line entry point; see `audiomae_hf.embeddings` for the arguments (`--help`)."""

from audiomae_hf.embeddings import main

if __name__ == "__main__":
    main()

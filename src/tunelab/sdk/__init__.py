"""The Tunelab SDK: what training scripts import."""

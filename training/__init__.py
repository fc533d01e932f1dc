"""Offline training of the service's models (needs the `train` extra: PyTorch)."""

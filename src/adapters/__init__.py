"""Adapters: everything that touches torch, transformers, peft, files, trackers."""

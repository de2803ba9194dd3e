"""Composition root: configuration, the DI container and the command-line interface."""

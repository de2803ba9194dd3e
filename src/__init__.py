"""Adaptive Learner: continual learning on a frozen LM with a library of LoRA experts.

The hexagon's layers are sub-packages: `adaptive_learner.domain`, `.application`, `.adapters`
and `.bootstrap` (the folders `src/domain/`, ... mapped onto one import package, ADR 0019).
"""

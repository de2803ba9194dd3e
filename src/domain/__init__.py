"""The continual-learning domain: tasks, experts, consolidation, routing and metrics.

Standard library and attrs only; nothing here knows about tensors.
"""

"""Saving: atomic writes of files and folders, the run folder of `fit`, and presets.

This package lies below everything that saves (training, evaluation, export) and
imports none of them, nor the zoo.
"""

__all__ = []

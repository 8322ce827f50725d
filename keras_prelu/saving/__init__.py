"""Saving: atomic writes of files and folders, and the run folder of `fit`.

This package lies below everything that saves (training, evaluation, export) and
imports none of them.
"""

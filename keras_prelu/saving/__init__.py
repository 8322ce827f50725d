"""Below everything that saves: atomic writes and presets. Imports no zoo, training or
evaluation module."""

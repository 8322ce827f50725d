"""What every study shares: its JSON file and the per-epoch series of a run."""

import dataclasses
import logging
from pathlib import Path

from keras_prelu.saving import atomic

__all__ = ["percent", "write_study"]

logger = logging.getLogger(__name__)


def write_study(result, out_dir, name):
    """Writes the dataclass `result` as JSON to `out_dir/<name>.json`; returns the path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    atomic.write_json(path, dataclasses.asdict(result))
    logger.info("Wrote %s", path)
    return path


def percent(fractions):
    """Fractions (a float or a sequence) as percentages, rounded to 0.01."""
    if isinstance(fractions, (int, float)):
        return round(100.0 * fractions, 2)
    return tuple(round(100.0 * value, 2) for value in fractions)

"""The README's tables, read by the tests that recompute them."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_zoo_table(names):
    """`{model: its cells}` of the README's zoo table, for the models of `names`."""
    rows = {}
    for line in README.read_text().splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|(.*)\|\s*$", line)
        if match and match.group(1) in names:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows

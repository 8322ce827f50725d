"""The zoo table, on the front page and on the zoo's page, read by the tests that recompute it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
ZOO_PAGE = ROOT / "docs" / "zoo.md"


def readme_zoo_table(names):
    """`{model: its cells}` of the zoo table for the models of `names`, the same on
    README.md and docs/zoo.md."""
    tables = [_zoo_table(page, names) for page in (README, ZOO_PAGE)]
    assert tables[0] == tables[1], "README.md's zoo table differs from docs/zoo.md's"
    return tables[0]


def _zoo_table(page, names):
    rows = {}
    for line in page.read_text().splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|(.*)\|\s*$", line)
        if match and match.group(1) in names:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows

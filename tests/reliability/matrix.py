"""The reliability matrix's rows (docs/reliability.md): each test that tries a family of bad inputs
records how many cases it tried, how many the plugin survived, and what (if anything) was lost or
leaked. The conftest prints the table at the end of the run; docs/reliability.md is that printout.

A case "survives" when the plugin answered it as designed: a clear error of ours (never a crash of
the host process or another container, never a hang), with nothing left behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

ENV = "WASMCONTAINERS_MATRIX_DIR"
"""Where rows are written (one JSON file per row, so xdist workers do not share a file)."""


@dataclass
class Row:
    section: str
    """Hostile or broken images, Registry misbehaviour, Guest misbehaviour, Lifecycle."""
    what: str
    tried: int
    survived: int
    lost: str = "nothing"
    """What was lost or leaked (measured), "nothing" when nothing was."""
    notes: list[str] = field(default_factory=list)


def record(row: Row) -> None:
    directory = Path(os.environ.get(ENV) or Path(os.environ.get("TMPDIR", "/tmp")) / "wasmc-matrix")
    directory.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() else "-" for c in f"{row.section}-{row.what}")[:120]
    (directory / f"{name}.json").write_text(json.dumps(asdict(row)))


def load(directory: Path) -> list[Row]:
    rows = []
    for path in sorted(directory.glob("*.json")):
        rows.append(Row(**json.loads(path.read_text())))
    return rows


def table(rows: list[Row]) -> list[str]:
    order = ["Hostile or broken images", "Registry misbehaviour", "Guest misbehaviour", "Lifecycle"]
    rows = sorted(rows, key=lambda r: (order.index(r.section) if r.section in order else 99, r.what))
    out = [
        "| section | what was tried | cases | survived | lost or leaked |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        out.append(f"| {r.section} | {r.what} | {r.tried} | {r.survived} | {r.lost} |")
    total_tried = sum(r.tried for r in rows)
    total_ok = sum(r.survived for r in rows)
    out.append(f"| all | | {total_tried} | {total_ok} | |")
    return out

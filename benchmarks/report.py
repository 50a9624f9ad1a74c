"""The result file (every sample) and the Markdown table for the README."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .stats import Figure, Series, summary


def _num(value: float, unit: str) -> str:
    if unit == "req/s":
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def _cell(series: Series | None, unit: str) -> str:
    if series is None:
        return "—"
    if not series.ok:
        reason = (series.unavailable or "no samples").replace("|", "/").splitlines()[0]
        return f"unavailable ({reason[:140]})"
    s = summary(series.samples)
    return (
        f"**{_num(s['median'], unit)} {unit}** (IQR {_num(s['q1'], unit)}-{_num(s['q3'], unit)}, "
        f"n={s['n']})<br>{series.label}"
    )


def _ratio(fig: Figure) -> str:
    r = fig.ratio
    if r is None:
        return "—"
    word = "faster" if fig.better == "lower" and fig.unit in ("ms", "s") else "better"
    if fig.better == "higher":
        return f"{r:.2f}x the baseline"
    return f"{r:.1f}x {word}" if r >= 1 else f"{1 / r:.2f}x worse"


def _met(fig: Figure) -> str:
    return {True: "met", False: "**not met**", None: "not judged"}[fig.met]


def markdown(figures: list[Figure], machine: dict[str, Any], mode: str, when: str, commit: str = "") -> str:
    lines = [
        f"Measured {when}{f' at {commit}' if commit else ''} ({mode} mode) on {machine['cpu_model']}, {machine['cpu_cores']} cores, "
        f"{machine['memory_gib']} GiB, {machine['os']}; Python {machine['python']}, wasmtime-py "
        f"{machine['wasmtime_py']}, {machine['wasmtime_cli'] or 'no wasmtime CLI'}, Docker "
        f"{machine['docker_server'] or 'absent'}, {machine['wrk'] or 'no wrk'}. Load average at start "
        f"{machine['load_average_at_start']}, at end {machine.get('load_average_at_end')}.",
        "",
        "| Figure | pytest-wasmcontainers | Baseline (same run) | Ratio | Target | Met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        lines.append(
            f"| {f.title} | {_cell(f.ours, f.unit)} | {_cell(f.baseline, f.unit)} | {_ratio(f)} | "
            f"{f.target.text if f.target else '—'} | {_met(f) if f.target else '—'} |"
        )
    parts = [(f, s) for f in figures for s in (f.ours, f.baseline) if s is not None and s.ok and s.breakdown]
    if parts:
        lines += ["", "Where the time goes (medians):", ""]
        for f, s in parts:
            bits = ", ".join(f"{k} {_num(summary(v)['median'], f.unit)}" for k, v in s.breakdown.items() if v)
            lines.append(f"- {f.title}, {s.label}: {bits} ({f.unit})")
    extras = [(f, s) for f in figures for s in (f.ours, f.baseline) if s is not None and s.ok and s.extra]
    if extras:
        lines += ["", "Side measurements (medians):", ""]
        for f, s in extras:
            bits = ", ".join(f"{k} {_num(summary(v)['median'], '')}" for k, v in s.extra.items() if v)
            lines.append(f"- {f.title}, {s.label}: {bits}")
    notes: list[tuple[Figure, str]] = []
    for f in figures:
        for n in [*f.notes, *f.ours.notes, *(f.baseline.notes if f.baseline else [])]:
            if n not in (m for _, m in notes):
                notes.append((f, n))
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {f.title}: {n}" for f, n in notes]
    return "\n".join(lines) + "\n"


def write(
    out_dir: Path, stem: str, figures: list[Figure], machine: dict[str, Any], meta: dict[str, Any], md: str
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {**meta, "machine": machine, "figures": [f.to_json() for f in figures]}
    path = out_dir / f"{stem}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)
    return path

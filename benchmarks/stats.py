"""Figures: samples, their median and spread, a baseline from the same run, and a target."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal


def summary(samples: list[float]) -> dict[str, float]:
    """Median with the interquartile range and min/max (all samples are kept in the result file)."""
    s = sorted(samples)
    if len(s) >= 4:
        q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
    else:
        q1, q3 = s[0], s[-1]
    return {"median": statistics.median(s), "q1": q1, "q3": q3, "min": s[0], "max": s[-1], "n": len(s)}


@dataclass
class Series:
    """Repeated measurements of one thing, or the reason it could not be measured."""

    label: str
    samples: list[float] = field(default_factory=list)
    unavailable: str | None = None
    """Why there are no samples (e.g. Docker absent). Never reported as zero."""
    breakdown: dict[str, list[float]] = field(default_factory=dict)
    """Named parts of each sample (cold start: pull, unpack, compile, ...), same units."""
    extra: dict[str, list[float]] = field(default_factory=dict)
    """Side measurements per sample, their unit in the key (e.g. server CPU per request)."""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.unavailable is None and bool(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "samples": self.samples}
        if self.ok:
            out["summary"] = summary(self.samples)
        if self.unavailable:
            out["unavailable"] = self.unavailable
        if self.breakdown:
            out["breakdown"] = {
                k: {"samples": v, "summary": summary(v)} for k, v in self.breakdown.items() if v
            }
        if self.extra:
            out["extra"] = {k: {"samples": v, "summary": summary(v)} for k, v in self.extra.items() if v}
        if self.notes:
            out["notes"] = self.notes
        return out


@dataclass
class Target:
    """A goal from the issue. ``check(ours, baseline)`` takes medians; baseline may be None."""

    text: str
    check: Callable[[float, float | None], bool]
    needs_baseline: bool = False


@dataclass
class Figure:
    key: str
    title: str
    unit: str
    better: Literal["lower", "higher"]
    ours: Series
    baseline: Series | None = None
    target: Target | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        """How many times better ours is than the baseline (>1: ours wins), from the medians."""
        if not (self.baseline and self.baseline.ok and self.ours.ok):
            return None
        if self.better == "lower":
            return self.baseline.median / self.ours.median if self.ours.median else None
        return self.ours.median / self.baseline.median if self.baseline.median else None

    @property
    def met(self) -> bool | None:
        """True/False, or None when it could not be judged (a side is unavailable)."""
        if self.target is None or not self.ours.ok:
            return None
        base = self.baseline.median if self.baseline and self.baseline.ok else None
        if self.target.needs_baseline and base is None:
            return None
        return self.target.check(self.ours.median, base)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "better": self.better,
            "ours": self.ours.to_json(),
            "baseline": self.baseline.to_json() if self.baseline else None,
            "ratio_vs_baseline": self.ratio,
            "target": self.target.text if self.target else None,
            "met": self.met,
            "notes": self.notes,
        }

"""Intake's dependency providers: the repeat-call matcher (jieba loaded once per process)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nameko.extensions import DependencyProvider

from services.intake.similarity import DEFAULT_THRESHOLD, Segmenter

_SEGMENTER: Segmenter | None = None
_SEGMENTER_LOCK = threading.Lock()


def shared_segmenter() -> Segmenter:
    """The process's one loaded :class:`Segmenter` (jieba's dictionary is ≈80 MB in memory:
    two containers of intake in one process share it)."""
    global _SEGMENTER
    with _SEGMENTER_LOCK:
        if _SEGMENTER is None:
            _SEGMENTER = Segmenter().load()
        return _SEGMENTER


@dataclass(frozen=True)
class RepeatCallSettings:
    """``REPEAT_CALLS`` of the configuration (shared/default_config.yaml)."""

    threshold: float = DEFAULT_THRESHOLD
    window: timedelta = timedelta(days=30)
    max_compared: int = 200
    max_candidates: int = 10
    hotspot_callers: int = 3

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RepeatCallSettings:
        c = config.get("REPEAT_CALLS") or {}
        return cls(threshold=float(c.get("SIMILARITY_THRESHOLD", DEFAULT_THRESHOLD)),
                   window=timedelta(days=float(c.get("WINDOW_DAYS", 30))),
                   max_compared=int(c.get("MAX_COMPARED", 200)),
                   max_candidates=int(c.get("MAX_CANDIDATES", 10)),
                   hotspot_callers=int(c.get("HOTSPOT_CALLERS", 3)))


@dataclass(frozen=True)
class Matcher:
    """What a worker needs for repeat calls: tokens of a text, and the settings."""

    segmenter: Segmenter
    settings: RepeatCallSettings

    def tokens(self, *texts: str | None) -> frozenset[str]:
        return self.segmenter.tokens(*texts)


class RepeatCalls(DependencyProvider):
    """Injects the :class:`Matcher`; loads jieba's dictionary in ``setup()``, once."""

    def setup(self) -> None:
        self.matcher = Matcher(shared_segmenter(),
                               RepeatCallSettings.from_config(self.container.config))

    def get_dependency(self, worker_ctx: Any) -> Matcher:
        return self.matcher

"""Intake's dependency providers: the repeat-call matcher (jieba loaded once per process)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nameko.extensions import DependencyProvider

from services.intake.similarity import DEFAULT_MIN_FREQ, DEFAULT_THRESHOLD, Segmenter

_SEGMENTERS: dict[int, Segmenter] = {}
_SEGMENTER_LOCK = threading.Lock()


def shared_segmenter(min_freq: int = DEFAULT_MIN_FREQ) -> Segmenter:
    """The process's one loaded :class:`Segmenter` per dictionary (jieba's dictionary is tens
    of MB in memory: two containers of intake in one test process share it; the tokenizer
    itself is kept by shared/segmentation.py, one per configuration)."""
    with _SEGMENTER_LOCK:
        segmenter = _SEGMENTERS.get(min_freq)
        if segmenter is None:
            segmenter = _SEGMENTERS[min_freq] = Segmenter(min_freq=min_freq).load()
        return segmenter


@dataclass(frozen=True)
class RepeatCallSettings:
    """``REPEAT_CALLS`` of the configuration (shared/default_config.yaml)."""

    threshold: float = DEFAULT_THRESHOLD
    window: timedelta = timedelta(days=30)
    max_compared: int = 200
    max_candidates: int = 10
    hotspot_callers: int = 3
    dictionary_min_freq: int = DEFAULT_MIN_FREQ

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RepeatCallSettings:
        c = config.get("REPEAT_CALLS") or {}
        return cls(threshold=float(c.get("SIMILARITY_THRESHOLD", DEFAULT_THRESHOLD)),
                   window=timedelta(days=float(c.get("WINDOW_DAYS", 30))),
                   max_compared=int(c.get("MAX_COMPARED", 200)),
                   max_candidates=int(c.get("MAX_CANDIDATES", 10)),
                   hotspot_callers=int(c.get("HOTSPOT_CALLERS", 3)),
                   dictionary_min_freq=int(c.get("DICTIONARY_MIN_FREQ", DEFAULT_MIN_FREQ)))


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
        settings = RepeatCallSettings.from_config(self.container.config)
        self.matcher = Matcher(shared_segmenter(settings.dictionary_min_freq), settings)

    def get_dependency(self, worker_ctx: Any) -> Matcher:
        return self.matcher

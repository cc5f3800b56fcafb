"""Dispatch's settings, read from configuration once per process (STYLE.md §7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nameko.extensions import DependencyProvider

from services.dispatch.domain import KbAutoDispatch, ReviewPolicy

DEFAULT_PROBLEM_THRESHOLD = 3  # DOMAIN.md §3: transferred or re-handled 3 times → 问题工单


@dataclass(frozen=True)
class DispatchSettings:
    review: ReviewPolicy = field(default_factory=ReviewPolicy)
    problem_threshold: int = DEFAULT_PROBLEM_THRESHOLD
    kb_auto: KbAutoDispatch = field(default_factory=KbAutoDispatch)

    @classmethod
    def from_config(cls, config: Any) -> DispatchSettings:
        threshold = int(config.get("PROBLEM_ORDER_THRESHOLD") or DEFAULT_PROBLEM_THRESHOLD)
        if threshold < 1:
            raise ValueError("PROBLEM_ORDER_THRESHOLD must be at least 1")
        return cls(review=ReviewPolicy.from_config(config.get("DISPATCH_REVIEW")),
                   problem_threshold=threshold,
                   kb_auto=KbAutoDispatch.from_config(config.get("DISPATCH_KB_AUTO")))


class Settings(DependencyProvider):
    """Injects the :class:`DispatchSettings` built from the container config in ``setup()``."""

    def setup(self) -> None:
        self.settings = DispatchSettings.from_config(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.settings

"""The knowledge base's bulk import (批量导入) and its use and monitoring (资料库运行监控).
Owned by knowledge: these routes only authenticate, authorize and call it."""

from __future__ import annotations

from typing import Any

from services.gateway.domain import Principal


class KnowledgeOperationRoutes:
    """(Step 4: being built.)"""

    knowledge: Any

    def _authorize(self, request: Any, action: str) -> Principal:  # pragma: no cover - mixin
        raise NotImplementedError

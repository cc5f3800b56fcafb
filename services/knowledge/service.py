"""Knowledge service (资料库子系统, DOMAIN.md §7): entries, their versions and review, Chinese
search, bulk import, use and monitoring, and routing help for dispatch.

This module is the assembly: the dependencies, and the class that combines one entrypoint
mixin per concept (``services/knowledge/entrypoints/``; nameko finds entrypoints on base
classes). The plain rules are in domain.py and the modules it names.
"""

from __future__ import annotations

from services.knowledge.dependencies import SearchIndex
from services.knowledge.entrypoints.articles import ArticleEntrypoints
from services.knowledge.entrypoints.importing import ImportEntrypoints
from services.knowledge.entrypoints.routing import RoutingEntrypoints
from services.knowledge.entrypoints.search import SearchEntrypoints
from services.knowledge.entrypoints.usage import UsageEntrypoints
from services.knowledge.models import metadata
from shared.database import Database
from shared.logs import LogContext
from shared.operations import Operations


class KnowledgeService(ArticleEntrypoints, SearchEntrypoints, ImportEntrypoints,
                       UsageEntrypoints, RoutingEntrypoints, Operations):
    name = "knowledge"

    db = Database(metadata)
    search_index = SearchIndex()
    log_context = LogContext()

"""Departments as endpoints (DOMAIN.md §6): endpoint configuration, webhook deliveries and
their dead letters, and the department event feed for systems that pull."""

from __future__ import annotations


class EndpointRoutes:
    pass

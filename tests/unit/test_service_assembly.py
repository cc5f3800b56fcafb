"""Each service class is assembled from one mixin per concept; two mixins defining the same
name would silently shadow one another (the first in the MRO wins), as reporting's reports
and assessment once did with ``_summary``. No broker, no database: class inspection only."""

from __future__ import annotations

import importlib

import pytest

SERVICES = {
    "dispatch": "services.dispatch.service:DispatchService",
    "supervision": "services.supervision.service:SupervisionService",
    "knowledge": "services.knowledge.service:KnowledgeService",
    "reporting": "services.reporting.service:ReportingService",
    "gateway": "services.gateway.service:GatewayService",
}


def _load(path: str) -> type:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_no_two_mixins_define_the_same_name(service: str) -> None:
    cls = _load(SERVICES[service])
    owners: dict[str, list[str]] = {}
    for base in cls.__mro__[1:]:
        if not base.__module__.startswith(f"services.{service}."):
            continue  # shared bases (Operations, object) are meant to be overridden
        for name, value in vars(base).items():
            if name.startswith("__") or not callable(getattr(value, "__func__", value)):
                continue
            if name in vars(cls):
                continue  # defined by the service itself; mixins may declare it as a stub
            owners.setdefault(name, []).append(base.__name__)
    clashes = {name: where for name, where in owners.items() if len(where) > 1}
    assert clashes == {}

"""Where each service's class lives. The CLI, migrations and queue declarations use this."""

from __future__ import annotations

from importlib import import_module

SERVICE_CLASSES = {
    "intake": "services.intake.service:IntakeService",
    "dispatch": "services.dispatch.service:DispatchService",
    "supervision": "services.supervision.service:SupervisionService",
    "knowledge": "services.knowledge.service:KnowledgeService",
    "reporting": "services.reporting.service:ReportingService",
    "gateway": "services.gateway.service:GatewayService",
}

SERVICE_NAMES = tuple(SERVICE_CLASSES)


def service_class(name: str) -> type:
    try:
        module, attr = SERVICE_CLASSES[name].split(":")
    except KeyError:
        raise SystemExit(f"unknown service {name!r}; known: {', '.join(SERVICE_NAMES)}") from None
    return getattr(import_module(module), attr)


def all_service_classes() -> list[type]:
    return [service_class(n) for n in SERVICE_NAMES]

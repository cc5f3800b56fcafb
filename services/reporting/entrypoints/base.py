"""What several of reporting's entrypoint mixins share.

Every mixin of :class:`services.reporting.service.ReportingService` derives from
:class:`ReportingBase`; the dependencies (``self.db``) are declared on the service class.
``viewer`` arguments are the caller as the gateway authenticated it: ``{"role",
"department_code", "via"}``; what a department may see is decided here, not only at the edge.
"""

from __future__ import annotations

from typing import Any

from shared.errors import Forbidden

CENTER_ROLES = frozenset({"supervisor", "leader", "admin", "dispatcher"})


class ReportingBase:
    """The helpers several areas use; the dependencies are the service class's."""

    db: Any
    settings: Any

    def _spike_rule(self) -> Any:
        """突发热点's threshold from the config's ``HOTSPOTS`` block (hotspots.SpikeRule)."""
        from services.reporting.hotspots import SpikeRule
        return SpikeRule.from_settings(self.settings)

    @staticmethod
    def _own_department(viewer: dict[str, Any] | None) -> str | None:
        """None for the center (sees every department); a department's code for its users and
        systems (they see their own figures only)."""
        viewer = viewer or {"role": "supervisor"}
        if viewer.get("role") == "department":
            code = viewer.get("department_code")
            if not code:
                raise Forbidden("部门用户缺少所属部门 a department viewer without a department",
                                {"viewer": viewer.get("role")})
            return str(code)
        return None

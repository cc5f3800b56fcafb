"""Department assessment 部门考核: computed per department per quarter, manual items,
publication, objections and corrections. (Step 5: being built.)"""

from __future__ import annotations

from services.reporting.entrypoints.base import ReportingBase


class AssessmentEntrypoints(ReportingBase):
    pass

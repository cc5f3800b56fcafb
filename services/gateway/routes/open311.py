"""Open311 GeoReport v2 (docs/OPEN311.md) and mySociety's servicerequestupdates extension."""

from __future__ import annotations


class Open311Routes:
    pass

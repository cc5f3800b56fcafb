"""Reporting's entrypoints, one mixin per concept (assembled in ``services/reporting/service.py``)."""

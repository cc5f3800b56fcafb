"""Supervision's entrypoints, one mixin per concept, combined into
:class:`services.supervision.service.SupervisionService`:

- :mod:`.facts` — the two event handlers (intake's and dispatch's facts);
- :mod:`.lifecycle` — the status, 办结 and 重办 by hand, the order's state;
- :mod:`.clocks` — the assignments' clocks (dispatch, sign, reply, 下派, 协办 opinions);
- :mod:`.callbacks` — 回访, of the citizen and of linked callers;
- :mod:`.extensions` — 延期; :mod:`.returns` — 退单; :mod:`.recalls` — 撤回派单;
- :mod:`.urging` — the deadline sweep, manual urges, answers to urges;
- :mod:`.oversight` — 督办单, escalation, 每月催办;
- :mod:`.rechecks` — 回头看;
- :mod:`.instructions` — leader instructions 领导批示件;
- :mod:`.base` — what several of them share.
"""

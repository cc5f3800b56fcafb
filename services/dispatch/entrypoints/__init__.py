"""Dispatch's entrypoints, one mixin per concept, combined into
:class:`services.dispatch.service.DispatchService`:

- :mod:`.dispatching` — a registered order routed (dispatched or held), 重办's new round;
- :mod:`.queue` — 待派单 / 预审: the queue, the knowledge base's suggestion, dispatch by hand;
- :mod:`.returns` — 退单; :mod:`.recalls` — 撤回派单;
- :mod:`.deadlines` — the assignments' deadlines and 延期, as supervision reports them;
- :mod:`.oversight` — 催办 and 督办单 relayed to the department's feed;
- :mod:`.assignments` — a department's work: 签收, 协办意见, 下派, 答复, 办理进展;
- :mod:`.inbox` — reading assignments: a department's inbox, an order's, one's details;
- :mod:`.catalogue` — the routing catalogue (派单目录) and its revisions;
- :mod:`.reference` — territories, departments, and the reference-data load;
- :mod:`.delivery` — the department feed (部门消息流), pulled and pushed (webhook deliveries);
- :mod:`.endpoints` — departments' endpoints (部门对接方式);
- :mod:`.base` — what several of them share.
"""

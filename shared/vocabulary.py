"""The hotline's shared vocabulary (DOMAIN.md §2): codes used on the bus and in the API.

Codes are English identifiers; each carries its Chinese name, which is what the console and
reports show. A city can extend categories in configuration; these are the national defaults
(seed 003 第3篇; GB/T 39666 adds finer codes).
"""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "consultation": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
    "praise": "表扬",
    "other": "其他",
}

URGENCIES: dict[str, str] = {
    "normal": "一般",
    "urgent": "紧急",
    "critical": "特急",
}

CHANNELS: dict[str, str] = {
    "phone": "电话",
    "web": "网站",
    "app": "移动应用",
    "wechat": "微信",
    "open311": "Open311",
    "letter": "来信",
    "leader_instruction": "领导批示",
}

# Lifecycle statuses (DOMAIN.md §3); supervision owns the transitions.
STATUSES: dict[str, str] = {
    "registered": "已登记",
    "resolved_at_intake": "直接办结",
    "pending_dispatch": "待派单",
    "dispatched": "已派单",
    "in_progress": "办理中",
    "return_requested": "退单待审",
    "replied": "已答复待回访",
    "reopened": "重办",
    "closed": "办结",
}

SATISFACTION: dict[str, str] = {
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "unsatisfied": "不满意",
}

ROLES: dict[str, str] = {
    "agent": "话务员",
    "dispatcher": "派单员",
    "department": "承办单位",
    "supervisor": "督办",
    "leader": "领导",
    "admin": "管理员",
    "auditor": "审计",
}

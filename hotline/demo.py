"""Demo data: a realistic city (泸州市, the city of seed 004) with its districts, streets,
communities, departments, a routing catalogue (派单目录), knowledge entries and demo users.

Loaded through the services' own RPC entrypoints, so it goes through the same validation
as anything an administrator enters.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEMO_PASSWORD = "demo12345"

TERRITORIES: list[dict[str, Any]] = [
    {"code": "510500", "name": "泸州市", "level": "city"},
    {"code": "510502", "name": "江阳区", "level": "district", "parent_code": "510500"},
    {"code": "510503", "name": "纳溪区", "level": "district", "parent_code": "510500"},
    {"code": "510504", "name": "龙马潭区", "level": "district", "parent_code": "510500"},
    {"code": "510521", "name": "泸县", "level": "district", "parent_code": "510500"},
    {"code": "510502001", "name": "南城街道", "level": "street", "parent_code": "510502"},
    {"code": "510502002", "name": "北城街道", "level": "street", "parent_code": "510502"},
    {"code": "510502003", "name": "大山坪街道", "level": "street", "parent_code": "510502"},
    {"code": "510503001", "name": "安富街道", "level": "street", "parent_code": "510503"},
    {"code": "510503002", "name": "永宁街道", "level": "street", "parent_code": "510503"},
    {"code": "510504001", "name": "小市街道", "level": "street", "parent_code": "510504"},
    {"code": "510504002", "name": "红星街道", "level": "street", "parent_code": "510504"},
    {"code": "510521001", "name": "玉蟾街道", "level": "street", "parent_code": "510521"},
    {"code": "510502001001", "name": "白招牌社区", "level": "community", "parent_code": "510502001"},
    {"code": "510502001002", "name": "水井沟社区", "level": "community", "parent_code": "510502001"},
    {"code": "510504001001", "name": "沱江社区", "level": "community", "parent_code": "510504001"},
]

DEPARTMENTS: list[dict[str, Any]] = [
    {"code": "center", "name": "泸州市12345政务服务便民热线中心", "kind": "center"},
    {"code": "chengguan", "name": "市综合行政执法局（城管）", "kind": "bureau"},
    {"code": "zhujian", "name": "市住房和城乡建设局", "kind": "bureau"},
    {"code": "jiaotong", "name": "市交通运输局", "kind": "bureau"},
    {"code": "shichang", "name": "市市场监督管理局", "kind": "bureau"},
    {"code": "renshe", "name": "市人力资源和社会保障局", "kind": "bureau"},
    {"code": "huanbao", "name": "市生态环境局", "kind": "bureau"},
    {"code": "gongan", "name": "市公安局", "kind": "bureau"},
    {"code": "weijian", "name": "市卫生健康委员会", "kind": "bureau"},
    {"code": "jiaoyu", "name": "市教育和体育局", "kind": "bureau"},
    {"code": "shuiwu", "name": "市水务局", "kind": "bureau"},
    {"code": "minzheng", "name": "市民政局", "kind": "bureau"},
    {"code": "ziranziyuan", "name": "市自然资源和规划局", "kind": "bureau"},
    {"code": "gongdian", "name": "国网泸州供电公司", "kind": "bureau"},
    {"code": "jiangyang", "name": "江阳区人民政府", "kind": "district", "territory_code": "510502"},
    {"code": "naxi", "name": "纳溪区人民政府", "kind": "district", "territory_code": "510503"},
    {"code": "longmatan", "name": "龙马潭区人民政府", "kind": "district", "territory_code": "510504"},
    {"code": "luxian", "name": "泸县人民政府", "kind": "district", "territory_code": "510521"},
    {"code": "jy_nancheng", "name": "江阳区南城街道办事处", "kind": "street",
     "parent_code": "jiangyang", "territory_code": "510502001"},
    {"code": "jy_beicheng", "name": "江阳区北城街道办事处", "kind": "street",
     "parent_code": "jiangyang", "territory_code": "510502002"},
    {"code": "jy_dashanping", "name": "江阳区大山坪街道办事处", "kind": "street",
     "parent_code": "jiangyang", "territory_code": "510502003"},
    {"code": "nx_anfu", "name": "纳溪区安富街道办事处", "kind": "street",
     "parent_code": "naxi", "territory_code": "510503001"},
    {"code": "lmt_xiaoshi", "name": "龙马潭区小市街道办事处", "kind": "street",
     "parent_code": "longmatan", "territory_code": "510504001"},
    {"code": "lmt_hongxing", "name": "龙马潭区红星街道办事处", "kind": "street",
     "parent_code": "longmatan", "territory_code": "510504002"},
    {"code": "jy_baizhaopai", "name": "南城街道白招牌社区居委会", "kind": "community",
     "parent_code": "jy_nancheng", "territory_code": "510502001001"},
]

RULES: list[dict[str, Any]] = [
    {"keywords": ["占道经营", "乱摆摊", "流动摊贩", "违章建筑", "违建", "乱堆乱放"],
     "lead": "chengguan", "assists": ["@street"], "note": "市容秩序"},
    {"keywords": ["夜间施工", "施工扰民", "工地噪音"], "lead": "chengguan", "note": "施工噪声"},
    {"keywords": ["噪音", "噪声", "油烟", "排污", "异味", "污染"], "lead": "huanbao",
     "note": "环境污染"},
    {"keywords": ["物业", "维修基金", "电梯", "房屋漏水", "小区"], "lead": "zhujian",
     "assists": ["@district"], "note": "物业与房屋"},
    {"keywords": ["公交", "出租车", "网约车", "客运"], "lead": "jiaotong", "note": "交通运输"},
    {"keywords": ["食品", "价格", "消费", "假冒", "缺斤少两", "预付卡"], "lead": "shichang",
     "note": "市场监管"},
    {"keywords": ["社保", "养老保险", "工资", "欠薪", "拖欠", "劳动合同"], "lead": "renshe",
     "note": "人社"},
    {"keywords": ["停水", "水压", "自来水", "管网"], "lead": "shuiwu", "note": "供水"},
    {"keywords": ["停电", "电压", "供电"], "lead": "gongdian", "note": "供电"},
    {"keywords": ["学校", "入学", "幼儿园", "学位"], "lead": "jiaoyu", "note": "教育"},
    {"keywords": ["医院", "医疗", "疫苗", "门诊"], "lead": "weijian", "note": "卫生健康"},
    {"keywords": ["低保", "养老院", "残疾", "救助"], "lead": "minzheng", "note": "民政"},
    {"keywords": ["盗窃", "诈骗", "治安"], "lead": "gongan", "note": "治安"},
    {"keywords": ["占道经营", "违章建筑"], "territory_code": "510504", "lead": "longmatan",
     "assists": ["chengguan"], "note": "龙马潭区市容属地管理"},
    {"category": "complaint", "lead": "@district", "priority": -10, "note": "投诉按属地派单"},
    {"category": "help", "lead": "@street", "priority": -10, "note": "求助按属地派单到街道"},
]

KNOWLEDGE: list[dict[str, Any]] = [
    {"article_type": "guide", "title": "城乡居民基本养老保险参保登记",
     "body": "项目名称：城乡居民基本养老保险参保登记。申报材料：居民身份证、户口簿。"
             "办事程序：到户籍所在地社区或街道社保服务窗口办理。承诺期限：即办。收费标准：不收费。",
     "department_code": "renshe", "publish": True},
    {"article_type": "faq", "title": "停水了怎么查询恢复供水时间",
     "body": "计划停水信息由市水务局在官网和微信公众号提前发布；突发停水可拨打供水抢修电话，"
             "或由12345转办市水务局处理。", "department_code": "shuiwu", "publish": True},
    {"article_type": "responsibility", "title": "市综合行政执法局（城管）主要职责",
     "body": "负责市容环境卫生、占道经营、违章建筑、夜间施工噪声、户外广告等城市管理执法工作。",
     "department_code": "chengguan", "publish": True},
]


def seed_dir(start: Path | None = None) -> Path | None:
    """The folder of the five seed documents: ``$HOTLINE_SEEDS``, else ``shared/seeds`` beside
    the repository (``../shared/seeds``) or beside a folder holding it (a git worktree under
    ``wt/``); None when there is none (a container image has only the repository)."""
    if os.environ.get("HOTLINE_SEEDS"):
        path = Path(os.environ["HOTLINE_SEEDS"])
        return path if path.is_dir() else None
    root = (start or Path(__file__).resolve().parent.parent)
    for parent in root.parents:
        candidate = parent / "shared" / "seeds"
        if candidate.is_dir() and any(candidate.glob("*.txt")):
            return candidate
    return None


def users(departments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    people = [
        {"username": "agent1", "display_name": "话务员 王芳", "role": "agent"},
        {"username": "agent2", "display_name": "话务员 李娜", "role": "agent"},
        {"username": "dispatcher1", "display_name": "派单员 张伟", "role": "dispatcher"},
        {"username": "supervisor1", "display_name": "督办 刘洋", "role": "supervisor"},
        {"username": "leader1", "display_name": "领导 陈刚", "role": "leader"},
        {"username": "admin", "display_name": "管理员", "role": "admin"},
        {"username": "auditor1", "display_name": "审计 赵敏", "role": "auditor"},
    ]
    for d in departments:
        if d["kind"] != "center":
            people.append({"username": f"dept_{d['code']}", "display_name": d["name"],
                           "role": "department", "department_code": d["code"]})
    for p in people:
        p["password"] = DEMO_PASSWORD
    return people


def load(rpc: Any) -> dict[str, Any]:
    """Load everything through a cluster RPC proxy (``rpc.dispatch.load_reference(...)``)."""
    counts = rpc.dispatch.load_reference({"territories": TERRITORIES,
                                          "departments": DEPARTMENTS, "rules": []})
    existing_rules = rpc.dispatch.rule_count()
    if existing_rules == 0:
        counts["rules"] = rpc.dispatch.load_reference({"rules": RULES})["rules"]
    counts["users"] = rpc.gateway.load_users(users(DEPARTMENTS))
    if rpc.knowledge.article_count() == 0:
        for article in KNOWLEDGE:
            rpc.knowledge.create_article(article, "demo")
        counts["articles"] = len(KNOWLEDGE)
    return counts


# -- a department with its own system (部门自有系统), for ``hotline up --demo`` -------------------
OWN_SYSTEM_DEPARTMENT = "shuiwu"  # 市水务局: its own case system receives pushed orders
OWN_SYSTEM_KEY_NAME = "演示部门系统 dept-sim"


def attach_own_system(admin: Any, webhook_url: str,
                      department_code: str = OWN_SYSTEM_DEPARTMENT) -> dict[str, str]:
    """Attach ``department_code`` as a webhook endpoint at ``webhook_url`` (the reference
    department system, ``hotline dept-sim``): a fresh API key (the demo's earlier keys of that
    name are revoked) and a fresh endpoint secret (both are shown only once, so every start of
    the demo makes new ones). ``admin`` is a logged-in :class:`HotlineClient`."""
    for key in admin.api_keys()["items"]:
        if key["name"] == OWN_SYSTEM_KEY_NAME and not key.get("revoked_at"):
            admin.revoke_api_key(key["key_id"])
    api_key = admin.issue_api_key(department_code, OWN_SYSTEM_KEY_NAME)["api_key"]
    current = [e for e in admin.endpoints(department_code)["items"]
               if e["active"] and e.get("category") is None]
    if current and current[0]["kind"] == "webhook" and current[0]["url"] == webhook_url:
        secret = admin.rotate_endpoint_secret(current[0]["id"])["secret"]
    else:
        for e in current:
            admin.deactivate_endpoint(e["id"])
        secret = admin.create_endpoint(department_code, "webhook", url=webhook_url,
                                       timeout_seconds=5)["secret"]
    return {"department_code": department_code, "secret": secret, "api_key": api_key}

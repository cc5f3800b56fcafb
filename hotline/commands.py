"""What the ``hotline`` subcommands do. Each returns a process exit code."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.registry import SERVICE_NAMES, all_service_classes
from shared.business_time import business_today

DEMO_ORDER = {
    "channel": "phone", "category": "complaint", "urgency": "normal",
    "caller_name": "王先生", "phone": "138 1234 5678", "address": "江阳区南城街道白招牌社区滨江路12号",
    "territory_code": "510502001001",
    "content": "滨江路12号楼下每天晚上有流动摊贩占道经营，乱堆乱放堵塞人行道，影响居民出行，请尽快处理。",
}


OWN_SYSTEM_ORDER = {
    "channel": "phone", "category": "help", "urgency": "normal",
    "caller_name": "陈女士", "phone": "139 0000 1234", "address": "江阳区南城街道白招牌社区滨江路8号",
    "territory_code": "510502001001",
    "content": "滨江路8号小区从今天早上开始停水，自来水管网好像破了，请水务部门尽快抢修。",
}


def gateway_url(config: dict[str, Any]) -> str:
    return f"http://{config['WEB_SERVER_ADDRESS']}"


def say(text: str) -> None:
    print(text, flush=True)


def check_broker(config: dict[str, Any]) -> None:
    from kombu import Connection
    try:
        with Connection(config["AMQP_URI"], connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        raise SystemExit(
            f"RabbitMQ is not reachable at {_safe(config['AMQP_URI'])}: {exc}\n"
            "Start it (e.g. `rabbitmq-server -detached`, or `docker compose up -d rabbitmq`) "
            "or set AMQP_URI.") from None


def migrate(config: dict[str, Any]) -> int:
    """Alembic upgrade of every service's database, then declare the message topology."""
    from shared.config import database_url
    from shared.messaging import declare_topology
    from shared.migrations import upgrade

    for name in SERVICE_NAMES:
        upgrade(name, database_url(config, name))
    check_broker(config)
    queues = declare_topology(config["AMQP_URI"], all_service_classes(),
                              config.get("QUEUE_TYPE", "classic"))
    say(f"migrated {len(SERVICE_NAMES)} databases; declared {len(queues)} event queues")
    return 0


@contextmanager
def cluster_rpc(config: dict[str, Any], timeout: float = 30):
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy({"AMQP_URI": config["AMQP_URI"]}, timeout=timeout) as rpc:
        yield rpc


def load_demo(config: dict[str, Any]) -> int:
    from hotline import demo
    with cluster_rpc(config) as rpc:
        counts = demo.load(rpc)
    say("demo data loaded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def up(config: dict[str, Any], demo: bool = False, exit_after_start: bool = False) -> int:
    from hotline.processes import Cluster

    logging_quiet()
    data_dir = Path(config["DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    check_broker(config)
    migrate(config)
    url = gateway_url(config)
    cluster = Cluster(log_dir=data_dir / "logs")
    sim: Any = None
    stopping = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
        say(f"starting {len(SERVICE_NAMES)} services (logs in {data_dir / 'logs'}) …")
        cluster.wait_healthy(url, timeout=90)
        if demo:
            load_demo(config)
            sim = start_own_system(url, data_dir / "logs")
            walkthrough(url, own_system=True)
        say("")
        say(f"  网页总览 Web overview:  {url}/")
        say(f"  API 文档 OpenAPI:       {url}/api/v1/openapi.json")
        say(f"  服务状态 Health:        {url}/health")
        say("  演示账号 Demo users:    agent1 / dispatcher1 / supervisor1 / admin / dept_chengguan"
            " …, password demo12345")
        say("  Ctrl-C stops everything.")
        if exit_after_start:
            return 0
        while not stopping:
            dead = cluster.dead()
            if dead:
                say(f"service exited: {', '.join(dead)}; see {data_dir / 'logs'}")
                return 1
            time.sleep(0.5)  # supervising loop: check the children twice a second
        return 0
    finally:
        say("stopping …")
        if sim is not None:
            from hotline.processes import stop_process
            stop_process(sim)
        cluster.stop()


def start_own_system(url: str, log_dir: Path) -> Any:
    """The demo's department with its own system: 市水务局 attached by webhook to a reference
    department system (``hotline dept-sim``) started beside the services, which verifies each
    push, then signs and replies through the inbound API with the department's key."""
    from hotline import demo
    from hotline.client import HotlineClient
    from hotline.processes import free_port, start_dept_sim

    port = free_port()
    attached = demo.attach_own_system(HotlineClient.login(url, "admin", demo.DEMO_PASSWORD),
                                      f"http://127.0.0.1:{port}/webhook")
    proc = start_dept_sim(
        ["--hotline-url", url, "--delay", "2", "--progress", "--dept",
         f"{attached['department_code']}:{attached['secret']}:{attached['api_key']}"],
        port, log_dir / "dept-sim.log")
    say(f"部门自有系统 own system of {attached['department_code']}: dept-sim on "
        f"http://127.0.0.1:{port} (webhook, signed; replies with its API key)")
    return proc


def logging_quiet() -> None:
    import logging
    logging.basicConfig(level=logging.WARNING)


def walkthrough(url: str, own_system: bool = False) -> int:
    """Drive one order through its life over HTTP, printing each stage (a newcomer's tour);
    with ``own_system``, then one order handled by a department's own system (webhook)."""
    from hotline.client import HotlineClient, wait_for

    agent = HotlineClient.login(url, "agent1", "demo12345")
    t = agent.register(DEMO_ORDER, idempotency_key=f"walkthrough-{time.time_ns()}")
    no = t["ticket_no"]
    say(f"① 坐席登记工单 registered by agent1: {no} 「{t['title']}」")
    detail = wait_for(lambda: (d := agent.ticket(no))["assignments"] and d, what="dispatch")
    lead = next(a for a in detail["assignments"] if a["role"] == "lead")
    say(f"② 自动派单 dispatched: lead {lead['department_code']}"
        + "".join(f", assist {a['department_code']}" for a in detail["assignments"]
                  if a["role"] == "assist"))
    clock = wait_for(lambda: agent.ticket(no)["assignments"][0]["clock"], what="clocks")
    say(f"③ 时限启动 clocks: sign by {clock['sign_due']}, handle by {clock['handle_due']}")
    dept = HotlineClient.login(url, f"dept_{lead['department_code']}", "demo12345")
    dept.sign(lead["id"])
    say(f"④ 部门签收 signed by dept_{lead['department_code']}")
    wait_for(lambda: agent.ticket(no)["status"] == "in_progress", what="in_progress")
    for assist in (a for a in detail["assignments"] if a["role"] == "assist"):
        helper = HotlineClient.login(url, f"dept_{assist['department_code']}", "demo12345")
        helper.sign(assist["id"])
        helper.opinion(assist["id"], "街道已派执法队员配合现场劝离。")
        say(f"   协办意见 opinion of dept_{assist['department_code']} sent to the lead")
    dept.reply(lead["id"], "已联合街道执法队到现场劝离占道经营摊点，并约谈经营者，后续加强夜间巡查。")
    say("⑤ 部门答复 replied")
    wait_for(lambda: agent.ticket(no)["status"] == "replied", what="replied")
    sup = HotlineClient.login(url, "supervisor1", "demo12345")
    sup.callback(no, reached=True, solved=True, satisfaction="satisfied", note="市民表示满意")
    say("⑥ 回访满意 callback: solved, satisfied")
    wait_for(lambda: agent.ticket(no)["status"] == "closed", what="closed")
    say("⑦ 办结 closed")
    today = business_today().isoformat()
    k = wait_for(lambda: [r for r in sup.kpis(today, today, "none")["rows"] if r["closed"]],
                 what="KPI count")
    r = k[0]
    say(f"⑧ 统计 counted today: intake {r['intake']}, dispatched {r['dispatched']}, "
        f"closed {r['closed']}, on-time sign {r['on_time_sign']['numerator']}/"
        f"{r['on_time_sign']['sample']}, on-time completion "
        f"{r['on_time_completion']['numerator']}/{r['on_time_completion']['sample']}")
    if own_system:
        own_system_walkthrough(url, agent)
    knowledge_walkthrough(url, agent)
    return 0


KB_QUERY = "居住证怎么办理"
KB_TRADITIONAL_QUERY = "窗口考核办法"  # seed 004 is written in traditional characters
KB_CALL = {
    "channel": "phone", "category": "consultation", "urgency": "normal",
    "caller_name": "李女士", "phone": "137 0000 5678", "territory_code": "510502001",
    "content": "外地来泸州工作半年了，想问居住证怎么办理，需要带什么材料。",
}


def knowledge_walkthrough(url: str, agent: Any) -> None:
    """⑩: an agent answers a call from the knowledge base (资料库) and resolves it on the spot
    (直接办结); the monitor (资料库运行监控) counts the entry that resolved it."""
    from hotline import demo
    from hotline.client import HotlineClient, wait_for

    found = agent.kb_search(KB_QUERY)
    best = found["items"][0]
    say(f"⑩ 资料库检索 「{KB_QUERY}」: {found['total']} entries, best 「{best['title']}」 "
        f"({best['article_type_name']})")
    old = agent.kb_search(KB_TRADITIONAL_QUERY)
    if old["items"]:
        say(f"   繁简通查 simplified 「{KB_TRADITIONAL_QUERY}」 found 「{old['items'][0]['title']}」")
    agent.kb_article(best["id"], via="search")
    t = agent.register({**KB_CALL, "resolution": {
        "answer": "已告知居住证申领条件、材料和办理地点。", "article_id": best["id"]}},
        idempotency_key=f"walkthrough-kb-{time.time_ns()}")
    say(f"   直接办结 {t['ticket_no']} resolved at intake citing 「{best['title']}」")
    sup = HotlineClient.login(url, "supervisor1", demo.DEMO_PASSWORD)
    entry = wait_for(lambda: next((r for r in sup.kb_monitor()["resolved"]
                                   if r["article_id"] == best["id"]), None),
                     what="the monitor's count of resolutions")
    say(f"   运行监控 monitor: 「{entry['title']}」 resolved {entry['resolutions']} order(s) at intake")


def own_system_walkthrough(url: str, agent: Any) -> None:
    """⑨: an order routed to 市水务局 is pushed to its own system, which replies by API."""
    from hotline import demo
    from hotline.client import HotlineClient, wait_for

    t = agent.register(OWN_SYSTEM_ORDER, idempotency_key=f"walkthrough-own-{time.time_ns()}")
    no = t["ticket_no"]
    lead = wait_for(lambda: next((a for a in agent.ticket(no)["assignments"]
                                  if a["role"] == "lead"), None), what="dispatch")
    admin = HotlineClient.login(url, "admin", demo.DEMO_PASSWORD)
    delivered = wait_for(lambda: next(
        (d for d in admin.deliveries(ticket_no=no, state="delivered")["items"]
         if d["feed_type"] == "assignment.dispatched"), None),
        timeout=30, what="webhook delivered")
    say(f"⑨ 推送部门自有系统 {no} pushed to {lead['department_code']}'s own system "
        f"(delivery {delivered['id']}, signed webhook)")

    def replied() -> Any:
        d = agent.ticket(no)
        lead = next(a for a in d["assignments"] if a["role"] == "lead")
        return d["status"] == "replied" and lead["replied_by"] and lead

    reply = wait_for(replied, timeout=60, what="reply from the department's own system")
    say(f"   部门系统签收并答复 signed and replied through its API key ({reply['replied_by']})")


def reconcile(config: dict[str, Any], since_hours: float = 24, grace_seconds: int = 60) -> int:
    """Check the services against each other (reliability rule 6); exit 1 if they disagree."""
    from hotline.reconcile import run
    with cluster_rpc(config) as rpc:
        report = run(rpc, config, since=datetime.now(UTC) - timedelta(hours=since_hours),
                     grace=timedelta(seconds=grace_seconds))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["ok"] else 1


def dlq(config: dict[str, Any], action: str, limit: int) -> int:
    from shared.messaging import list_dead_letters, replay_dead_letters
    if action == "list":
        items = list_dead_letters(config["AMQP_URI"], limit)
        for m in items:
            print(json.dumps({k: m[k] for k in ("queue", "type", "event_id", "reason")},
                             ensure_ascii=False))
        say(f"{len(items)} dead-lettered message(s)")
    else:
        say(f"replayed {replay_dead_letters(config['AMQP_URI'], limit)} message(s)")
    return 0


def bench(config: dict[str, Any], name: str, **options: Any) -> int:
    from bench import run_benchmark
    return run_benchmark(name, config, **{k: v for k, v in options.items() if v is not None})


def _safe(uri: str) -> str:
    from kombu.utils.url import maybe_sanitize_url
    return maybe_sanitize_url(uri)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(os.EX_USAGE)


# -- Step 4 import: the knowledge base's bulk import -------------------------------------------
def kb_import(config: dict[str, Any], paths: list[str], *, publish: bool = False,
              article_type: str | None = None, department_code: str | None = None,
              categories: list[str] | None = None) -> int:
    """``hotline kb import``: over RPC, as the center (the operator of the cluster); prints the
    per-file report; 1 when a file was not imported."""
    import base64
    import getpass

    from services.knowledge.importing import MAX_FILE_BYTES

    files, failed = [], 0
    for path in paths:
        p = Path(path)
        if not p.is_file():
            say(f"✗ {path}: 文件不存在 no such file")
            failed += 1
            continue
        if p.stat().st_size > MAX_FILE_BYTES:
            say(f"✗ {path}: 文件过大 larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
            failed += 1
            continue
        files.append({"filename": p.name,
                      "content_base64": base64.b64encode(p.read_bytes()).decode("ascii")})
    if files:
        options = {"publish": publish, "article_type": article_type,
                   "department_code": department_code, "categories": categories or []}
        with cluster_rpc(config, timeout=120) as rpc:
            # the operator of the cluster acts as the center (an administrator)
            report = rpc.knowledge.import_documents(files, options, {
                "name": f"cli:{getpass.getuser()}"[:64], "role": "admin",
                "department_code": None})
        for f in report["files"]:
            mark = {"ok": "✓", "skipped": "-"}.get(f["status"], "✗")
            say(f"{mark} {f['filename']}: " + (f"{len(f['articles'])} 条 entries"
                                                if f["status"] == "ok" else str(f["error"])))
            for a in f["articles"] if f["status"] == "ok" else []:
                say(f"    #{a['id']} [{a['status']}] {a['title']}")
        failed += report["failed"]
        say(f"imported {report['imported']} entries; {failed} file(s) failed")
    return 1 if failed else 0



# -- Step 5 reporting: rebuild by replay -------------------------------------------------------
def reporting_rebuild(config: dict[str, Any], *, direct: bool = False,
                      database_url: str | None = None) -> int:
    """``hotline reporting rebuild``: replay reporting's event log into its facts and KPI cube,
    over RPC (the running service) or ``direct`` on the database; prints events and rate."""
    if direct:
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from services.reporting import replay
        from shared.config import database_url as configured_url

        engine = create_engine(database_url or configured_url(config, "reporting"))
        try:
            with Session(engine) as session:
                result = replay.replay(session)
                session.commit()
        finally:
            engine.dispose()
    else:
        with cluster_rpc(config, timeout=3600) as rpc:
            result = rpc.reporting.rebuild()
    rate = result.get("events_per_second")
    say(f"replayed {result['events_replayed']} events in {result.get('seconds')} s"
        + (f" ({rate:,.0f} events/s)" if rate else "")
        + f"; KPI cube rows {result.get('cube_rows')}")
    return 0

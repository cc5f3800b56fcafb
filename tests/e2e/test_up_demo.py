"""``hotline up --demo`` (the README's run command) end to end: every service, the demo data, the
walkthrough including a department's own system (``hotline dept-sim``, attached by webhook),
and a clean stop that leaves no process behind.

Real: the CLI as a process, RabbitMQ (its own vhost), SQLite files in a temporary data
directory. ``--exit-after-start`` ends it after the walkthrough instead of waiting for Ctrl-C.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from typing import Any
from urllib.parse import quote

from tests.conftest import AMQP_BASE, RabbitAdmin, free_port


def test_up_demo_walks_an_order_through_a_department_system(
        tmp_path: Any, rabbit_admin: RabbitAdmin) -> None:
    vhost = f"hotline-up-{uuid.uuid4().hex[:10]}"
    rabbit_admin.create(vhost)
    env = {**os.environ, "AMQP_URI": f"{AMQP_BASE}/{quote(vhost, safe='')}",
           "HOTLINE_DATA_DIR": str(tmp_path), "GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
           "HOTLINE_OUTBOX_POLL": "0.2"}
    try:
        done = subprocess.run([sys.executable, "-m", "hotline.cli", "up", "--demo",
                               "--exit-after-start"], env=env, capture_output=True, text=True,
                              timeout=240)
    finally:
        rabbit_admin.delete(vhost)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    for stage in ("① 坐席登记工单", "⑦ 办结 closed", "⑨ 推送部门自有系统",
                  "部门系统签收并答复 signed and replied through its API key (apikey:",
                  "⑩ 资料库检索 「居住证怎么办理」", "best 「居住证申领」",
                  "繁简通查 simplified 「窗口考核办法」 found 「瀘州市",
                  "resolved at intake citing 「居住证申领」",
                  "运行监控 monitor: 「居住证申领」 resolved 1 order(s) at intake",
                  "⑪ 实时看板 board: intake today", "半月报", "published; dept_",
                  "can read it", "考核试算 assessment", "each explained; rules 004-2011"):
        assert stage in out, out
    log = (tmp_path / "logs" / "dept-sim.log").read_text()
    assert "shuiwu" in log
    # nothing left running: the gateway's port is closed and no dept-sim of this gateway runs
    host, port = env["GATEWAY_ADDRESS"].split(":")
    with socket.socket() as s:
        assert s.connect_ex((host, int(port))) != 0
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines()
                if "dept-sim" in line and f"127.0.0.1:{port}" in line]

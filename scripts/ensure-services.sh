#!/usr/bin/env bash
# Make sure RabbitMQ (with its management API, used for per-test vhosts) and PostgreSQL are
# running on this machine; start them if they are installed but down. Safe to run repeatedly.
set -u

log() { printf '[ensure-services] %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- ; }

wait_port() {  # wait for a TCP port with a deadline
  local port=$1 deadline=$((SECONDS + ${2:-60}))
  until port_open "$port"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 1
  done
}

if port_open 5672; then
  log "RabbitMQ is up"
elif command -v rabbitmq-server >/dev/null 2>&1; then
  log "starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_port 5672 90 || { log "RabbitMQ did not come up"; exit 1; }
else
  log "RabbitMQ is not running and not installed: install rabbitmq-server or set HOTLINE_TEST_AMQP"
  exit 1
fi

if ! port_open 15672 && command -v rabbitmq-plugins >/dev/null 2>&1; then
  log "enabling the RabbitMQ management plugin (tests create a vhost each through its API)"
  rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 || true
  wait_port 15672 60 || log "management API not reachable; tests fall back to rabbitmqctl"
fi

if port_open 5432; then
  log "PostgreSQL is up"
elif command -v pg_ctlcluster >/dev/null 2>&1; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$version" ]; then
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_port 5432 60 || { log "PostgreSQL did not come up"; exit 1; }
  fi
else
  log "PostgreSQL not available: its tests will be skipped (HOTLINE_REQUIRE_PG=1 makes that an error)"
fi

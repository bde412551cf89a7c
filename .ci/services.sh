#!/usr/bin/env bash
# Bring up what the tests need: the mosquitto binary (tests start their own brokers too), the
# default broker at 127.0.0.1:1883 and PostgreSQL at 127.0.0.1:5432 (database `test`).
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq || true; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  echo "services: installing mosquitto"
  apt_install mosquitto || { echo "services: cannot install mosquitto (need root or sudo)" >&2; exit 1; }
fi
if ! port_open 1883; then
  echo "services: starting mosquitto on 127.0.0.1:1883"
  if [ -f /etc/mosquitto/mosquitto.conf ]; then as_root mosquitto -d -c /etc/mosquitto/mosquitto.conf || true; fi
  port_open 1883 || as_root mosquitto -d -p 1883 || true
  for _ in $(seq 20); do port_open 1883 && break; sleep 0.25; done
  port_open 1883 || { echo "services: mosquitto did not start" >&2; exit 1; }
fi

if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "services: installing postgresql"
    apt_install postgresql || { echo "services: cannot install postgresql" >&2; exit 1; }
  fi
  echo "services: starting postgresql"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 40); do port_open 5432 && break; sleep 0.25; done
  port_open 5432 || { echo "services: postgresql did not start" >&2; exit 1; }
fi
if command -v psql >/dev/null; then
  if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -c 'create database test' >/dev/null 2>&1 || \
      as_root su postgres -c "psql -c 'create database test'" >/dev/null 2>&1 || true
  fi
fi
echo "services: mosquitto and postgresql are up"

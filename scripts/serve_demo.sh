#!/usr/bin/env bash
# Starts the order server with the demo organisation in the background (SQLite + local folder in
# medprint-data/), waits until it answers, and prints where to open it and how to stop it.
# Usage: scripts/serve_demo.sh [port]   (MEDPRINT_BIN overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-8080}"
bin="${MEDPRINT_BIN:-target/release/medprint}"
data="medprint-data"
mkdir -p "$data"
if [ -f "$data/server.pid" ] && kill -0 "$(cat "$data/server.pid")" 2>/dev/null; then
    kill "$(cat "$data/server.pid")" && sleep 1
fi
nohup setsid "$bin" serve --demo --bind "127.0.0.1:$port" --data-dir "$data" --log info \
    >"$data/server.log" 2>&1 < /dev/null &
echo $! > "$data/server.pid"
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/api/health" >/dev/null 2>&1; then
        echo
        echo "medprint is running: open http://127.0.0.1:$port"
        echo "  sign in as surgeon@demo.hospital, radiologist@…, clinical_director@…, biomedical_engineer@…,"
        echo "  print_technician@…, org_admin@demo.hospital (password: medprint demo password)"
        echo "  system administrator: admin@localhost (same password on a new data folder)"
        echo "  a demo order (knee phantom) is processing; logs: $data/server.log"
        echo "  stop it with: kill \$(cat $data/server.pid)"
        exit 0
    fi
    sleep 0.2
done
echo "the server did not start; see $data/server.log" >&2
exit 1

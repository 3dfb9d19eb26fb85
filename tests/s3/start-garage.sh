#!/usr/bin/env bash
# Starts a single-node Garage S3 server on free loopback ports in a temp dir and prints `export`
# lines for the S3 tests:
#
#   eval "$(tests/s3/start-garage.sh)"      # then: MADBASE_TEST_S3=1 cargo test -p madbase-operator
#   kill "$MADBASE_TEST_S3_PID"             # stop it (by pid)
#
# GARAGE_BIN overrides the binary (default: `garage` on PATH). Progress goes to stderr.
set -euo pipefail

GARAGE=${GARAGE_BIN:-garage}
command -v "$GARAGE" >/dev/null || { echo "garage not found (cargo install garage --locked)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
DIR=$(mktemp -d -t madbase-garage.XXXXXX)
S3_PORT=$(free_port); RPC_PORT=$(free_port); ADMIN_PORT=$(free_port)
cat > "$DIR/garage.toml" <<TOML
metadata_dir = "$DIR/meta"
data_dir = "$DIR/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$RPC_PORT"
rpc_public_addr = "127.0.0.1:$RPC_PORT"
rpc_secret = "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$S3_PORT"

[admin]
api_bind_addr = "127.0.0.1:$ADMIN_PORT"
admin_token = "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
TOML

g() { "$GARAGE" -c "$DIR/garage.toml" "$@"; }
# Started directly, not through `g`: a backgrounded function runs in a subshell, and its pid is
# not the server's.
"$GARAGE" -c "$DIR/garage.toml" server > "$DIR/server.log" 2>&1 &
PID=$!
NODE=""
for _ in $(seq 1 100); do
  NODE=$(g status 2>/dev/null | awk '/HEALTHY NODES/{f=1;next} f && $1 ~ /^[0-9a-f]+$/ {print $1; exit}') || true
  [[ -n "$NODE" ]] && break
  sleep 0.2
done
[[ -n "$NODE" ]] || { echo "garage did not start; see $DIR/server.log" >&2; kill "$PID"; exit 1; }
g layout assign -z dc1 -c 1G "$NODE" >&2
g layout apply --version 1 >&2
KEY_OUT=$(g key create madbase-test)
KEY_ID=$(echo "$KEY_OUT" | awk -F': *' '/Key ID/{print $2; exit}')
SECRET=$(echo "$KEY_OUT" | awk -F': *' '/Secret key/{print $2; exit}')
g key allow --create-bucket madbase-test >&2
# Wait until the S3 API answers.
for _ in $(seq 1 50); do
  curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break
  sleep 0.2
done
echo "garage ready on 127.0.0.1:$S3_PORT (dir $DIR, pid $PID)" >&2
cat <<ENV
export MADBASE_TEST_S3=1
export MADBASE_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export MADBASE_TEST_S3_REGION=garage
export MADBASE_TEST_S3_ACCESS_KEY_ID=$KEY_ID
export MADBASE_TEST_S3_SECRET_ACCESS_KEY=$SECRET
export MADBASE_TEST_S3_PID=$PID
export MADBASE_TEST_S3_DIR=$DIR
ENV

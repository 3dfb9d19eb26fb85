# Shared by the bench scripts (sourced once $bin is set): a scratch directory $work, removed on
# exit with the `madbase dev` started in it (its pid in $dev_pid), and start_dev.

work=$(mktemp -d)
chmod 755 "$work"  # PostgreSQL may run as another user (the postgres user when started as root)
dev_pid=
dev_wrapper=()  # a command to start `madbase dev` under (taskset …), if any
cleanup() {
  if [[ -n $dev_pid ]]; then kill "$dev_pid" 2>/dev/null || true; wait "$dev_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start_dev DATA_DIR PORT: starts `madbase dev` with its data in DATA_DIR and the gateway on
# PORT, waits until it serves, sets $dev_pid and sources the instance's status (DB_URL,
# ANON_KEY, JWT_SECRET…). Variables in the caller's environment (GLIBC_TUNABLES…) reach it.
start_dev() {
  "${dev_wrapper[@]}" "$bin" dev --data-dir "$1" --port "$2" --log-level warn >"$work/dev.log" 2>&1 &
  dev_pid=$!
  for _ in $(seq 1 300); do
    "$bin" status --data-dir "$1" --output env >"$work/status.env" 2>/dev/null && break
    kill -0 "$dev_pid" 2>/dev/null || { cat "$work/dev.log" >&2; exit 1; }
    sleep 0.2
  done
  # shellcheck disable=SC1091
  source "$work/status.env"
}

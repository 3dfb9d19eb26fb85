# Shared by the bench scripts (sourced): starts `madbase dev` with its data in "$1", the gateway
# on port "$2", and waits until it serves. Needs $bin and $work; sets $dev_pid and sources the
# instance's status (DB_URL, ANON_KEY, JWT_SECRET…). Variables in the caller's environment
# (GLIBC_TUNABLES…) reach the data plane.
start_dev() {
  "$bin" dev --data-dir "$1" --port "$2" --log-level warn >"$work/dev.log" 2>&1 &
  dev_pid=$!
  for _ in $(seq 1 300); do
    "$bin" status --data-dir "$1" --output env >"$work/status.env" 2>/dev/null && break
    kill -0 "$dev_pid" 2>/dev/null || { cat "$work/dev.log" >&2; exit 1; }
    sleep 0.2
  done
  # shellcheck disable=SC1091
  source "$work/status.env"
}

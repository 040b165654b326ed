# Sourced by the registry benchmarks: start Debian's docker-registry
# (distribution 2.8) on 127.0.0.1 with a config written here, storage in
# DIR/data and its access log in DIR/access.log, and wait until it answers.
#
#   . bench/loopback-registry.sh; start_registry DIR
#
# Sets `port` and `registry_pid`. Sourcing it also makes a scratch
# directory `$work` and a trap that stops the registry and removes `$work`
# at exit (a caller with more to stop sets its own trap after sourcing).
work=$(mktemp -d)
registry_pid=
stop_registry() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop_registry EXIT

start_registry() {
  local dir=$1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
  secret: ocifit-bench
YAML
  docker-registry serve "$dir/config.yml" >"$dir/access.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "docker-registry did not start: $(cat "$dir/access.log")" >&2
  exit 2
}

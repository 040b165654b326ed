#!/usr/bin/env bash
# What `ocifit mirror` costs on a loopback registry (Debian's
# docker-registry, distribution 2.8, started here on 127.0.0.1 with a config
# written here), side by side with going straight to the registry:
#
#   1. tag HEAD with a warm cache: median latency through the mirror and direct;
#   2. a 1 GiB blob: throughput through the mirror and direct (interleaved
#      rounds; median and best of each, and the median per-round ratio), and
#      the mirror's peak RSS (VmHWM) after all of them; in the same rounds, a
#      bare relay (crates/ocifit-mirror/examples/bare_relay.rs: no HTTP, the
#      mirror's runtime, buffers and socket options) shows what relaying
#      itself costs on this machine;
#   3. 200 concurrent GETs of one tag through a cold mirror: upstream index
#      reads (GETs of the tag in the registry's access log) and errors.
#
#   bench/mirror.sh [HEAD_RUNS] [BLOB_MIB] [BLOB_RUNS]     (defaults 2000, 1024, 15)
#
# Needs: docker-registry, curl, python3, sha256sum. Builds ocifit in release
# mode first. Prints tables and `RESULT |` lines for bench/run-all.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
head_runs=${1:-2000}
blob_mib=${2:-1024}
blob_runs=${3:-15}
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p ocifit
cargo build --release -q -p ocifit-mirror --example bare_relay
ocifit="$target_dir/release/ocifit"

# The registry starter makes `$work` and a trap that stops the registry;
# this script also stops its mirrors (pids), then calls that.
. bench/loopback-registry.sh
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  stop_registry
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return; sleep 0.05; done; echo "mirror.sh: $1 did not answer" >&2; exit 2; }

start_registry "$work"
reg_port=$port
registry="http://127.0.0.1:$reg_port"

push_blob() { # repo file -> digest
  local digest location
  digest="sha256:$(sha256sum "$2" | cut -d' ' -f1)"
  location=$(curl -fsS -X POST -D - -o /dev/null "$registry/v2/$1/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $location in /*) location="$registry$location" ;; esac
  case $location in *\?*) location="$location&digest=$digest" ;; *) location="$location?digest=$digest" ;; esac
  curl -fsS -H 'Content-Type: application/octet-stream' -T "$2" "$location" >/dev/null
  echo "$digest"
}
push_manifest() { # repo reference media-type file
  curl -fsS -X PUT -H "Content-Type: $3" --data-binary "@$4" "$registry/v2/$1/manifests/$2" >/dev/null
}

# A four-entry index (generic amd64 first, amd64 avx2/bmi2, amd64 AVX-512, arm64).
entries=
for spec in "generic amd64 -" "avx2 amd64 avx2,bmi2" "avx512 amd64 avx512f,avx512bw" "arm64 arm64 -"; do
  read -r name arch features <<<"$spec"
  printf 'layer %s' "$name" >"$work/layer"
  printf '{"architecture":"%s","os":"linux","config":{"Labels":{"build":"%s"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$arch" "$name" "$(sha256sum "$work/layer" | cut -d' ' -f1)" >"$work/config"
  layer=$(push_blob bench/app "$work/layer")
  config=$(push_blob bench/app "$work/config")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$config" "$(stat -c %s "$work/config")" "$layer" "$(stat -c %s "$work/layer")" >"$work/manifest"
  digest="sha256:$(sha256sum "$work/manifest" | cut -d' ' -f1)"
  push_manifest bench/app "$digest" application/vnd.oci.image.manifest.v1+json "$work/manifest"
  platform="{\"os\":\"linux\",\"architecture\":\"$arch\""
  [ "$features" != "-" ] && platform="$platform,\"features\":[\"${features//,/\",\"}\"]"
  entries="$entries${entries:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$digest\",\"size\":$(stat -c %s "$work/manifest"),\"platform\":$platform}}"
done
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" >"$work/index"
push_manifest bench/app v1 application/vnd.oci.image.index.v1+json "$work/index"

start_mirror() { # name -> sets mirror_url, mirror_pid
  local port
  port=$(free_port)
  "$ocifit" mirror --listen "127.0.0.1:$port" --upstream "$registry" --cache-dir "$work/cache-$1" \
    --platform linux/amd64 --features avx2,bmi2 2>"$work/mirror-$1.log" &
  mirror_pid=$!
  pids+=("$mirror_pid")
  mirror_url="http://127.0.0.1:$port"
  wait_http "$mirror_url/healthz"
}

# --- 1. tag HEAD, warm cache ---------------------------------------------------------
start_mirror head
curl -fsS -o /dev/null -H 'Accept: application/vnd.oci.image.index.v1+json' "$mirror_url/v2/bench/app/manifests/v1"
python3 - "$registry" "$mirror_url" "$head_runs" >"$work/head.txt" <<'PY'
import http.client, statistics, sys, time, urllib.parse
accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
def run(base, n):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port)
    times, digests = [], set()
    for i in range(n + 50):
        t = time.perf_counter()
        c.request("HEAD", "/v2/bench/app/manifests/v1", headers={"Accept": accept})
        r = c.getresponse(); r.read()
        dt = time.perf_counter() - t
        assert r.status == 200, r.status
        digests.add(r.getheader("Docker-Content-Digest"))
        if i >= 50: times.append(dt * 1000)  # the first 50 warm up
    return statistics.median(times), sorted(times)[int(len(times) * 0.99)], digests
# Interleave the two in rounds so that load on the machine hits both alike.
direct, mirror = [], []
rounds = 5
for _ in range(rounds):
    direct.append(run(sys.argv[1], int(sys.argv[3]) // rounds))
    mirror.append(run(sys.argv[2], int(sys.argv[3]) // rounds))
d = statistics.median(x[0] for x in direct); m = statistics.median(x[0] for x in mirror)
d99 = statistics.median(x[1] for x in direct); m99 = statistics.median(x[1] for x in mirror)
assert direct[0][2] != mirror[0][2], "the mirror did not rewrite the tag"
print(f"| tag HEAD, straight to the registry | {d:.3f} | {d99:.3f} |")
print(f"| tag HEAD through the mirror (warm cache) | {m:.3f} | {m99:.3f} |")
print(f"OVERHEAD {m - d:.3f}")
PY
overhead=$(sed -n 's/^OVERHEAD //p' "$work/head.txt")
echo "Loopback registry 127.0.0.1:$reg_port, mirror --upstream it; $head_runs HEADs each on one keep-alive connection (after 50 warm-up), in 5 interleaved rounds, $(nproc) cores."
echo
echo "| request | median ms | p99 ms |"
echo "| --- | ---: | ---: |"
grep '^|' "$work/head.txt"
echo

# --- 2. a large blob ---------------------------------------------------------------------
head -c "$((blob_mib * 1024 * 1024))" /dev/urandom >"$work/big"
big=$(push_blob bench/app "$work/big")
rm -f "$work/big"
kill "$mirror_pid"; wait "$mirror_pid" 2>/dev/null || true
start_mirror blob
speed() { curl -fsS -o /dev/null -w '%{speed_download}' "$1/v2/bench/app/blobs/$big"; }
speed "$registry" >/dev/null # page cache
cpu_ticks() { awk '{print $14 + $15}' "/proc/$mirror_pid/stat"; }
# The yardstick: a bare relay (no HTTP; the mirror's runtime, buffers and
# socket options) between curl and the registry.
"$target_dir/release/examples/bare_relay" 127.0.0.1:0 "127.0.0.1:$reg_port" >"$work/relay.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$work/relay.out" && break; sleep 0.05; done
grep -q '^listening on ' "$work/relay.out" || { echo "mirror.sh: bare_relay did not start: $(cat "$work/relay.out")" >&2; exit 2; }
relay_url="http://$(sed -n 's/^listening on //p' "$work/relay.out")"
speed "$relay_url" >/dev/null
# Rounds of (direct, mirror, bare relay), the order rotating, so that load
# from elsewhere on the machine hits all alike; each round's ratio is
# mirror / direct of that round.
ticks=0
: >"$work/blob.txt"
for round in $(seq "$blob_runs"); do
  case $((round % 3)) in
    1) d=$(speed "$registry"); t0=$(cpu_ticks); m=$(speed "$mirror_url"); ticks=$((ticks + $(cpu_ticks) - t0)); r=$(speed "$relay_url") ;;
    2) t0=$(cpu_ticks); m=$(speed "$mirror_url"); ticks=$((ticks + $(cpu_ticks) - t0)); r=$(speed "$relay_url"); d=$(speed "$registry") ;;
    0) r=$(speed "$relay_url"); d=$(speed "$registry"); t0=$(cpu_ticks); m=$(speed "$mirror_url"); ticks=$((ticks + $(cpu_ticks) - t0)) ;;
  esac
  echo "$d $m $r" >>"$work/blob.txt"
done
hwm_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$mirror_pid/status")
python3 - "$work/blob.txt" >"$work/blob-summary.txt" <<'PY'
import statistics, sys
rounds = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
d = [r[0] for r in rounds]; m = [r[1] for r in rounds]; b = [r[2] for r in rounds]
ratios = [r[1] / r[0] for r in rounds]
relay_ratios = [r[2] / r[0] for r in rounds]
mib = lambda x: f"{x / 2**20:.0f}"
print(f"| straight to the registry | {mib(statistics.median(d))} | {mib(max(d))} | {' '.join(mib(x) for x in d)} |")
print(f"| through the mirror | {mib(statistics.median(m))} | {mib(max(m))} | {' '.join(mib(x) for x in m)} |")
print(f"| through the bare relay (no HTTP) | {mib(statistics.median(b))} | {mib(max(b))} | {' '.join(mib(x) for x in b)} |")
print(f"RATIO_MEDIAN {100 * statistics.median(ratios):.0f}")
print(f"RATIOS {' '.join(f'{100 * r:.0f}' for r in ratios)}")
print(f"AT_90 {sum(1 for r in ratios if r >= 0.9)}")
print(f"RELAY_MEDIAN {100 * statistics.median(relay_ratios):.0f}")
print(f"RELAY_RATIOS {' '.join(f'{100 * r:.0f}' for r in relay_ratios)}")
print(f"RELAY_AT_90 {sum(1 for r in relay_ratios if r >= 0.9)}")
print(f"RATIO_BEST {100 * max(m) / max(d):.0f}")
print(f"MEDIAN_MIRROR {statistics.median(m)}")
print(f"MEDIAN_DIRECT {statistics.median(d)}")
PY
ratio_median=$(sed -n 's/^RATIO_MEDIAN //p' "$work/blob-summary.txt")
ratio_best=$(sed -n 's/^RATIO_BEST //p' "$work/blob-summary.txt")
median_mirror=$(sed -n 's/^MEDIAN_MIRROR //p' "$work/blob-summary.txt")
median_direct=$(sed -n 's/^MEDIAN_DIRECT //p' "$work/blob-summary.txt")
relay_median=$(sed -n 's/^RELAY_MEDIAN //p' "$work/blob-summary.txt")
echo "A ${blob_mib} MiB blob, curl to /dev/null, $blob_runs interleaved rounds (direct, mirror and a bare relay, the order rotating):"
echo
echo "| path | median MiB/s | best MiB/s | each round |"
echo "| --- | ---: | ---: | --- |"
grep '^|' "$work/blob-summary.txt"
echo
echo "Mirror / direct: median of the per-round ratios ${ratio_median}%, best against best ${ratio_best}%;"
echo "Each round's ratio (%): $(sed -n 's/^RATIOS //p' "$work/blob-summary.txt") ($(sed -n 's/^AT_90 //p' "$work/blob-summary.txt") of $blob_runs at 90% or more)."
echo "The bare relay / direct: median ${relay_median}%; each round (%): $(sed -n 's/^RELAY_RATIOS //p' "$work/blob-summary.txt") ($(sed -n 's/^RELAY_AT_90 //p' "$work/blob-summary.txt") of $blob_runs at 90% or more)."
echo "Mirror peak RSS (VmHWM) after serving it $blob_runs times: $((hwm_kib / 1024)) MiB; its CPU time per GiB relayed: $((ticks * 1000 / $(getconf CLK_TCK) * 1024 / blob_mib / blob_runs)) ms"
echo "(user + system; on loopback the registry, curl and the mirror share $(nproc) cores, so the mirror's copy competes with both ends)."
echo
kill "$mirror_pid"; wait "$mirror_pid" 2>/dev/null || true

# --- 3. 200 concurrent GETs of one tag, cold mirror ----------------------------------------
start_mirror burst
tag_gets() { grep -c '"GET /v2/bench/app/manifests/v1 ' "$work/access.log" || true; }
tag_heads() { grep -c '"HEAD /v2/bench/app/manifests/v1 ' "$work/access.log" || true; }
sleep 0.3
g0=$(tag_gets) h0=$(tag_heads)
python3 - "$mirror_url" 200 >"$work/burst.txt" <<'PY'
import hashlib, http.client, sys, threading, urllib.parse
u = urllib.parse.urlparse(sys.argv[1]); n = int(sys.argv[2])
accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
barrier = threading.Barrier(n)
results = []
def pull():
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.connect()
        barrier.wait()
        c.request("GET", "/v2/bench/app/manifests/v1", headers={"Accept": accept})
        r = c.getresponse(); body = r.read()
        ok = r.status == 200 and r.getheader("Docker-Content-Digest") == "sha256:" + hashlib.sha256(body).hexdigest()
        results.append(r.getheader("Docker-Content-Digest") if ok else None)
    except Exception:
        results.append(None)
threads = [threading.Thread(target=pull) for _ in range(n)]
for t in threads: t.start()
for t in threads: t.join()
errors = sum(1 for r in results if r is None)
print(f"ERRORS {errors}")
print(f"DIGESTS {len(set(r for r in results if r))}")
PY
sleep 0.5
gets=$(( $(tag_gets) - g0 )) heads=$(( $(tag_heads) - h0 ))
errors=$(sed -n 's/^ERRORS //p' "$work/burst.txt")
digests=$(sed -n 's/^DIGESTS //p' "$work/burst.txt")
echo "200 concurrent clients GET the tag through a cold mirror (one connection each, released together):"
echo
echo "| upstream tag GETs (index reads) | upstream tag HEADs | client errors | distinct digests served |"
echo "| ---: | ---: | ---: | ---: |"
echo "| $gets | $heads | $errors | $digests |"
echo

python3 - "$overhead" "$ratio_median" "$median_mirror" "$median_direct" "$hwm_kib" "$gets" "$errors" "$blob_mib" "$ratio_best" "$relay_median" <<'PY'
import sys
o, t, m, d, hwm, gets, errors, mib, best, relay = sys.argv[1:]
o, t, hwm, gets, errors = float(o), float(t), int(hwm) / 1024, int(gets), int(errors)
met = lambda b: "met" if b else "not met"
print(f"RESULT | mirror: tag HEAD overhead, warm cache (median, loopback) | {o:.3f} ms | <= 1 ms | {met(o <= 1)}")
print(f"RESULT | mirror: {mib} MiB blob throughput / direct, median of interleaved rounds | {t:.0f}% ({float(m) / 2**20:.0f} vs {float(d) / 2**20:.0f} MiB/s; best vs best {best}%) | >= 90% | {met(t >= 90)}")
print(f"RESULT | mirror: the same for a bare relay (no HTTP), the yardstick | {relay}% | (no target) | -")
print(f"RESULT | mirror: peak RSS serving the blob (VmHWM) | {hwm:.1f} MiB | < 64 MiB | {met(hwm < 64)}")
print(f"RESULT | mirror: 200 concurrent tag pulls, upstream index reads | {gets} | 1 | {met(gets == 1)}")
print(f"RESULT | mirror: 200 concurrent tag pulls, errors | {errors} | 0 | {met(errors == 0)}")
PY

#!/usr/bin/env bash
# Runs INSIDE the cgroup v2 + systemd guest as STAGE/run STAGE RESULTS (bench/run.sh --guest
# stages it through guest/run.sh's HULL_GUEST_SCRIPT): the benchmark with hull, runc and crun side
# by side, on the guest's pure cgroup v2 where crun runs (it refuses the host's hybrid cgroups).
# The guest is emulated (TCG): only the ratios of one run mean anything. bench/run.sh's options
# come as SCRIPT_ARGS in STAGE/settings; the JSON lands in RESULTS/bench.json.
set -euo pipefail
stage=$1
results=$2
SCRIPT_ARGS=""
HOST_REPO=""
# shellcheck source=/dev/null
. "$stage/settings"
repo=/mnt/repo
# The hull binary runs from the guest's disk (from 9p its pages load slowly).
install -m 0755 "$stage/bin/hull" /usr/local/bin/hull
echo "ok guest::bench_started" >>"$results/results.txt"
# shellcheck disable=SC2206 # SCRIPT_ARGS is a list of words by design
args=($SCRIPT_ARGS)
rc=0
bash "$repo/bench/run.sh" --no-install --hull /usr/local/bin/hull --runtimes hull,runc,crun \
    --out "$results/bench.json" "${args[@]}" || rc=$?
if ((rc == 0)); then echo "ok guest::bench" >>"$results/results.txt"; else echo "FAILED guest::bench" >>"$results/results.txt"; fi
exit "$rc"

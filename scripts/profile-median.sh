#!/usr/bin/env bash
# One profile against the median of the kept ones (the dashboard's Profile button, keep_profile), round by
# round: each round profiles the preset once more into a fresh cache (`simulate --again`, which keeps the
# config's last 5), predicts its throughput from the median of the kept profiles and from that round's
# profile alone (each with its own measured cores, as the dashboard's prediction), then runs the preset
# headless and prints its samples/s after minibatch 10 (metrics.csv).
#   scripts/profile-median.sh [ROUNDS] [PRESET] [STAGES] [STEPS]   (default: 8 presets/default.json 4 300)
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=${CLI:-build/app/cli/pipescope-cli}
rounds=${1:-8}
preset=${2:-presets/default.json}
stages=${3:-4}
steps=${4:-300}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }
predict() {  # cache dir: predicted samples/s on its profile with the profile's own cores
  local profile=("$1"/*.json)
  local cores
  cores=$(json "${profile[0]}" "['cores']")
  PIPESCOPE_PROFILE_DIR=$1 "$CLI" simulate --preset "$preset" --stages "$stages" --cores "$cores" --format json \
    2>/dev/null > "$out/sim.json"
  json "$out/sim.json" "['samples_per_second']" | xargs printf '%.0f'
}
printf '%-6s %-5s %-14s %-14s %s\n' round kept "one profile" "the median" "measured"
for i in $(seq 1 "$rounds"); do
  PIPESCOPE_PROFILE_DIR=$out/kept "$CLI" simulate --preset "$preset" --stages "$stages" --again --format json \
    >/dev/null 2>&1
  kept=("$out"/kept/*.kept.jsonl)
  rm -rf "$out/one" && mkdir -p "$out/one"
  tail -n 1 "${kept[0]}" > "$out/one/$(basename "${kept[0]}" .kept.jsonl).json"
  rm -rf "$out/run"
  "$CLI" run --preset "$preset" --stages "$stages" --set steps="$steps" --quiet --out "$out/run" >/dev/null
  measured=$(python3 - "$out/run/metrics.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("samples") and r.get("wall_seconds")]
a, b = rows[9], rows[-1]
print("%.0f" % ((float(b["samples"]) - float(a["samples"])) / (float(b["wall_seconds"]) - float(a["wall_seconds"]))))
PY
)
  printf '%-6s %-5s %-14s %-14s %s\n' "$i" "$(wc -l < "${kept[0]}")" "$(predict "$out/one")" "$(predict "$out/kept")" "$measured"
done

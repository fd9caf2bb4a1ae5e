#!/usr/bin/env bash
# What a split backward costs against a whole one (SCHEDULES.md section 3), per model: the mean I, W and
# B op times from the ledgers of a zb-h1 and a 1f1b-flush run of the same preset, stages and microbatches.
#   scripts/split-cost.sh [PRESET] [MODEL...]     (default: presets/default.json, models mlp cnn)
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=${CLI:-build/app/cli/pipescope-cli}
preset=${1:-presets/default.json}
shift || true
models=("${@:-mlp cnn}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for model in ${models[@]}; do
  for s in zb-h1 1f1b-flush; do
    "$CLI" run --preset "$preset" --set model.name="$model" --schedule "$s" --stages 2 --microbatches 4 \
      --steps 30 --quiet --out "$out/$model-$s" >/dev/null
  done
  python3 - "$out/$model-zb-h1/ledger.csv" "$out/$model-1f1b-flush/ledger.csv" "$model" <<'PY'
import csv, sys, statistics
def means(path):
    t = {}
    for r in csv.DictReader(open(path)):
        if int(r["minibatch"]) < 5: continue  # warm-up
        t.setdefault(r["kind"], []).append(float(r["t_end_us"]) - float(r["t_start_us"]))
    return {k: statistics.mean(v) for k, v in t.items()}
zb, flush = means(sys.argv[1]), means(sys.argv[2])
i, w, b = zb.get("I", 0), zb.get("W", 0), flush.get("B", 0)
print(f"{sys.argv[3]}: I {i:.0f} us + W {w:.0f} us = {i + w:.0f} us against B {b:.0f} us: ratio {(i + w) / b:.2f} (limit 1.10)")
PY
done

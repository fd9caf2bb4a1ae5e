#!/usr/bin/env bash
# What a split backward costs against a whole one (SCHEDULES.md section 3), per model: the mean I, W and
# B op times from the ledgers of a zb-h1 and a 1f1b-flush run of the same preset, stages and microbatches,
# on the sequential executor (one op at a time: no op shares the cores with another, so the times do not
# depend on what the other stage runs beside it). Medians over minibatches 5 and later.
# Stage 0 (the first chunk) has no input gradient to hand on: its W walks each layer unit again from the
# unit's output; later stages' W runs only each weight op's own node (engine/runtime/weight_grads.h).
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
      --chunks 1 --executor sequential --steps 60 --quiet --out "$out/$model-$s" >/dev/null
  done
  python3 - "$out/$model-zb-h1/ledger.csv" "$out/$model-1f1b-flush/ledger.csv" "$model" <<'PY'
import csv, sys, statistics
def medians(path):
    t = {}
    for r in csv.DictReader(open(path)):
        if int(r["minibatch"]) < 5: continue  # warm-up
        t.setdefault((int(r["stage"]), r["kind"]), []).append(float(r["t_end_us"]) - float(r["t_start_us"]))
    return {k: statistics.median(v) for k, v in t.items()}
zb, flush = medians(sys.argv[1]), medians(sys.argv[2])
parts = []
for k in sorted({s for s, _ in zb}):
    i, w, b = zb.get((k, "I"), 0), zb.get((k, "W"), 0), flush.get((k, "B"), 0)
    parts.append(f"stage {k}: I {i:.0f} + W {w:.0f} = {i + w:.0f} us against B {b:.0f} us, ratio {(i + w) / b:.2f}")
i = sum(v for (s, k), v in zb.items() if k in ("I", "W"))
b = sum(v for (s, k), v in flush.items() if k == "B")
print(f"{sys.argv[3]}: " + "; ".join(parts) + f"; both: ratio {i / b:.2f} (limit 1.10)")
PY
done

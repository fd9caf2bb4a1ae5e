// Sweep results: the CSV tables and the Markdown report of a sweep. Torch-free (engine_core).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "engine/sweep/grid.h"
#include "engine/telemetry/events.h"

namespace ps {

// One cell's outcome. `summary` is absent when the cell failed before its run produced one.
struct SweepResult {
  std::string id, label, note;
  std::string schedule, strategy, optimizer;
  int stages = 1;
  std::uint64_t seed = 1;
  double lr = 0;
  std::string status;  // completed, diverged, failed, stopped, missing
  std::string error;
  std::string run_dir;  // where summary.json / metrics.csv are (as given to the session)
  std::optional<RunSummary> summary;
};

// A result row for a cell, before (status "missing") or after it ran.
SweepResult sweep_result_for(const SweepCell& cell, const SweepGrid& grid, const std::string& run_dir);

// sweep.csv: one row per cell. Columns, in order (see sweep_csv_header()).
std::string sweep_csv_header();
std::string sweep_csv(const std::vector<SweepResult>& results);
// sweep_stages.csv: one row per cell and stage (staleness, divergence, gain, weight copies/bytes).
std::string sweep_stages_csv_header();
std::string sweep_stages_csv(const std::vector<SweepResult>& results);

// What the papers claim a strategy holds at stage k of S, in weight-sized copies (live included), per
// STRATEGIES.md section 3 ("extra memory per stage") and the strategy catalogue's caveats.
struct WeightClaim {
  std::string formula;  // e.g. "S-k (PipeDream)"
  int copies = 1;       // the formula's value at (S, k)
};
WeightClaim claimed_weight_copies(const std::string& schedule, const std::string& strategy, int S, int k);

// sweep.md: (a) accuracy/loss mean ± std over seeds, (b) per-stage staleness, divergence and
// prediction gain, (c) peak weight copies/bytes beside the claims, (d) throughput and bubble.
// `command` is printed above the tables. Cells not finished are listed as missing.
std::string sweep_markdown(const SweepGrid& grid, const std::vector<SweepResult>& results, const std::string& command);

// Mean and sample standard deviation ("0.8712 ± 0.0031"); "—" for no values.
std::string mean_std_text(const std::vector<double>& values, int decimals);

}  // namespace ps

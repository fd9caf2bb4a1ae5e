// Sweep results: the CSV tables and the Markdown report of a sweep. Torch-free (engine_core).
#pragma once
#include <cstdint>
#include <optional>
#include <utility>
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

// ---- Statistics over seeds (sweep.md section (e), sweep_stats.csv)

// The p-quantile of Student's t distribution with `df` degrees of freedom (df >= 1, 0 < p < 1): the q
// with P(T <= q) = p. Computed from the regularized incomplete beta function (continued fraction) and
// bisection, to about 1e-10; student_t_quantile(0.975, 9) = 2.2622, (0.975, 1) = 12.7062.
double student_t_quantile(double p, int df);

// Mean, sample standard deviation and the two-sided t-interval of the mean at `level` (n - 1 degrees
// of freedom). Non-finite values are dropped. n < 2: sd and the interval are NaN.
struct MeanInterval {
  int n = 0;
  double mean = 0, sd = 0, lo = 0, hi = 0;
  // The interval excludes 0 (a difference that is there at this level, for a paired difference).
  bool significant() const { return n >= 2 && (lo > 0 || hi < 0); }
};
MeanInterval mean_interval(const std::vector<double>& values, double level = 0.95);

// Paired by seed: a[i] - b[i] for the seeds present (with a finite value) in both maps.
std::vector<double> paired_differences(const std::vector<std::pair<std::uint64_t, double>>& a,
                                       const std::vector<std::pair<std::uint64_t, double>>& b);

// The share of the latest-to-synchronous gap a strategy recovers, R = mean(x) / mean(g), where, per
// seed, x = strategy - latest and g = sync - latest (paired: the same seeds in both). The interval is
// the delta method's: Var(R) ~ (s_x^2 - 2 R s_xg + R^2 s_g^2) / (n mean(g)^2), then R ± t(n-1) sqrt(Var).
// `defined` is false when n < 2 or the gap's own t-interval includes 0 (no gap to recover).
struct ShareInterval {
  int n = 0;
  bool defined = false;
  double share = 0, lo = 0, hi = 0;
};
ShareInterval gap_share(const std::vector<double>& strategy_minus_latest, const std::vector<double>& sync_minus_latest,
                        double level = 0.95);

// sweep_stats.csv: one row per (stage count, configuration): test accuracy mean, sd, 95% t-interval;
// the paired differences from the `latest` and the synchronous reference of the same stage count,
// optimizer and learning rate; the share of the gap recovered; weight memory and prediction gain.
std::string sweep_stats_csv_header();
std::string sweep_stats_csv(const std::vector<SweepResult>& results);

}  // namespace ps

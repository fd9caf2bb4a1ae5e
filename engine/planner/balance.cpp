// Auto-balance by dynamic programming over contiguous splits (see balance.h for the cost model).
#include "engine/planner/balance.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/partition/partition.h"
#include "engine/schedule/schedule.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Per-unit figures of one minibatch, with prefix sums so a stage's totals are O(1).
struct UnitTable {
  int n = 0, stages = 1, microbatches = 1;
  BalanceOptions opts;
  std::vector<double> time, params, acts;  // prefix sums over units 0..j-1
  std::vector<double> act_out;             // activation bytes of one microbatch leaving unit u

  UnitTable(const ModelProfile& p, const BalanceOptions& o) : n(int(p.units.size())), stages(o.stages), opts(o) {
    microbatches = std::max(1, p.microbatches);
    const int micro = p.microbatch_size();
    time.assign(n + 1, 0);
    params.assign(n + 1, 0);
    acts.assign(n + 1, 0);
    for (int u = 0; u < n; ++u) {
      const double t = microbatches * (p.forward_s(u, micro) + p.backward_s(u, micro)) + p.units[u].update_s;
      time[u + 1] = time[u] + t;
      params[u + 1] = params[u] + double(p.units[u].param_bytes);
      acts[u + 1] = acts[u] + double(p.units[u].activation_bytes);
      act_out.push_back(double(p.units[u].activation_bytes));
    }
  }
  double compute(int i, int j) const { return time[j] - time[i]; }  // units i..j-1
  double param_bytes(int i, int j) const { return params[j] - params[i]; }
  int in_flight(int k) const { return in_flight_microbatches(opts.schedule, stages, k, microbatches); }
  // Stored activations: the outputs of the stage's units and its input, for every in-flight microbatch.
  double memory(int k, int i, int j) const {
    const double held = (acts[j] - acts[i]) + (i > 0 ? act_out[i - 1] : 0);
    return param_bytes(i, j) * opts.weight_copies + held * in_flight(k);
  }
  double link(int boundary) const {  // boundary: first unit of the receiving stage
    if (boundary <= 0 || opts.bandwidth_bytes_per_s <= 0) return 0;
    return microbatches * act_out[boundary - 1] / opts.bandwidth_bytes_per_s;
  }
  bool fits(int k, int i, int j) const {
    return opts.memory_limit_bytes <= 0 || memory(k, i, j) <= opts.memory_limit_bytes;
  }
  // The stage's contribution to the objective (stage k covering units i..j-1).
  double value(BalanceBy by, int k, int i, int j) const {
    switch (by) {
      case BalanceBy::Time: return std::max(compute(i, j), link(i));
      case BalanceBy::Params: return param_bytes(i, j);
      case BalanceBy::Memory: return memory(k, i, j);
    }
    return 0;
  }
};

// min over splits of max over stages of value(), among feasible stages; then the most even such split.
// Returns the boundaries, or an empty optional-like flag through `feasible`.
std::vector<int> solve(const UnitTable& t, BalanceBy by, bool respect_memory, double* best, bool* feasible) {
  const int n = t.n, S = t.stages;
  std::vector<std::vector<double>> worst(S + 1, std::vector<double>(n + 1, kInf));
  worst[0][0] = 0;
  for (int s = 1; s <= S; ++s)
    for (int j = s; j <= n; ++j)
      for (int i = s - 1; i < j; ++i) {
        if (worst[s - 1][i] == kInf || (respect_memory && !t.fits(s - 1, i, j))) continue;
        worst[s][j] = std::min(worst[s][j], std::max(worst[s - 1][i], t.value(by, s - 1, i, j)));
      }
  *best = worst[S][n];
  *feasible = worst[S][n] < kInf;
  if (!*feasible) return {};
  const double limit = worst[S][n] * (1 + 1e-12) + 1e-300;

  std::vector<std::vector<double>> squares(S + 1, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<int>> cut(S + 1, std::vector<int>(n + 1, -1));
  squares[0][0] = 0;
  for (int s = 1; s <= S; ++s)
    for (int j = s; j <= n; ++j)
      for (int i = s - 1; i < j; ++i) {
        if (squares[s - 1][i] == kInf || (respect_memory && !t.fits(s - 1, i, j))) continue;
        const double v = t.value(by, s - 1, i, j);
        if (v > limit) continue;
        const double total = squares[s - 1][i] + v * v;
        if (total < squares[s][j]) {
          squares[s][j] = total;
          cut[s][j] = i;
        }
      }
  std::vector<int> boundaries(S - 1);
  for (int s = S, j = n; s > 1; --s) {
    j = cut[s][j];
    boundaries[s - 2] = j;
  }
  return boundaries;
}

}  // namespace

BalanceBy parse_balance_by(const std::string& text, const std::string& field) {
  if (text == "time") return BalanceBy::Time;
  if (text == "params") return BalanceBy::Params;
  if (text == "memory") return BalanceBy::Memory;
  throw InputError("command line", field, "unknown balance objective '" + text + "' (known: time, params, memory)");
}

std::string to_string(BalanceBy by) {
  switch (by) {
    case BalanceBy::Time: return "time";
    case BalanceBy::Params: return "params";
    case BalanceBy::Memory: return "memory";
  }
  return "?";
}

int in_flight_microbatches(const std::string& schedule, int stages, int stage, int microbatches) {
  schedule_info(schedule);  // throws for unknown names
  const int M = std::max(1, microbatches);
  if (schedule == "gpipe") return M;
  if (schedule == "1f1b-flush") return std::max(1, std::min(stages - stage, M));
  if (schedule == "1f1b-async" || schedule == "nf1b")
    return (warmup_minibatches(schedule, stages, stage, M) + 1) * (schedule == "nf1b" ? M : 1);
  return 1;  // sequential, data-parallel
}

std::vector<int> even_partition(int units, int stages) {
  std::vector<int> b;
  if (stages < 1 || units < stages) return b;
  int first = 0;
  for (int k = 0; k + 1 < stages; ++k) {
    first += units / stages + (k < units % stages ? 1 : 0);
    b.push_back(first);
  }
  return b;
}

BalancePlan evaluate_partition(const ModelProfile& profile, const std::vector<int>& boundaries,
                               const BalanceOptions& opts) {
  const int n = int(profile.units.size());
  validate_partition(boundaries, n, "");
  BalanceOptions o = opts;
  o.stages = int(boundaries.size()) + 1;
  const UnitTable t(profile, o);
  BalancePlan plan;
  plan.boundaries = boundaries;
  int k = 0;
  for (const StageRange& r : stage_ranges(boundaries, n)) {
    StagePlan sp;
    sp.first = r.first;
    sp.last = r.last;
    sp.compute_s = t.compute(r.first, r.last + 1);
    sp.link_in_s = t.link(r.first);
    sp.param_bytes = std::int64_t(t.param_bytes(r.first, r.last + 1));
    sp.memory_bytes = t.memory(k, r.first, r.last + 1);
    sp.in_flight = t.in_flight(k);
    plan.bottleneck_s = std::max({plan.bottleneck_s, sp.compute_s, sp.link_in_s});
    plan.objective = std::max(plan.objective, t.value(opts.by, k, r.first, r.last + 1));
    plan.stages.push_back(sp);
    ++k;
  }
  return plan;
}

BalancePlan balance_partition(const ModelProfile& profile, const BalanceOptions& opts, const std::string& source) {
  const int n = int(profile.units.size());
  if (opts.stages < 1) throw InputError(source, "stages", "must be at least 1, got " + std::to_string(opts.stages));
  if (opts.stages > n)
    throw InputError(source, "stages", "cannot split " + std::to_string(n) + " layer units of model '" +
                                           profile.model + "' into " + std::to_string(opts.stages) +
                                           " stages (every stage needs at least one unit)");
  if (opts.bandwidth_bytes_per_s < 0) throw InputError(source, "bandwidth", "must not be negative");
  if (opts.weight_copies <= 0) throw InputError(source, "weight_copies", "must be positive");
  const UnitTable t(profile, opts);
  double best = 0;
  bool feasible = false;
  std::vector<int> boundaries = solve(t, opts.by, true, &best, &feasible);
  if (!feasible) {
    double least = 0;
    bool any = false;
    solve(t, BalanceBy::Memory, false, &least, &any);
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "no split into %d stages fits %.1f MB per device; the least memory any split needs is %.1f MB",
                  opts.stages, opts.memory_limit_bytes / 1e6, least / 1e6);
    throw InputError(source, "memory_limit", buf);
  }
  return evaluate_partition(profile, boundaries, opts);
}

}  // namespace ps

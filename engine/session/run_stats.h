// Aggregates op events into the per-stage figures of summary.json (staleness, inconsistency,
// divergence, prediction gain) with constant memory per in-flight minibatch. Torch-free.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <utility>
#include <vector>

#include "engine/telemetry/events.h"

namespace ps {

class RunStats {
 public:
  explicit RunStats(int stages) : per_stage_(stages) {}
  void add(const OpEvent& ev);
  // Fills the optional means of `summaries` (indexed by stage).
  void fill(std::vector<StageSummary>& summaries) const;
  // Checkpoints.
  nlohmann::json to_json() const;
  void from_json(const nlohmann::json& j);

 private:
  struct Mean {
    double sum = 0;
    long long n = 0;
    void add(double v) { sum += v, ++n; }
    std::optional<double> value() const { return n ? std::optional<double>(sum / n) : std::nullopt; }
  };
  struct Stage {
    Mean staleness_f, staleness_b, inconsistency, divergence, gain;
    std::map<std::pair<int, int>, long long> forward_basis;  // in flight: (minibatch, micro) -> basis(F)
  };
  std::vector<Stage> per_stage_;
};

}  // namespace ps

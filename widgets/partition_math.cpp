#include "widgets/partition_math.h"

#include <algorithm>

#include "engine/partition/partition.h"

namespace ps::ui {

double unit_measure(const UnitInfo& unit, UnitMetric metric) {
  switch (metric) {
    case UnitMetric::Cost: return unit_cost(unit);
    case UnitMetric::Params: return static_cast<double>(unit.params);
    case UnitMetric::Activation: return static_cast<double>(unit.activation_bytes);
  }
  return 0;
}

int weight_copies_estimate(const std::string& strategy, int stages, int stage) {
  const int in_flight = std::max(1, stages - stage);  // versions alive at stage k under 1F1B: S-k
  if (strategy == "stash" || strategy == "vertical-sync") return in_flight;
  if (strategy == "i-timeprest") return in_flight + 1;  // the stash plus the intermediate weights
  if (strategy == "2bw" || strategy == "spectrain" || strategy == "nesterov" || strategy == "pipemare" ||
      strategy == "adam-predict")
    return 2;  // one extra buffer, delta or temporary predicted copy
  return 1;    // latest, v-timeprest and anything without extra weights
}

PartitionStats partition_stats(const ModelInfo& model, const std::vector<int>& boundaries,
                               const std::string& strategy) {
  PartitionStats stats;
  const int n = static_cast<int>(model.units.size());
  if (n == 0) return stats;
  const int S = static_cast<int>(boundaries.size()) + 1;
  double max_cost = -1, sum_cost = 0;
  for (int k = 0; k < S; ++k) {
    StageTotals t;
    t.first_unit = k == 0 ? 0 : boundaries[static_cast<std::size_t>(k - 1)];
    t.last_unit = k == S - 1 ? n - 1 : boundaries[static_cast<std::size_t>(k)] - 1;
    for (int u = t.first_unit; u <= t.last_unit && u < n; ++u) {
      const UnitInfo& unit = model.units[static_cast<std::size_t>(u)];
      t.cost += unit_cost(unit);
      t.params += unit.params;
    }
    if (t.last_unit >= 0 && t.last_unit < n) t.activation_bytes = model.units[static_cast<std::size_t>(t.last_unit)].activation_bytes;
    t.weight_copies = weight_copies_estimate(strategy, S, k);
    t.weight_bytes = t.params * 4 * t.weight_copies;
    sum_cost += t.cost;
    if (t.cost > max_cost) {
      max_cost = t.cost;
      stats.bottleneck_stage = k;
    }
    stats.stages.push_back(t);
  }
  stats.efficiency = max_cost > 0 ? (sum_cost / S) / max_cost : 0;
  return stats;
}

std::vector<int> move_boundary(std::vector<int> boundaries, int index, int unit, int num_units) {
  if (index < 0 || index >= static_cast<int>(boundaries.size())) return boundaries;
  const auto i = static_cast<std::size_t>(index);
  const int low = index == 0 ? 1 : boundaries[i - 1] + 1;
  const int high = i + 1 == boundaries.size() ? num_units - 1 : boundaries[i + 1] - 1;
  boundaries[i] = std::clamp(unit, low, std::max(low, high));
  return boundaries;
}

std::vector<int> add_boundary(std::vector<int> boundaries, int unit, int num_units) {
  if (unit <= 0 || unit >= num_units) return boundaries;
  auto it = std::lower_bound(boundaries.begin(), boundaries.end(), unit);
  if (it != boundaries.end() && *it == unit) return boundaries;
  boundaries.insert(it, unit);
  return boundaries;
}

std::vector<int> remove_boundary(std::vector<int> boundaries, int index) {
  if (index >= 0 && index < static_cast<int>(boundaries.size()))
    boundaries.erase(boundaries.begin() + index);
  return boundaries;
}

}  // namespace ps::ui

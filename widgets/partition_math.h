// The arithmetic behind the partition editor, free of widgets so tests can pin it:
// per-stage totals, the predicted bottleneck, pipeline efficiency and boundary edits.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/models/model_info.h"

namespace ps::ui {

// What a unit's width in the editor stands for.
enum class UnitMetric { Cost, Params, Activation };

double unit_measure(const UnitInfo& unit, UnitMetric metric);

// Weight-sized copies stage k (0-based) of S holds under `strategy`, live weights included, following
// the "extra memory per stage" column of each strategy's catalogue entry: stash keeps S-k, latest 1,
// predicting strategies 1 temporary copy more, i-timeprest a stash plus one temporary.
int weight_copies_estimate(const std::string& strategy, int stages, int stage);

struct StageTotals {
  int first_unit = 0;
  int last_unit = 0;  // inclusive
  double cost = 0;    // sum of ps::unit_cost over the stage's units
  std::int64_t params = 0;
  int weight_copies = 1;
  std::int64_t weight_bytes = 0;      // params * 4 bytes * copies (float32)
  std::int64_t activation_bytes = 0;  // per sample: the stage's output (what crosses to the next stage)
};

struct PartitionStats {
  std::vector<StageTotals> stages;
  int bottleneck_stage = -1;  // the stage with the largest cost
  double efficiency = 0;      // mean stage cost / max stage cost (1 = perfectly balanced)
};

// `boundaries`: the first unit of every stage after the first (as in RunConfig::partition).
PartitionStats partition_stats(const ModelInfo& model, const std::vector<int>& boundaries,
                               const std::string& strategy);

// Boundary edits that keep every stage non-empty. move_boundary clamps `unit` between its neighbours.
std::vector<int> move_boundary(std::vector<int> boundaries, int index, int unit, int num_units);
// Adds a boundary before `unit`; unchanged when one is already there or unit is 0 / out of range.
std::vector<int> add_boundary(std::vector<int> boundaries, int unit, int num_units);
std::vector<int> remove_boundary(std::vector<int> boundaries, int index);

}  // namespace ps::ui

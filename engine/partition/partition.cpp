// Partitions: boundaries between layer units, their validation, and cost-balanced splits.
#include "engine/partition/partition.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/util/errors.h"

namespace ps {
namespace {

// Weights of the cost estimate (relative units: flops per sample).
constexpr double kBackwardFactor = 3.0;      // forward + backward, the backward costing about 2x the forward
constexpr double kFloorPerUnit = 64.0;       // parameter-free units still cost a kernel launch and a copy
constexpr double kPerActivationElement = 1.0;  // touching the unit's output once (reshape, pool, add)
constexpr double kPerParameter = 0.125;      // optimizer step (~4 flops per parameter) over a minibatch of ~32

}  // namespace

void validate_partition(const std::vector<int>& boundaries, int num_units, const std::string& source) {
  for (std::size_t i = 0; i < boundaries.size(); ++i) {
    const std::string field = "partition[" + std::to_string(i) + "]";
    const int b = boundaries[i];
    if (i > 0 && b <= boundaries[i - 1])
      throw InputError(source, field, "boundaries must be strictly increasing (" + std::to_string(b) + " after " +
                                          std::to_string(boundaries[i - 1]) + ")");
    if (b < 0)
      throw InputError(source, field, "boundary " + std::to_string(b) +
                                          " is negative; boundaries are layer unit indices (the first unit is 0)");
    if (b == 0) throw InputError(source, field, "boundary 0 would leave stage 0 empty");
    if (b >= num_units)
      throw InputError(source, field, "boundary " + std::to_string(b) + " is past the last layer unit (" +
                                          std::to_string(num_units - 1) + ")");
  }
}

std::vector<StageRange> stage_ranges(const std::vector<int>& boundaries, int num_units) {
  validate_partition(boundaries, num_units, "");
  if (num_units < 1) return {};
  std::vector<StageRange> ranges;
  int first = 0;
  for (int b : boundaries) {
    ranges.push_back({first, b - 1});
    first = b;
  }
  ranges.push_back({first, num_units - 1});
  return ranges;
}

double unit_cost(const UnitInfo& u) {
  const double activation_elements = static_cast<double>(u.activation_bytes) / 4.0;  // float32
  return kBackwardFactor * u.forward_flops + kFloorPerUnit + kPerActivationElement * activation_elements +
         kPerParameter * static_cast<double>(u.params);
}

std::vector<int> balanced_partition(const ModelInfo& info, int stages, const std::string& source) {
  const int n = static_cast<int>(info.units.size());
  if (stages < 1) throw InputError(source, "stages", "must be at least 1, got " + std::to_string(stages));
  if (stages > n)
    throw InputError(source, "stages", "cannot split " + std::to_string(n) + " layer units of model '" + info.name +
                                           "' into " + std::to_string(stages) +
                                           " stages (every stage needs at least one unit)");

  std::vector<double> prefix(n + 1, 0.0);  // prefix[j]: cost of units 0..j-1
  for (int j = 0; j < n; ++j) prefix[j + 1] = prefix[j] + unit_cost(info.units[j]);
  auto span = [&](int from, int to) { return prefix[to] - prefix[from]; };  // units from..to-1
  const double inf = std::numeric_limits<double>::infinity();

  // Pass 1: the smallest achievable maximum stage cost. worst[s][j]: best max over s stages of units 0..j-1.
  std::vector<std::vector<double>> worst(stages + 1, std::vector<double>(n + 1, inf));
  worst[0][0] = 0;
  for (int s = 1; s <= stages; ++s)
    for (int j = s; j <= n; ++j)
      for (int i = s - 1; i < j; ++i) worst[s][j] = std::min(worst[s][j], std::max(worst[s - 1][i], span(i, j)));
  const double limit = worst[stages][n] * (1 + 1e-12);

  // Pass 2: among the splits that reach it, the most even one (least sum of squared stage costs), so
  // a single dominant unit does not leave the other stages lopsided.
  std::vector<std::vector<double>> squares(stages + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<int>> cut(stages + 1, std::vector<int>(n + 1, -1));
  squares[0][0] = 0;
  for (int s = 1; s <= stages; ++s)
    for (int j = s; j <= n; ++j)
      for (int i = s - 1; i < j; ++i) {
        const double c = span(i, j);
        if (c > limit || squares[s - 1][i] == inf) continue;
        const double total = squares[s - 1][i] + c * c;
        if (total < squares[s][j]) {
          squares[s][j] = total;
          cut[s][j] = i;
        }
      }

  std::vector<int> boundaries(stages - 1);
  for (int s = stages, j = n; s > 1; --s) {
    j = cut[s][j];
    boundaries[s - 2] = j;
  }
  return boundaries;
}

}  // namespace ps

// Partition: boundaries between layer units give S contiguous stages. Torch-free.
#pragma once
#include <string>
#include <vector>

#include "engine/models/model_info.h"

namespace ps {

struct StageRange {
  int first = 0;  // first unit
  int last = 0;   // last unit, inclusive
};

// `boundaries` lists the first unit of every stage after the first (strictly increasing, in 1..n-1).
std::vector<StageRange> stage_ranges(const std::vector<int>& boundaries, int num_units);

// Throws InputError(source, "partition[i]", reason) for empty stages, unordered or out-of-range boundaries.
void validate_partition(const std::vector<int>& boundaries, int num_units, const std::string& source);

// Contiguous split into `stages` parts minimising the largest per-stage estimated cost (forward flops,
// with a floor per unit so parameter-free units still weigh something). Throws InputError if stages > units.
std::vector<int> balanced_partition(const ModelInfo& info, int stages, const std::string& source = "");

// Estimated relative cost of a unit (forward + backward), used for balancing and the editor's widths.
double unit_cost(const UnitInfo& u);

}  // namespace ps

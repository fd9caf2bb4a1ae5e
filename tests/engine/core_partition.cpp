// Partitions: stage ranges, every validation message, and balanced splits checked against brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include "engine/partition/partition.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

// A unit whose cost is decided by its forward flops alone (no parameters, no activations).
UnitInfo unit_with_flops(double flops) {
  UnitInfo u;
  u.name = "u";
  u.forward_flops = flops;
  return u;
}

ModelInfo model_with_flops(const std::vector<double>& flops) {
  ModelInfo info;
  info.name = "hand-made";
  for (double f : flops) info.units.push_back(unit_with_flops(f));
  return info;
}

double max_stage_cost(const ModelInfo& info, const std::vector<int>& boundaries) {
  double worst = 0;
  for (const StageRange& r : stage_ranges(boundaries, static_cast<int>(info.units.size()))) {
    double cost = 0;
    for (int i = r.first; i <= r.last; ++i) cost += unit_cost(info.units[i]);
    worst = std::max(worst, cost);
  }
  return worst;
}

// The smallest maximum stage cost over every way to choose stages-1 boundaries out of 1..n-1.
double brute_force_best(const ModelInfo& info, int stages) {
  const int n = static_cast<int>(info.units.size());
  double best = -1;
  std::vector<int> chosen;
  std::function<void(int)> choose = [&](int next) {
    if (static_cast<int>(chosen.size()) == stages - 1) {
      const double cost = max_stage_cost(info, chosen);
      if (best < 0 || cost < best) best = cost;
      return;
    }
    for (int b = next; b < n; ++b) {
      chosen.push_back(b);
      choose(b + 1);
      chosen.pop_back();
    }
  };
  choose(1);
  return best;
}

InputError partition_error(const std::vector<int>& boundaries, int units) {
  try {
    validate_partition(boundaries, units, "presets/x.json");
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an InputError";
  return InputError("", "", "");
}

TEST(Partition, StageRanges) {
  const auto ranges = stage_ranges({3, 5}, 8);
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0].first, 0);
  EXPECT_EQ(ranges[0].last, 2);
  EXPECT_EQ(ranges[1].first, 3);
  EXPECT_EQ(ranges[1].last, 4);
  EXPECT_EQ(ranges[2].first, 5);
  EXPECT_EQ(ranges[2].last, 7);
  const auto whole = stage_ranges({}, 4);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].first, 0);
  EXPECT_EQ(whole[0].last, 3);
}

TEST(Partition, ValidationMessages) {
  InputError e = partition_error({2, 9}, 8);
  EXPECT_EQ(e.file(), "presets/x.json");
  EXPECT_EQ(e.field(), "partition[1]");
  EXPECT_EQ(e.reason(), "boundary 9 is past the last layer unit (7)");
  EXPECT_EQ(std::string(e.what()), "presets/x.json: partition[1]: boundary 9 is past the last layer unit (7)");
  EXPECT_EQ(partition_error({8}, 8).reason(), "boundary 8 is past the last layer unit (7)");
  e = partition_error({2, 5, 5}, 8);
  EXPECT_EQ(e.field(), "partition[2]");
  EXPECT_EQ(e.reason(), "boundaries must be strictly increasing (5 after 5)");
  EXPECT_EQ(partition_error({4, 3}, 8).reason(), "boundaries must be strictly increasing (3 after 4)");
  e = partition_error({0, 3}, 8);
  EXPECT_EQ(e.field(), "partition[0]");
  EXPECT_EQ(e.reason(), "boundary 0 would leave stage 0 empty");
  EXPECT_NE(partition_error({-1}, 8).reason().find("negative"), std::string::npos);
  EXPECT_NO_THROW(validate_partition({1, 7}, 8, ""));
  EXPECT_NO_THROW(validate_partition({}, 1, ""));
}

TEST(Partition, UnitCostGrowsWithWork) {
  UnitInfo empty;
  EXPECT_GT(unit_cost(empty), 0) << "parameter-free units must weigh something";
  UnitInfo heavier = empty;
  heavier.forward_flops = 1000;
  EXPECT_GT(unit_cost(heavier), unit_cost(empty));
  UnitInfo with_params = empty;
  with_params.params = 1000;
  EXPECT_GT(unit_cost(with_params), unit_cost(empty));
  UnitInfo with_output = empty;
  with_output.activation_bytes = 4096;
  EXPECT_GT(unit_cost(with_output), unit_cost(empty));
}

TEST(Partition, BalancedEqualUnitsSplitEvenly) {
  EXPECT_EQ(balanced_partition(model_with_flops(std::vector<double>(8, 100)), 4), (std::vector<int>{2, 4, 6}));
  EXPECT_EQ(balanced_partition(model_with_flops(std::vector<double>(5, 100)), 5), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(balanced_partition(model_with_flops({1, 2, 3}), 1).empty());
}

TEST(Partition, BalancedIsolatesADominantUnit) {
  EXPECT_EQ(balanced_partition(model_with_flops({1, 1, 1, 100, 1, 1, 1}), 3), (std::vector<int>{3, 4}));
  EXPECT_EQ(balanced_partition(model_with_flops({1000, 10, 10, 10}), 2), (std::vector<int>{1}));
}

TEST(Partition, BalancedMatchesBruteForce) {
  std::vector<std::vector<double>> lists = {
      {5, 1, 1, 1, 1, 5},
      {1, 2, 3, 4, 5, 6, 7},
      {7, 6, 5, 4, 3, 2, 1},
      {0, 0, 50, 0, 0, 50, 0},
      {3, 9, 2, 7, 7, 1, 8, 2},
  };
  std::mt19937 random(7);
  std::uniform_real_distribution<double> flops(0, 1e4);
  for (int k = 0; k < 6; ++k) {
    std::vector<double> list(4 + k);
    for (double& f : list) f = flops(random);
    lists.push_back(list);
  }
  for (const auto& list : lists) {
    const ModelInfo info = model_with_flops(list);
    const int n = static_cast<int>(list.size());
    for (int stages = 1; stages <= n; ++stages) {
      SCOPED_TRACE(::testing::Message() << n << " units, " << stages << " stages");
      const std::vector<int> boundaries = balanced_partition(info, stages);
      ASSERT_EQ(static_cast<int>(boundaries.size()), stages - 1);
      ASSERT_NO_THROW(validate_partition(boundaries, n, ""));
      const double best = brute_force_best(info, stages);
      EXPECT_NEAR(max_stage_cost(info, boundaries), best, best * 1e-12);
    }
  }
}

TEST(Partition, BalancedRefusesMoreStagesThanUnits) {
  try {
    balanced_partition(model_with_flops({1, 2, 3}), 4, "presets/x.json");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "presets/x.json");
    EXPECT_EQ(e.field(), "stages");
    EXPECT_NE(e.reason().find("cannot split 3 layer units"), std::string::npos) << e.reason();
  }
}

}  // namespace
}  // namespace ps

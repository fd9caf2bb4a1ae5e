// pin_threads: which cores each device's worker is pinned to (engine/session/pinning.h).
#include <gtest/gtest.h>

#include "engine/session/pinning.h"

namespace ps {
namespace {

using Cores = std::vector<std::vector<int>>;

RunConfig config(const std::string& executor, const std::string& pin, int threads = 1) {
  RunConfig c;
  c.executor = executor;
  c.pin_threads = pin;
  c.threads_per_stage = threads;
  return c;
}

DistOptions launched(int rank, int world) {
  DistOptions d;
  d.rank = rank;
  d.world = world;
  d.launched = true;
  d.local_rank = rank;
  return d;
}

TEST(Pinning, AutoPinsNothing) {
  const std::vector<int> cores = {0, 1};
  EXPECT_EQ(pinned_cores(config("processes", "auto"), launched(0, 2), 0, 2, cores), (Cores{{}, {}}));
  EXPECT_EQ(pinned_cores(config("processes", "auto"), launched(1, 2), 1, 2, cores), (Cores{{}, {}}));
  EXPECT_EQ(pinned_cores(config("threaded", "auto"), {}, 0, 2, cores), (Cores{{}, {}}));
  EXPECT_EQ(pinned_cores(config("sequential", "on"), {}, 0, 2, cores), (Cores{{}, {}}));
}

TEST(Pinning, OnPinsEachProcessOfAHostToTheCoresOfItsPlace) {
  const std::vector<int> two = {0, 1};
  EXPECT_EQ(pinned_cores(config("processes", "on"), launched(0, 2), 0, 2, two), (Cores{{0}, {}}));
  EXPECT_EQ(pinned_cores(config("processes", "on"), launched(1, 2), 1, 2, two), (Cores{{}, {1}}));
  // asked for, so the third rank shares the first core
  EXPECT_EQ(pinned_cores(config("processes", "on"), launched(2, 3), 2, 3, two), (Cores{{}, {}, {0}}));
  // 2 intra-op threads each: the second rank takes the second block
  EXPECT_EQ(pinned_cores(config("processes", "on", 2), launched(1, 2), 1, 2, {0, 1, 2, 3}), (Cores{{}, {2, 3}}));
  EXPECT_EQ(pinned_cores(config("processes", "off"), launched(1, 2), 1, 2, two), (Cores{{}, {}}));
}

TEST(Pinning, OnPinsEveryThreadedDeviceToABlockOfTheAllowedCores) {
  // The process may run on some cores only (a cpuset): blocks are taken from those.
  EXPECT_EQ(pinned_cores(config("threaded", "on"), {}, 0, 3, {4, 6, 7}), (Cores{{4}, {6}, {7}}));
  EXPECT_EQ(pinned_cores(config("threaded", "on", 2), {}, 0, 2, {0, 1, 2, 3}), (Cores{{0, 1}, {2, 3}}));
  EXPECT_EQ(pinned_cores(config("threaded", "off"), {}, 0, 2, {0, 1}), (Cores{{}, {}}));
}

TEST(Pinning, TorchrunRanksUseTheirLocalRankAndAnUnknownPlaceIsNotPinned) {
  DistOptions d;
  d.rank = 3;
  d.world = 4;
  d.local_rank = 1;  // the second rank of its host
  EXPECT_EQ(pinned_cores(config("processes", "on"), d, 3, 4, {0, 1}), (Cores{{}, {}, {}, {1}}));
  d.local_rank = -1;  // no LOCAL_RANK
  EXPECT_EQ(pinned_cores(config("processes", "on"), d, 3, 4, {0, 1}), (Cores{{}, {}, {}, {}}));
}

}  // namespace
}  // namespace ps

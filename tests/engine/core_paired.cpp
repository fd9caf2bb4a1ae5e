// The paired rounds of the ratio benchmarks (engine/bench/paired.h).
#include <gtest/gtest.h>

#include <cstdio>

#include "engine/bench/paired.h"

namespace ps {
namespace {

// Two configurations whose ratio never moves: the spread is 0 from the second round on, yet the rounds
// go on to kFewestToSettle before it may end them (with a budget left); with --budget 0 the run is
// exactly --repeats rounds; and the order alternates, A B, then B A.
TEST(Paired, ASpreadFromFewRoundsDoesNotEndTheRun) {
  std::vector<char> order;
  std::vector<Measurement> ms(2);
  ms[0].label = "a";
  ms[0].run = [&] { order.push_back('a'); return 2.0; };
  ms[1].label = "b";
  ms[1].run = [&] { order.push_back('b'); return 1.0; };
  std::vector<RatioOf> ratios(1);
  ratios[0].name = "a/b";
  ratios[0].a = 0;
  ratios[0].b = 1;
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  PairedOptions opts;
  opts.min_rounds = 3;
  opts.budget_s = 3600;
  EXPECT_EQ(run_paired("test", ms, ratios, opts, sink), kFewestToSettle);
  EXPECT_EQ(ratios[0].stats().median, 2.0);
  EXPECT_EQ(ratios[0].stats().spread, 0.0);
  ASSERT_GE(order.size(), 4u);
  EXPECT_EQ(std::string(order.begin(), order.begin() + 4), "abba");

  for (auto& m : ms) m.values.clear();
  ratios[0].values.clear();
  opts.budget_s = 0;
  EXPECT_EQ(run_paired("test", ms, ratios, opts, sink), 3);
  opts.min_rounds = 8;  // more repeats than the fewest that settle: all of them
  opts.budget_s = 3600;
  for (auto& m : ms) m.values.clear();
  ratios[0].values.clear();
  EXPECT_EQ(run_paired("test", ms, ratios, opts, sink), 8);
  std::fclose(sink);
}

}  // namespace
}  // namespace ps

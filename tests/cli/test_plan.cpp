// `pipescope-cli partition` and `simulate` through the real binary: JSON shape, valid boundaries,
// the profile cache, printed throughput, and exit code 2 naming the flag for bad input.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace {

using Result = ps::test::CliResult;

// Runs the CLI with a private profile cache, keeping stdout (JSON) apart from stderr (progress).
Result plan_cli(const std::string& args) {
  static const std::filesystem::path cache =
      std::filesystem::temp_directory_path() / ("pipescope_plan_cache_" + std::to_string(::getpid()));
  return ps::test::run_shell("PIPESCOPE_PROFILE_DIR=" + cache.string() + " " + std::string(PIPESCOPE_CLI) + " " + args,
                             /*merge_stderr=*/false);
}

std::string preset(const std::string& name) { return std::string(PIPESCOPE_SOURCE_DIR) + "/presets/" + name; }

void expect_valid_boundaries(const nlohmann::json& b, int stages, int units) {
  ASSERT_TRUE(b.is_array());
  ASSERT_EQ(int(b.size()), stages - 1);
  int prev = 0;
  for (const auto& x : b) {
    EXPECT_GT(x.get<int>(), prev);
    EXPECT_LT(x.get<int>(), units);
    prev = x.get<int>();
  }
}

TEST(Plan, PartitionJsonParsesAndHasValidBoundaries) {
  for (const std::string by : {"params", "memory", "time"}) {
    Result r = plan_cli("partition --preset " + preset("tiny.json") + " --stages 3 --by " + by + " --format json");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["by"], by);
    const int units = int(j["units"].size());
    expect_valid_boundaries(j["boundaries"], 3, units);
    expect_valid_boundaries(j["even"]["boundaries"], 3, units);
    EXPECT_EQ(j["plan"]["stages"].size(), 3u);
    EXPECT_GT(j["plan"]["samples_per_second"].get<double>(), 0);
    // The DP's slowest stage is never worse than the even split's.
    EXPECT_LE(j["plan"]["bottleneck_s"].get<double>(), j["even"]["bottleneck_s"].get<double>() * (1 + 1e-9));
    EXPECT_EQ(j["profile"], by == "time" ? "measured" : "estimated");
  }
  // The time profile measured above is cached and reused.
  Result again = plan_cli("partition --preset " + preset("tiny.json") + " --stages 2 --format json");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("profile: cached"), std::string::npos) << again.err;
  Result refreshed = plan_cli("partition --preset " + preset("tiny.json") + " --stages 2 --refresh");
  ASSERT_EQ(refreshed.code, 0) << refreshed.err;
  EXPECT_NE(refreshed.err.find("profile: measuring"), std::string::npos) << refreshed.err;
  EXPECT_NE(refreshed.out.find("predicted speed-up over the even split"), std::string::npos) << refreshed.out;
  // --again: one more profile kept beside the refreshed one; their median answers from then on.
  Result more = plan_cli("partition --preset " + preset("tiny.json") + " --stages 2 --again --format json");
  ASSERT_EQ(more.code, 0) << more.err;
  EXPECT_NE(more.err.find("profile: measuring"), std::string::npos) << more.err;
  EXPECT_EQ(nlohmann::json::parse(more.out)["profiles"], 2);
  Result median = plan_cli("partition --preset " + preset("tiny.json") + " --stages 2 --format json");
  ASSERT_EQ(median.code, 0) << median.err;
  EXPECT_NE(median.err.find("(the median of 2 kept)"), std::string::npos) << median.err;
  EXPECT_EQ(nlohmann::json::parse(median.out)["profiles"], 2);
}

TEST(Plan, SimulatePrintsThroughputAndBubble) {
  Result r = plan_cli("simulate --preset " + preset("tiny.json") + " --stages 2 --bandwidth 1");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("predicted throughput:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("predicted bubble fraction:"), std::string::npos) << r.out;
  Result j = plan_cli("simulate --preset " + preset("tiny.json") + " --stages 2 --schedule gpipe --microbatches 4 "
                      "--format json");
  ASSERT_EQ(j.code, 0) << j.out << j.err;
  const auto js = nlohmann::json::parse(j.out);
  EXPECT_GT(js["samples_per_second"].get<double>(), 0);
  EXPECT_GT(js["bubble_fraction"].get<double>(), 0);
  EXPECT_NEAR(js["bubble_fraction_ideal"].get<double>(), 1.0 / 5.0, 1e-12);
}

TEST(Plan, BadInputExitsWithTwoNamingTheFlag) {
  Result by = plan_cli("partition --preset " + preset("tiny.json") + " --stages 2 --by flops");
  EXPECT_EQ(by.code, 2);
  EXPECT_NE(by.err.find("--by"), std::string::npos) << by.err;
  Result bw = plan_cli("simulate --preset " + preset("tiny.json") + " --stages 2 --bandwidth fast");
  EXPECT_EQ(bw.code, 2);
  EXPECT_NE(bw.err.find("--bandwidth"), std::string::npos) << bw.err;
  Result stages = plan_cli("partition --preset " + preset("tiny.json") + " --stages 99 --by params");
  EXPECT_EQ(stages.code, 2);
  EXPECT_NE(stages.err.find("--stages"), std::string::npos) << stages.err;
  Result mem = plan_cli("partition --preset " + preset("tiny.json") + " --stages 2 --by params --memory-limit 0.000001");
  EXPECT_EQ(mem.code, 2);
  EXPECT_NE(mem.err.find("memory_limit"), std::string::npos) << mem.err;
}

}  // namespace

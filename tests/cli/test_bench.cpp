// Smoke tests of `pipescope-cli bench`: every benchmark runs once at a tiny size through the real binary
// and ends with `NAME: ratio=X`, X a positive finite number. No timing is asserted (the figures are
// printed for people; a shared machine makes them noisy), only the contract of the output.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Result = ps::test::CliResult;

// stdout apart (the benchmark's lines), stderr kept for the messages.
Result cli(const std::string& args) { return ps::test::cli(args, /*merge_stderr=*/false); }

std::string tiny_bench(const std::string& name, const std::string& extra = "") {
  return "bench " + name + " --preset " + std::string(PIPESCOPE_SOURCE_DIR) + "/presets/tiny.json --steps 3 --repeats 1 --budget 0" +
         extra;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// The value X of a line `label: ratio=X`; NaN when `line` is not such a line.
double ratio_of(const std::string& line, const std::string& label) {
  static const std::regex re(R"(^([A-Za-z0-9_\-\[\]]+): ratio=([-+0-9.eE]+|nan|inf|-inf)$)");
  std::smatch m;
  if (!std::regex_match(line, m, re) || m[1] != label) return std::nan("");
  return std::strtod(m[2].str().c_str(), nullptr);
}

// Runs benchmark `name` at tiny size and checks the contract of its last line; returns stdout's lines.
std::vector<std::string> run_and_check(const std::string& name, const std::string& extra = "") {
  const Result r = cli(tiny_bench(name, extra));
  EXPECT_EQ(r.code, 0) << r.all();
  const auto ls = lines(r.out);
  if (ls.empty()) {
    ADD_FAILURE() << "no output from bench " << name << "\n" << r.all();
    return ls;
  }
  const double x = ratio_of(ls.back(), name);
  EXPECT_TRUE(std::isfinite(x) && x > 0) << "last line: '" << ls.back() << "'\n" << r.all();
  return ls;
}

const std::string* find_line(const std::vector<std::string>& ls, const std::string& prefix) {
  for (const auto& l : ls)
    if (l.rfind(prefix, 0) == 0) return &l;
  return nullptr;
}

// The first line says which allocator serves malloc (it moves every figure): the applications link
// tcmalloc unless CMake's PIPESCOPE_TCMALLOC is off.
TEST(Bench, OverheadEndsWithARatioAndSaysWhichAllocatorRanIt) {
  const auto ls = run_and_check("overhead");
  ASSERT_FALSE(ls.empty());
  EXPECT_EQ(ls.front().rfind(PIPESCOPE_TCMALLOC ? "bench: allocator tcmalloc" : "bench: allocator glibc", 0), 0u)
      << ls.front();
}

// The ratio benchmarks run their configurations in alternating pairs: --repeats R with --budget 0 runs
// exactly R rounds, and the result is the median of the pair ratios, printed with its spread.
TEST(Bench, OverheadRunsPairsAndReportsTheMedianPairRatioWithItsSpread) {
  const auto ls = run_and_check("overhead", " --repeats 3");
  int rounds = 0;
  std::vector<double> ratios;
  for (const auto& l : ls)
    if (l.rfind("overhead: round ", 0) == 0) {
      ++rounds;
      const auto at = l.find("; overhead ");
      ASSERT_NE(at, std::string::npos) << l;
      ratios.push_back(std::strtod(l.c_str() + at + 11, nullptr));
    }
  ASSERT_EQ(rounds, 3);
  std::sort(ratios.begin(), ratios.end());
  const std::string* summary = find_line(ls, "overhead: ");
  const auto median = ratio_of(ls.back(), "overhead");
  EXPECT_NEAR(median, ratios[1], 0.0015) << "the result is the median of the 3 pair ratios";
  bool described = false;
  for (const auto& l : ls) described = described || l.find("(median of 3 pair ratios, range ") != std::string::npos;
  EXPECT_TRUE(described) << (summary ? *summary : "");
  EXPECT_NE(find_line(ls, "overhead: per step, engine sys "), nullptr) << "kernel time and page faults per step";
}

TEST(Bench, TelemetryEndsWithARatio) { run_and_check("telemetry"); }

TEST(Bench, ScalingPrintsItsLimitBesideTheRatio) {
  const auto ls = run_and_check("scaling");
  const std::string* limit = find_line(ls, "scaling: limit ");
  ASSERT_NE(limit, nullptr);
  // The limit is measured in the same run (2 plain copies over 1) and comes with the per-stage busy
  // times; at this tiny size it is noise, so only its presence and sign are checked.
  const double value = std::strtod(limit->c_str() + std::string("scaling: limit ").size(), nullptr);
  EXPECT_GT(value, 0);
  EXPECT_NE(limit->find("2 independent single-thread copies over 1"), std::string::npos) << *limit;
  EXPECT_NE(limit->find("2-stage busy"), std::string::npos) << *limit;
  EXPECT_NE(find_line(ls, "scaling: 2 stages reach "), nullptr);
  const std::string* round = find_line(ls, "scaling: round 1: 2 stages ");
  ASSERT_NE(round, nullptr);
  EXPECT_NE(round->find("2 copies"), std::string::npos) << *round;
}

// 2 stages as 2 real processes (c10d over loopback) beside 2 threads, 1 stage and 2 independent
// processes; the processes run's link figures are read back from its summary.
TEST(Bench, ProcessesComparesProcessesWithThreadsAndReportsTheLink) {
  const auto ls = run_and_check("processes");
  const std::string* round = find_line(ls, "processes: round 1: 2 processes ");
  ASSERT_NE(round, nullptr);
  for (const char* m : {"1 stage", "2 threads", "2 copies", "1 copy"}) EXPECT_NE(round->find(m), std::string::npos) << *round;
  for (int k = 0; k < 2; ++k) {
    const std::string* stage = find_line(ls, "processes: stage " + std::to_string(k) + " (rank " + std::to_string(k) + ", pid ");
    ASSERT_NE(stage, nullptr) << "stage " << k;
    // 3 steps of 1f1b-async: every stage sends 3 messages (activations from 0, gradients from 1).
    EXPECT_NE(stage->find("sent 3 messages"), std::string::npos) << *stage;
  }
  EXPECT_NE(find_line(ls, "processes: limit (2 independent processes over 1) "), nullptr);
  EXPECT_NE(find_line(ls, "processes: 2 processes reach "), nullptr);
}

TEST(Bench, EfficiencyReportsEverySchedule) {
  const auto ls = run_and_check("efficiency");
  // tiny.json's mlp has 4 layer units: 2 devices hold every schedule, 2 chunks each where it places two.
  int rows = 0;
  for (const char* s : {"1f1b-async", "1f1b-flush", "gpipe", "sequential", "interleaved-1f1b", "looped-bfs", "zb-h1",
                        "zb-h2", "zb1p-interleaved", "zbv", "dualpipev"}) {
    const std::string label = std::string("efficiency[") + s + "]";
    double x = std::nan("");
    for (const auto& l : ls)
      if (std::isfinite(ratio_of(l, label))) x = ratio_of(l, label);
    // Measured over the slowest device's bound cannot exceed 1: the slowest device's busy time lies
    // within the run's pipeline time (a little slack for clock granularity).
    EXPECT_TRUE(x > 0 && x <= 1.02) << label << " = " << x;
    const std::string* sim = find_line(ls, label + ": simulated ");
    ASSERT_NE(sim, nullptr) << label;
    EXPECT_NE(sim->find("bubble ideal "), std::string::npos) << *sim;
    // The machine it simulated: the profile's cores, the threads' hand-off and the switch cost.
    EXPECT_NE(sim->find(" cores, hand-off "), std::string::npos) << *sim;
    EXPECT_NE(sim->find(" us, switch "), std::string::npos) << *sim;
    // Every round's run against its own round's profile: one ratio per round (--repeats 1 here).
    const std::string* per_round = find_line(ls, label + ": per round, simulated / measured: ");
    ASSERT_NE(per_round, nullptr) << label;
    EXPECT_EQ(std::count(per_round->begin(), per_round->end(), '.'), 1) << *per_round;
    EXPECT_NE(sim->find("peak activations held by one device "), std::string::npos) << *sim;
    const std::string* row = find_line(ls, std::string("| ") + s + " | ");
    ASSERT_NE(row, nullptr) << s;
    rows += 1;
    // v: two chunks per device for the placed schedules, else one; M: 4 (2S) where microbatches are taken.
    const bool placed = std::string(s) == "interleaved-1f1b" || std::string(s) == "looped-bfs" ||
                        std::string(s) == "zb1p-interleaved" || std::string(s) == "zbv" || std::string(s) == "dualpipev";
    const bool whole = std::string(s) == "1f1b-async" || std::string(s) == "sequential";
    EXPECT_EQ(row->find(std::string("| ") + s + " | " + (placed ? "2" : "1") + " | " + (whole ? "1" : "4") + " | "), 0u) << *row;
  }
  EXPECT_EQ(rows, 11);
  EXPECT_NE(find_line(ls, "efficiency: simulator max_error="), nullptr);
  EXPECT_NE(find_line(ls, "efficiency: the ratio below is 1f1b-async"), nullptr);
}

// bench simulator: a row per stage count (1, 2 and 4: tiny.json's mlp has 4 units), each with one
// predicted/measured ratio per round (every round profiles afresh), and the largest error last. The
// rounds' profiles are the benchmark's own: the profile cache (the dashboard's kept profiles) is left
// as it was.
TEST(Bench, SimulatorComparesEveryStageCountRoundByRound) {
  const std::filesystem::path cache =
      std::filesystem::temp_directory_path() / ("pipescope_bench_cache_" + std::to_string(::getpid()));
  std::filesystem::remove_all(cache);
  const Result r = ps::test::run_shell("PIPESCOPE_PROFILE_DIR=" + cache.string() + " " + std::string(PIPESCOPE_CLI) +
                                           " bench simulator --preset " + std::string(PIPESCOPE_SOURCE_DIR) +
                                           "/presets/tiny.json --steps 6 --repeats 2 --budget 0",
                                       /*merge_stderr=*/false);
  ASSERT_EQ(r.code, 0) << r.all();
  EXPECT_FALSE(std::filesystem::exists(cache)) << "the benchmark wrote the profile cache";
  const auto ls = lines(r.out);
  ASSERT_FALSE(ls.empty());
  EXPECT_NE(find_line(ls, "simulator: max_error="), nullptr) << r.out;
  EXPECT_NE(r.out.find("2 rounds, each profiled afresh"), std::string::npos) << r.out;
  for (const char* s : {"1 ", "2 ", "4 "}) {
    const std::string* row = find_line(ls, s);
    ASSERT_NE(row, nullptr) << s << "\n" << r.out;
    const auto rounds = row->substr(row->rfind("   ") + 3);
    EXPECT_EQ(std::count(rounds.begin(), rounds.end(), '.'), 2) << *row;
  }
}

// --schedules picks the schedules; a schedule whose chunks the model cannot hold is skipped, saying why.
TEST(Bench, EfficiencyMeasuresTheSchedulesAskedForAndSaysWhichItSkips) {
  const auto ls = run_and_check("efficiency", " --stages 3 --schedules zb-h1,zbv");
  EXPECT_NE(find_line(ls, "efficiency[zb-h1]: simulated "), nullptr);
  const std::string* skipped = find_line(ls, "efficiency[zbv]: skipped: 3 devices x 2 chunks = 6 chunks, more than the model's 4 layer units");
  EXPECT_NE(skipped, nullptr);
  EXPECT_EQ(find_line(ls, "efficiency[gpipe]"), nullptr);
  EXPECT_NE(find_line(ls, "efficiency: 3 devices"), nullptr);
}

TEST(Bench, MemoryRunsEachStrategyInAChildAndReadsItsWeights) {
  const auto ls = run_and_check("memory", " --strategies latest,stash");
  const std::string* latest = find_line(ls, "memory[latest]: peak RSS ");
  const std::string* stash = find_line(ls, "memory[stash]: peak RSS ");
  ASSERT_NE(latest, nullptr);
  ASSERT_NE(stash, nullptr);
  // Weight stashing holds more weight copies than the live weights alone (from the child's summary.json).
  const auto x = stash->find(" of latest)");
  ASSERT_NE(x, std::string::npos) << *stash;
  const auto start = stash->rfind("(x", x);
  ASSERT_NE(start, std::string::npos) << *stash;
  EXPECT_GT(std::strtod(stash->c_str() + start + 2, nullptr), 1.0) << *stash;
  EXPECT_NE(latest->find("x1.00 of latest"), std::string::npos) << *latest;
  // A child's peak RSS is a real measurement: a LibTorch process holds more than a few MiB.
  const double rss = std::strtod(latest->c_str() + std::string("memory[latest]: peak RSS ").size(), nullptr);
  EXPECT_GT(rss, 10.0) << *latest;
}

TEST(Bench, BadNamesAndOptionsExitWithCodeTwo) {
  Result r = cli(tiny_bench("nonsense"));
  EXPECT_EQ(r.code, 2) << r.all();
  EXPECT_NE(r.all().find("unknown benchmark 'nonsense'"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("simulator"), std::string::npos) << r.all();
  EXPECT_EQ(cli(tiny_bench("overhead", " --budget -1")).code, 2);
  EXPECT_EQ(cli(tiny_bench("overhead", " --spread 0")).code, 2);
  EXPECT_EQ(cli("bench").code, 2);
  EXPECT_EQ(cli(tiny_bench("overhead", " --repeats 0")).code, 2);
  EXPECT_EQ(cli(tiny_bench("memory", " --strategies latest,no-such-strategy")).code, 2);
  EXPECT_EQ(cli(tiny_bench("scaling", " --strategies stash")).code, 2);
}

}  // namespace

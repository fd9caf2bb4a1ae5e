// pipescope-cli's contract, exercised through the real binary: outputs, exit codes, error messages.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

using Result = ps::test::CliResult;
using ps::test::cli;
using ps::test::src;

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("pipescope_cli_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(Cli, ScheduleJsonMatchesTheContract) {
  Result r = cli("schedule --schedule 1f1b-async --stages 3 --microbatches 1 --minibatches 4 --format json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schedule"], "1f1b-async");
  ASSERT_EQ(j["stages"].size(), 3u);
  EXPECT_EQ(j["stages"][0]["stage"], 0);
  std::vector<std::string> first8(j["stages"][0]["ops"].begin(), j["stages"][0]["ops"].begin() + 8);
  EXPECT_EQ(first8, (std::vector<std::string>{"F0", "F1", "F2", "B0", "U0", "F3", "B1", "U1"}));
  std::vector<std::string> last6(j["stages"][2]["ops"].begin(), j["stages"][2]["ops"].begin() + 6);
  EXPECT_EQ(last6, (std::vector<std::string>{"F0", "B0", "U0", "F1", "B1", "U1"}));
}

TEST(Cli, ScheduleNamesMicrobatches) {
  Result r = cli("schedule --schedule gpipe --stages 2 --microbatches 2 --minibatches 1 --format json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["stages"][1]["ops"][0], "F0.0");
  EXPECT_EQ(j["stages"][1]["ops"][2], "B0.0");
}

TEST(Cli, RunRepartitionsLiveAtTheStepItWasGiven) {
  const auto dir = fresh_dir("repartition");
  // tiny: 4 units on 2 stages; the boundary moves from 1 to 3 once 10 minibatches are done.
  Result r = cli("run --preset " + src("presets/tiny.json") + " --steps 20 --partition 1 --repartition 10:3 --quiet --out " +
                 dir.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("repartition: partition 1 -> 3 at step 10"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stage 0 [0..2]"), std::string::npos) << r.out;
  auto summary = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
  EXPECT_EQ(summary["steps"], 20);
  EXPECT_EQ(summary["per_stage"][1]["first_layer"], 3);
  // config.json and run.json (what the dashboard's File > Open run reads): the partition the run ended
  // with, a preset that loads, and the repartition history.
  auto config = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  EXPECT_EQ(config["partition"], nlohmann::json::array({3}));
  EXPECT_EQ(config["strategy"]["name"], "latest");
  EXPECT_EQ(config["steps"], 20);
  auto run = nlohmann::json::parse(std::ifstream(dir / "run.json"));
  ASSERT_EQ(run["repartitions"].size(), 1u);
  EXPECT_EQ(run["repartitions"][0]["step"], 10);
  EXPECT_EQ(run["repartitions"][0]["before"], nlohmann::json::array({1}));
  EXPECT_EQ(run["repartitions"][0]["after"], nlohmann::json::array({3}));
  EXPECT_TRUE(run["resumed_from"].is_null());
  EXPECT_EQ(run["origin"], "cli");

  Result bad = cli("run --preset " + src("presets/tiny.json") + " --steps 20 --repartition 10:1,2");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("command line: --repartition"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("stage count"), std::string::npos) << bad.out;
  Result shape = cli("run --preset " + src("presets/tiny.json") + " --steps 20 --repartition 3");
  EXPECT_EQ(shape.code, 2) << shape.out;
  EXPECT_NE(shape.out.find("expected STEP:i,j,..."), std::string::npos) << shape.out;
}

TEST(Cli, RunWritesOutputsAndSummary) {
  const auto dir = fresh_dir("run");
  Result r = cli("run --preset " + src("presets/tiny.json") + " --steps 10 --out " + dir.string() + " --trace " +
                 (dir / "trace.json").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("status: completed"), std::string::npos) << r.out;
  auto summary = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["steps"], 10);
  for (const char* key : {"schedule", "strategy", "stages", "microbatches", "samples", "final_train_loss",
                          "test_accuracy", "samples_per_second", "wall_seconds", "weights_digest", "per_stage"})
    EXPECT_TRUE(summary.contains(key)) << key;
  for (const char* key : {"stage", "first_layer", "last_layer", "params", "utilization", "weight_copies_max",
                          "weight_bytes_max", "staleness_forward_mean", "staleness_backward_mean", "divergence_mean",
                          "prediction_gain_mean"})
    EXPECT_TRUE(summary["per_stage"][0].contains(key)) << key;
  std::ifstream metrics(dir / "metrics.csv");
  std::string header;
  std::getline(metrics, header);
  EXPECT_EQ(header.rfind("step,epoch,samples,train_loss,train_acc,lr,samples_per_second,wall_seconds", 0), 0u);
  auto trace = nlohmann::json::parse(std::ifstream(dir / "trace.json"));
  EXPECT_GT(trace["traceEvents"].size(), 10u);
  std::filesystem::remove_all(dir);
}

TEST(Cli, OverridesReachTheRun) {
  Result r = cli("run --preset " + src("presets/tiny.json") +
                 " --steps 4 --strategy stash --schedule 1f1b-async --partition 1,3 --executor sequential --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("stage 2 [3..3]"), std::string::npos) << r.out;
}

// --partition sets the stage count as `--set partition=` does: a --set of the schedule or the chunks
// after it keeps the partition (it once dropped it silently for the preset's own stage count).
TEST(Cli, PartitionSurvivesALaterSetOfTheSchedule) {
  Result r = cli("run --preset " + src("presets/tiny.json") +
                 " --steps 4 --partition 3 --set schedule=1f1b-flush --set microbatches=2 --set chunks=0 --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("stage 0 [0..2]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stage 1 [3..3]"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("stage 2 "), std::string::npos) << r.out;
}

TEST(Cli, BadPresetExitsWithCodeTwoNamingFileFieldAndReason) {
  const auto dir = fresh_dir("bad");
  const auto file = dir / "x.json";
  std::ofstream(file) << R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals"}, "partition": [1, 9]})";
  Result r = cli("run --preset " + file.string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(file.string() + ": partition[1]: boundary 9 is past the last layer unit"), std::string::npos)
      << r.out;
  std::ofstream(file) << R"({"model": {"name": "mlp"}, "dataset": {"name": "spirals"}, "optimiser": {}})";
  r = cli("run --preset " + file.string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("optimizer"), std::string::npos) << r.out;  // did you mean
  std::filesystem::remove_all(dir);
}

TEST(Cli, UnknownArgumentsAndCommandsAreRefused) {
  EXPECT_EQ(cli("run --preset " + src("presets/tiny.json") + " --sptes 3").code, 2);
  EXPECT_EQ(cli("frobnicate").code, 2);
  EXPECT_EQ(cli("list nothing").code, 2);
}

TEST(Cli, ListStrategiesVerboseCarriesTheTextOnce) {
  Result r = cli("list strategies --verbose");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* name : {"latest", "stash", "vertical-sync", "2bw", "spectrain", "nesterov", "pipemare",
                           "v-timeprest", "i-timeprest", "adam-predict"})
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  EXPECT_NE(r.out.find("not public"), std::string::npos) << "the i-timeprest caveat is missing";
}

TEST(Cli, BenchmarksSmoke) {
  Result r = cli("bench telemetry --preset " + src("presets/tiny.json") + " --steps 5 --repeats 1 --budget 0");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("telemetry: ratio="), std::string::npos) << r.out;
}

}  // namespace

// Lessons that are true: every number a classroom preset's description states is measured here by
// running the preset with the real CLI (the same engine the dashboard drives). When a test fails, the
// preset's text (or the engine) changed: run the command in the failure message and fix the text.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.h"

using ps::test::cli;
using ps::test::src;

namespace {

// Runs `preset` (with `extra` flags) to the end and returns its summary.json.
nlohmann::json run_preset(const std::string& preset, const std::string& extra = "") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("pipescope_classroom_" + std::to_string(::getpid()) + "_" + std::filesystem::path(preset).stem().string());
  std::filesystem::remove_all(dir);
  const std::string args = "run --preset " + src(preset) + " " + extra + " --quiet --out " + dir.string();
  const auto r = cli(args);
  EXPECT_EQ(r.code, 0) << "pipescope-cli " << args << "\n" << r.out;
  if (r.code != 0) return {};
  auto summary = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
  std::filesystem::remove_all(dir);
  return summary;
}

std::string preset_text(const std::string& preset) {
  return nlohmann::json::parse(std::ifstream(src(preset)))["description"].get<std::string>();
}

// The description states `text` (so the test and the lesson change together).
void expect_says(const std::string& preset, const std::string& text) {
  EXPECT_NE(preset_text(preset).find(text), std::string::npos) << preset << " no longer says \"" << text << "\"";
}

// Activation and gradient messages sent between chunks, all chunks together.
std::int64_t messages(const nlohmann::json& summary) {
  std::int64_t n = 0;
  for (const auto& stage : summary["per_stage"]) n += stage["messages_sent"].get<std::int64_t>();
  return n;
}

}  // namespace

TEST(Classroom, GpipeBubbleIsThreeSevenths) {
  expect_says("presets/classroom-gpipe.json", "(S-1)/(M+S-1) = 3/7");
  const auto s = run_preset("presets/classroom-gpipe.json", "--steps 4");
  ASSERT_FALSE(s.is_null());
  EXPECT_NEAR(s["bubble_fraction_ideal"].get<double>(), 3.0 / 7.0, 1e-9);
  EXPECT_EQ(s["stages"], 4);
  EXPECT_EQ(s["microbatches"], 4);
}

TEST(Classroom, StalenessCostsWhatTheLessonSays) {
  const std::string preset = "presets/classroom-staleness.json";
  expect_says(preset, "reaches 0.97 test accuracy; this one ends at 0.64");
  const auto latest = run_preset(preset);
  ASSERT_FALSE(latest.is_null());
  EXPECT_NEAR(latest["test_accuracy"].get<double>(), 0.64, 0.005);
  EXPECT_NEAR(latest["bubble_fraction_ideal"].get<double>(), 0.0, 1e-12);  // "removes the bubble"
  const auto flush = run_preset(preset, "--schedule 1f1b-flush");
  ASSERT_FALSE(flush.is_null());
  EXPECT_NEAR(flush["test_accuracy"].get<double>(), 0.97, 0.005);
}

TEST(Classroom, StashingKeepsCopiesAndRecoversPartOfTheLoss) {
  const std::string preset = "presets/classroom-stash.json";
  expect_says(preset, "stage 0 holds up to 4 copies, the last stage 1");
  expect_says(preset, "stashing ends at 0.78 test accuracy against 0.64 for 'latest' and 0.97 without staleness");
  const auto s = run_preset(preset);
  ASSERT_FALSE(s.is_null());
  EXPECT_NEAR(s["test_accuracy"].get<double>(), 0.78, 0.005);
  EXPECT_EQ(s["per_stage"][0]["weight_copies_max"], 4);
  EXPECT_EQ(s["per_stage"][3]["weight_copies_max"], 1);
}

TEST(Classroom, InterleavingShrinksTheBubbleAndTrainsTheSameWeights) {
  const std::string preset = "presets/classroom-interleaved.json";
  expect_says(preset, "(S-1)/(M+S-1) = 3/7 = 0.43 to (S-1)/(vM+S-1) = 3/11 = 0.27");
  expect_says(preset, "both reach 0.95 test accuracy with the same weights, bit for bit");
  expect_says(preset, "7 chunk boundaries instead of 3 (7/3 as many messages)");
  const auto interleaved = run_preset(preset);
  const auto flush = run_preset(preset, "--schedule 1f1b-flush --chunks 1");
  ASSERT_FALSE(interleaved.is_null());
  ASSERT_FALSE(flush.is_null());
  EXPECT_EQ(interleaved["schedule"], "interleaved-1f1b");
  EXPECT_EQ(interleaved["chunks"], 2);
  EXPECT_EQ(interleaved["per_stage"].size(), 8u);
  EXPECT_NEAR(interleaved["bubble_fraction_ideal"].get<double>(), 3.0 / 11.0, 1e-9);
  EXPECT_NEAR(flush["bubble_fraction_ideal"].get<double>(), 3.0 / 7.0, 1e-9);
  EXPECT_EQ(interleaved["weights_digest"], flush["weights_digest"]);
  EXPECT_NEAR(interleaved["test_accuracy"].get<double>(), 0.95, 0.005);
  EXPECT_NEAR(flush["test_accuracy"].get<double>(), 0.95, 0.005);
  EXPECT_EQ(3 * messages(interleaved), 7 * messages(flush));
}

TEST(Classroom, ZeroBubbleNearlyRemovesTheBubble) {
  const std::string preset = "presets/classroom-zero-bubble.json";
  expect_says(preset, "3/11 = 0.27 under 1f1b-flush, 1/9 = 0.11 under zb-h1");
  expect_says(preset, "1/17 = 0.06 under zbv: the bubble nearly disappears");
  expect_says(preset, "All three train the same weights bit for bit (the same weights digest) and reach 0.95");
  const auto zbv = run_preset(preset);
  const auto h1 = run_preset(preset, "--schedule zb-h1 --chunks 1");
  const auto flush = run_preset(preset, "--schedule 1f1b-flush --chunks 1");
  ASSERT_FALSE(zbv.is_null());
  ASSERT_FALSE(h1.is_null());
  ASSERT_FALSE(flush.is_null());
  EXPECT_EQ(zbv["schedule"], "zbv");
  EXPECT_EQ(zbv["microbatches"], 8);
  EXPECT_NEAR(zbv["bubble_fraction_ideal"].get<double>(), 1.0 / 17.0, 1e-9);
  EXPECT_NEAR(h1["bubble_fraction_ideal"].get<double>(), 1.0 / 9.0, 1e-9);
  EXPECT_NEAR(flush["bubble_fraction_ideal"].get<double>(), 3.0 / 11.0, 1e-9);
  EXPECT_EQ(zbv["weights_digest"], flush["weights_digest"]);
  EXPECT_EQ(h1["weights_digest"], flush["weights_digest"]);
  for (const auto* s : {&zbv, &h1, &flush}) EXPECT_NEAR((*s)["test_accuracy"].get<double>(), 0.95, 0.005);
}

TEST(Classroom, SpecTrainsPredictionMovesTheWeightsTowardTheStalenessFreeOnes) {
  const std::string preset = "presets/classroom-spectrain.json";
  expect_says(preset, "2.4 times closer to the staleness-free ones than the live weights on stage 0, 3.1 times on "
                      "stage 1 and 4.1 times on stage 2");
  expect_says(preset, "stage 0's mean divergence falls from 0.0042 under 'latest' to 0.0028");
  expect_says(preset, "SpecTrain ends at 0.78 test accuracy against 0.64 for 'latest'");
  const auto spectrain = run_preset(preset);
  const auto latest = run_preset(preset, "--strategy latest");
  ASSERT_FALSE(spectrain.is_null());
  ASSERT_FALSE(latest.is_null());
  EXPECT_EQ(spectrain["strategy"], "spectrain");
  const auto& stages = spectrain["per_stage"];
  ASSERT_EQ(stages.size(), 4u);
  const double gains[] = {2.4, 3.1, 4.1};
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(stages[k]["prediction_gain_mean"].is_number()) << "stage " << k;
    EXPECT_NEAR(stages[k]["prediction_gain_mean"].get<double>(), gains[k], 0.05) << "stage " << k;
    // Closer to the staleness-free weights than 'latest' on every stale stage.
    EXPECT_LT(stages[k]["divergence_mean"].get<double>(), latest["per_stage"][k]["divergence_mean"].get<double>())
        << "stage " << k;
  }
  EXPECT_TRUE(stages[3]["prediction_gain_mean"].is_null());  // never stale: nothing predicted
  EXPECT_NEAR(stages[0]["divergence_mean"].get<double>(), 0.0028, 0.00005);
  EXPECT_NEAR(latest["per_stage"][0]["divergence_mean"].get<double>(), 0.0042, 0.00005);
  EXPECT_NEAR(spectrain["test_accuracy"].get<double>(), 0.78, 0.005);
  EXPECT_NEAR(latest["test_accuracy"].get<double>(), 0.64, 0.005);
}

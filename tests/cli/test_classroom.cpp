// Lessons that are true: every number a classroom preset's description states is measured here by
// running the preset with the real CLI (the same engine the dashboard drives). When a test fails, the
// preset's text (or the engine) changed: run the command in the failure message and fix the text.
#include <gtest/gtest.h>

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

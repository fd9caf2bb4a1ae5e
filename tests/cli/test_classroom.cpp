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

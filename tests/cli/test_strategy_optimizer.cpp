// A strategy that needs another optimizer (issue 18, item 5), through the real binary: named on the
// command line it brings that optimizer and says so on stderr; a preset that names it with another
// optimizer, or a line that sets the optimizer against it, is refused with the --set flags that fix it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.h"

namespace {

namespace fs = std::filesystem;
using Result = ps::test::CliResult;
using ps::test::cli;
using ps::test::src;

class CliStrategyOptimizer : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("pipescope_strategy_opt_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Two quick steps of `preset` with `args`, outputs in DIR/out; stderr kept apart.
  Result run(const std::string& preset, const std::string& args) const {
    return cli("run --preset " + preset + " --schedule 1f1b-async --set microbatches=1 --steps 2 --quiet --out " +
                   (dir_ / "out").string() + " " + args,
               /*merge_stderr=*/false);
  }

  nlohmann::json optimizer_run() const {
    return nlohmann::json::parse(std::ifstream(dir_ / "out" / "config.json"))["optimizer"];
  }

  fs::path write_preset(const std::string& text) const {
    const fs::path p = dir_ / "preset.json";
    std::ofstream(p) << text;
    return p;
  }

  fs::path dir_;
};

// What follows "on the command line: " in the error.
std::string fix_of(const std::string& out) {
  const std::string key = "on the command line: ";
  const auto at = out.find(key);
  if (at == std::string::npos) return "";
  return out.substr(at + key.size(), out.find('\n', at) - at - key.size());
}

TEST_F(CliStrategyOptimizer, NesterovOnTheCommandLineBringsNesterovMomentumAndSaysSo) {
  for (const std::string named : {"--strategy nesterov", "--set strategy.name=nesterov"}) {
    const Result r = run(src("presets/tiny.json"), named);
    ASSERT_EQ(r.code, 0) << named << "\n" << r.all();
    EXPECT_NE(r.out.find("status: completed"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "pipescope: strategy 'nesterov' needs another optimizer: set optimizer.nesterov=true (was false); "
                     "the same as --set optimizer.nesterov=true\n")
        << named;
    const auto opt = optimizer_run();
    EXPECT_EQ(opt["name"], "sgd");
    EXPECT_EQ(opt["nesterov"], true) << opt.dump();
    EXPECT_DOUBLE_EQ(opt["lr"].get<double>(), 0.05);  // the preset's rate, untouched
  }
}

TEST_F(CliStrategyOptimizer, AdamPredictBringsAdamWithItsRateUnlessTheLineGivesOne) {
  const Result r = run(src("presets/tiny.json"), "--strategy adam-predict");
  ASSERT_EQ(r.code, 0) << r.all();
  EXPECT_NE(r.err.find("set optimizer.name=adam (was sgd), optimizer.lr=0.001 (was 0.05)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the same as --set optimizer.name=adam --lr 0.001"), std::string::npos) << r.err;
  EXPECT_EQ(optimizer_run()["name"], "adam");
  EXPECT_DOUBLE_EQ(optimizer_run()["lr"].get<double>(), 0.001);

  const Result own_rate = run(src("presets/tiny.json"), "--strategy adam-predict --lr 0.002");
  ASSERT_EQ(own_rate.code, 0) << own_rate.all();
  EXPECT_NE(own_rate.err.find("set optimizer.name=adam (was sgd); the same as --set optimizer.name=adam\n"),
            std::string::npos)
      << own_rate.err;
  EXPECT_DOUBLE_EQ(optimizer_run()["lr"].get<double>(), 0.002);

  const Result spectrain = run(src("presets/transformer-tiny.json"), "--strategy spectrain");
  ASSERT_EQ(spectrain.code, 0) << spectrain.all();
  EXPECT_NE(spectrain.err.find("set optimizer.name=sgd (was adam)"), std::string::npos) << spectrain.err;
  EXPECT_EQ(optimizer_run()["name"], "sgd");
}

// Nothing to change, nothing said.
TEST_F(CliStrategyOptimizer, AFittingOptimizerIsLeftAloneSilently) {
  const Result r = run(src("presets/tiny.json"), "--strategy nesterov --set optimizer.nesterov=true");
  ASSERT_EQ(r.code, 0) << r.all();
  EXPECT_EQ(r.err, "");
  const Result latest = run(src("presets/tiny.json"), "--strategy stash");
  ASSERT_EQ(latest.code, 0) << latest.all();
  EXPECT_EQ(latest.err, "");
  EXPECT_EQ(optimizer_run()["nesterov"], false);
}

// The line sets the optimizer against the strategy: the runner does not overrule it, it names the fix.
TEST_F(CliStrategyOptimizer, ALineThatSetsTheOptimizerAgainstTheStrategyIsRefusedWithTheFix) {
  const Result r = run(src("presets/tiny.json"), "--strategy nesterov --set optimizer.nesterov=false");
  EXPECT_EQ(r.code, 2) << r.all();
  EXPECT_NE(r.err.find("error: " + src("presets/tiny.json") + ": optimizer.nesterov: strategy 'nesterov'"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(fix_of(r.err), "--set optimizer.nesterov=true") << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  const Result fixed = run(src("presets/tiny.json"), "--strategy nesterov --set optimizer.nesterov=false " + fix_of(r.err));
  EXPECT_EQ(fixed.code, 0) << fixed.all();
  EXPECT_EQ(optimizer_run()["nesterov"], true);
}

// A preset that names such a strategy with another optimizer: its file, the field and the flags.
TEST_F(CliStrategyOptimizer, AnInconsistentPresetNamesItsFileTheFieldAndTheFlagsThatFixIt) {
  struct Case {
    std::string strategy, optimizer, field, fix;
  };
  const Case cases[] = {
      {"nesterov", R"({"name": "sgd", "lr": 0.05, "momentum": 0.9})", "optimizer.nesterov", "--set optimizer.nesterov=true"},
      {"nesterov", R"({"name": "sgd", "lr": 0.05, "momentum": 0})", "optimizer.nesterov",
       "--set optimizer.nesterov=true --set optimizer.momentum=0.9"},
      {"adam-predict", R"({"name": "sgd", "lr": 0.05, "momentum": 0.9})", "optimizer.name",
       "--set optimizer.name=adam --lr 0.001"},
  };
  for (const Case& c : cases) {
    const fs::path preset = write_preset(R"({"model": {"name": "mlp", "hidden": [16]}, "dataset": {"name": "spirals",
      "synthetic_size": 256}, "batch_size": 16, "stages": 2, "strategy": {"name": ")" +
                                         c.strategy + R"("}, "optimizer": )" + c.optimizer + "}");
    const Result r = run(preset.string(), "");
    EXPECT_EQ(r.code, 2) << r.all();
    EXPECT_NE(r.err.find("error: " + preset.string() + ": " + c.field + ": strategy '" + c.strategy + "'"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(fix_of(r.err), c.fix) << r.err;
    EXPECT_EQ(r.err.find("needs another optimizer: set"), std::string::npos) << "changed a preset by itself:\n" << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "out"));
    const Result fixed = run(preset.string(), fix_of(r.err));
    EXPECT_EQ(fixed.code, 0) << c.strategy << " with " << c.fix << "\n" << fixed.all();
    EXPECT_NE(fixed.out.find("status: completed"), std::string::npos) << fixed.out;
    fs::remove_all(dir_ / "out");
  }
}

}  // namespace

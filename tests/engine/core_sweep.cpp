// Sweep grids: parsing errors (file, field, reason), expansion count and order, overrides checked
// before anything runs, and the report's tables.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "engine/config/run_config.h"
#include "engine/sweep/grid.h"
#include "engine/sweep/report.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

const std::string kGrid = "sweeps/g.json";

RunConfig base_config() {
  return parse_preset(R"({"name": "b", "model": {"name": "mlp", "hidden": [8, 8, 8, 8]}, "dataset": {"name": "spirals"},
                          "steps": 10, "stages": 2, "schedule": "1f1b-async", "strategy": {"name": "latest"}})",
                      "base.json");
}

std::string grid_json(const std::string& runs, const std::string& extra = "") {
  return R"({"base": "base.json", "stages": [2, 4], "seeds": [1, 2, 3])" + (extra.empty() ? "" : ", " + extra) +
         R"(, "runs": )" + runs + "}";
}

const std::string kTwoRuns =
    R"([{"label": "flush", "set": ["schedule=1f1b-flush"]},
        {"label": "async+stash", "set": ["schedule=1f1b-async", "strategy.name=stash"]}])";

InputError input_error(const std::function<void()>& action) {
  try {
    action();
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an InputError";
  return InputError("", "", "");
}

void expect_grid_error(const std::string& json, const std::string& field, const std::string& fragment) {
  const InputError e = input_error([&] { expand_sweep(parse_sweep_grid(json, kGrid, ""), base_config()); });
  EXPECT_EQ(e.file(), kGrid) << json;
  EXPECT_EQ(e.field(), field) << json;
  EXPECT_NE(e.reason().find(fragment), std::string::npos) << e.what();
}

TEST(SweepGrid, ExpandsSeedsOuterThenStagesThenRuns) {
  const SweepGrid g = parse_sweep_grid(grid_json(kTwoRuns, R"("set": ["steps=5"])"), kGrid, "");
  const auto cells = expand_sweep(g, base_config());
  ASSERT_EQ(cells.size(), 2u * 2u * 3u);
  EXPECT_EQ(cells[0].id, "flush-S2-seed1");
  EXPECT_EQ(cells[1].id, "async+stash-S2-seed1");
  EXPECT_EQ(cells[2].id, "flush-S4-seed1");
  EXPECT_EQ(cells[4].id, "flush-S2-seed2");
  EXPECT_EQ(cells.back().id, "async+stash-S4-seed3");
  for (const auto& c : cells) {
    EXPECT_EQ(c.config.steps, 5);
    EXPECT_EQ(c.config.num_stages(), c.stages);
    EXPECT_EQ(c.config.seed, c.seed);
  }
  EXPECT_EQ(cells[0].config.schedule, "1f1b-flush");
  EXPECT_EQ(cells[1].config.schedule, "1f1b-async");
  EXPECT_EQ(cells[1].config.strategy.name, "stash");
}

TEST(SweepGrid, RunOwnStagesSeedsAndSetComeLast) {
  const std::string runs = R"([{"label": "single", "stages": [1], "set": ["schedule=1f1b-flush"]},
      {"label": "hot", "stages": [4], "seeds": [7], "set": ["optimizer.lr=0.5"], "note": "hot"},
      {"label": "plain"}])";
  const auto cells =
      expand_sweep(parse_sweep_grid(grid_json(runs, R"("set": ["optimizer.lr=0.01"])"), kGrid, ""), base_config());
  // single: 3 seeds x 1 stage count; hot: 1; plain: 3 x 2.
  ASSERT_EQ(cells.size(), 3u + 1u + 6u);
  int hot = 0;
  for (const auto& c : cells) {
    if (c.label == "single") EXPECT_EQ(c.stages, 1);
    if (c.label == "hot") {
      ++hot;
      EXPECT_EQ(c.id, "hot-S4-seed7");
      EXPECT_DOUBLE_EQ(c.config.optimizer.lr, 0.5);
    }
    if (c.label == "plain") EXPECT_DOUBLE_EQ(c.config.optimizer.lr, 0.01);
  }
  EXPECT_EQ(hot, 1);
  EXPECT_EQ(cells.back().id, "hot-S4-seed7");  // its seed comes after the grid's seeds
}

TEST(SweepGrid, BadGridsNameFileFieldAndReason) {
  expect_grid_error("{", "", "not valid JSON");
  expect_grid_error(R"({"runs": [{"label": "a"}]})", "base", "missing");
  expect_grid_error(R"({"base": "b.json"})", "runs", "missing");
  expect_grid_error(grid_json("[]"), "runs", "non-empty");
  expect_grid_error(grid_json(kTwoRuns, R"("stage": [2])"), "stage", "unknown key");
  expect_grid_error(R"({"base": "b.json", "stages": [2, 0], "runs": [{"label": "a"}]})", "stages[1]", "[1, 1024]");
  expect_grid_error(R"({"base": "b.json", "seeds": [1, 1], "runs": [{"label": "a"}]})", "seeds[1]", "twice");
  expect_grid_error(grid_json(R"([{"label": "a/b"}])"), "runs[0].label", "letters");
  expect_grid_error(grid_json(R"([{"label": "a"}, {"label": "a"}])"), "runs[1].label", "used twice");
  expect_grid_error(grid_json(R"([{"label": "a", "set": ["lr"]}])"), "runs[0].set[0]", "field.path=value");
  expect_grid_error(grid_json(R"([{"label": "a", "sets": []}])"), "runs[0].sets", "unknown key");
}

TEST(SweepGrid, UnknownOverrideFieldFailsBeforeAnyCell) {
  // The bad override sits in the last run: expansion must refuse the whole grid.
  const std::string runs = R"([{"label": "ok"}, {"label": "bad", "set": ["strategy.nmae=stash"]}])";
  expect_grid_error(grid_json(runs), "runs[1].set[0]", "strategy.nmae");
  expect_grid_error(grid_json(R"([{"label": "ok"}])", R"("set": ["optimizer.lr=fast"])"), "set[0]", "expected a number");
  expect_grid_error(grid_json(R"([{"label": "a", "set": ["strategy.name=nosuch"]}])"), "runs[0].set[0]", "nosuch");
  // A run may not change its stage count behind the grid's back.
  expect_grid_error(grid_json(R"([{"label": "a", "set": ["stages=3"]}])"), "runs[0].set", "stage count");
}

TEST(SweepGrid, CrossFieldProblemsAreReportedPerRun) {
  // Nesterov needs optimizer.nesterov=true: validate() says so, under the run's name.
  const InputError e = input_error([&] {
    expand_sweep(parse_sweep_grid(grid_json(R"([{"label": "nag", "set": ["strategy.name=nesterov"]}])"), kGrid, ""),
                 base_config());
  });
  EXPECT_EQ(e.file(), kGrid);
  EXPECT_NE(e.field().find("runs[0] (nag"), std::string::npos) << e.what();
}

TEST(SweepGrid, LoadsTheShippedGrids) {
  const char* src = std::getenv("PIPESCOPE_SOURCE_DIR");
  if (!src) GTEST_SKIP() << "PIPESCOPE_SOURCE_DIR not set";
  for (const char* name : {"smoke.json", "harsh.json", "full.json", "deep.json"}) {
    const std::string path = std::string(src) + "/presets/sweeps/" + name;
    if (!std::filesystem::exists(path)) continue;
    SCOPED_TRACE(path);
    SweepGrid g;
    ASSERT_NO_THROW(g = load_sweep_grid(path));
    std::vector<SweepCell> cells;
    ASSERT_NO_THROW(cells = expand_sweep(g));
    EXPECT_GE(cells.size(), 8u);
    if (std::string(name) == "smoke.json") continue;
    // The regimes of docs/RESULTS.md: every strategy has its references at every stage count it runs,
    // and the harsh regime has at least 10 seeds per configuration (issue 19).
    std::map<std::string, std::set<std::uint64_t>> seeds;
    std::set<std::string> strategies;
    for (const auto& c : cells) {
      seeds[c.label + "-S" + std::to_string(c.stages)].insert(c.seed);
      if (c.config.schedule == "1f1b-async") strategies.insert(c.config.strategy.name);
    }
    EXPECT_EQ(strategies.size(), 10u) << "every strategy of `pipescope-cli list strategies`";
    if (std::string(name) == "harsh.json") {
      EXPECT_GE(seeds["1f1b-async+stash-S4"].size(), 10u);
      EXPECT_GE(seeds["1f1b-async+spectrain-S8"].size(), 10u);
      EXPECT_GE(seeds["1f1b-flush-sgd-S8"].size(), 10u);
    }
    for (const auto& c : cells) EXPECT_EQ(c.config.dataset.name, "fashion-mnist") << c.id;
  }
  const InputError e = input_error([] { load_sweep_grid("/nonexistent/grid.json"); });
  EXPECT_EQ(e.file(), "/nonexistent/grid.json");
}

SweepResult result(const std::string& label, int S, int seed, const std::string& status, double acc) {
  SweepResult r;
  r.label = label;
  r.id = sweep_cell_id(label, S, seed);
  r.schedule = label == "flush" ? "1f1b-flush" : "1f1b-async";
  r.strategy = label == "flush" ? "latest" : "stash";
  r.optimizer = "sgd";
  r.lr = 0.01;
  r.stages = S;
  r.seed = seed;
  r.status = status;
  if (status == "completed" || status == "diverged") {
    RunSummary s;
    s.test_accuracy = acc;
    s.test_loss = 0.5;
    s.final_train_loss = 0.4;
    for (int k = 0; k < S; ++k) {
      StageSummary st;
      st.stage = k;
      st.weight_copies_max = r.strategy == "stash" ? S - k : 1;
      st.weight_bytes_max = 4096;
      st.staleness_forward_mean = r.strategy == "stash" ? S - 1 - k : 0;
      s.per_stage.push_back(st);
    }
    r.summary = s;
  }
  return r;
}

TEST(SweepReport, MeanStdAndTables) {
  EXPECT_EQ(mean_std_text({}, 2), "—");
  EXPECT_EQ(mean_std_text({0.5}, 2), "0.50");
  EXPECT_EQ(mean_std_text({1.0, 3.0}, 3), "2.000 ± 1.414");

  SweepGrid g;
  g.source = "g.json";
  g.runs = {{"flush", {"schedule=1f1b-flush"}, {}, {}, ""}, {"stash", {"strategy.name=stash"}, {}, {}, "note"}};
  std::vector<SweepResult> rs = {result("flush", 2, 1, "completed", 0.80), result("flush", 2, 2, "completed", 0.90),
                                 result("stash", 2, 1, "completed", 0.70), result("stash", 2, 2, "missing", 0)};
  const std::string csv = sweep_csv(rs);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  EXPECT_NE(csv.find("flush-S2-seed1,flush,1f1b-flush,latest,sgd,0.010000,2,1,completed,0.80000"), std::string::npos)
      << csv;
  const std::string stages = sweep_stages_csv(rs);
  EXPECT_EQ(std::count(stages.begin(), stages.end(), '\n'), 1 + 3 * 2);
  const std::string md = sweep_markdown(g, rs, "pipescope-cli sweep --grid g.json");
  EXPECT_NE(md.find("| flush | 1f1b-flush | latest | sgd 0.010 | 2/2 | 0.8500 ± 0.0707 |"), std::string::npos) << md;
  EXPECT_NE(md.find("1 missing"), std::string::npos);
  EXPECT_NE(md.find("`stash-S2-seed2`"), std::string::npos);  // listed as missing
  EXPECT_NE(md.find("| stash | S-k (PipeDream: stage 0 holds S) | 2/2 · 4 KB | 1/1 · 4 KB |"), std::string::npos) << md;
  for (const char* heading : {"## (a)", "## (b)", "## (c)", "## (d)"}) EXPECT_NE(md.find(heading), std::string::npos);
}

TEST(SweepReport, WeightClaimsFollowStrategiesMd) {
  EXPECT_EQ(claimed_weight_copies("1f1b-async", "stash", 4, 0).copies, 4);
  EXPECT_EQ(claimed_weight_copies("1f1b-async", "stash", 4, 3).copies, 1);
  EXPECT_EQ(claimed_weight_copies("1f1b-async", "v-timeprest", 8, 0).copies, 1);
  EXPECT_EQ(claimed_weight_copies("gpipe", "stash", 8, 0).copies, 1);
  EXPECT_EQ(claimed_weight_copies("1f1b-async", "spectrain", 8, 5).copies, 2);
}

// Student t quantiles against the printed tables (and df = 2, where q = (2p-1) sqrt(2 / (4p(1-p))) exactly).
TEST(SweepStats, StudentTQuantilesMatchTheTables) {
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.7062, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 0.95 * std::sqrt(2 / (4 * 0.975 * 0.025)), 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.7764, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 9), 2.2622, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 19), 2.0930, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 1000), 1.9623, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.995, 4), 4.6041, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.025, 9), -2.2622, 1e-4);
  EXPECT_EQ(student_t_quantile(0.5, 7), 0.0);
  EXPECT_TRUE(std::isnan(student_t_quantile(0.975, 0)));
}

TEST(SweepStats, MeanIntervalIsTheTInterval) {
  // 1..5: mean 3, sd sqrt(2.5), half width t(0.975, 4) sqrt(2.5) / sqrt(5) = 2.7764451 / sqrt(2).
  const MeanInterval m = mean_interval({1, 2, 3, 4, 5});
  EXPECT_EQ(m.n, 5);
  EXPECT_DOUBLE_EQ(m.mean, 3.0);
  EXPECT_NEAR(m.sd, std::sqrt(2.5), 1e-12);
  EXPECT_NEAR(m.lo, 3 - 1.9632432, 1e-6);
  EXPECT_NEAR(m.hi, 3 + 1.9632432, 1e-6);
  EXPECT_TRUE(m.significant());
  EXPECT_FALSE(mean_interval({-1, 0.5, 1}).significant());
  const MeanInterval one = mean_interval({0.7, std::nan("")});
  EXPECT_EQ(one.n, 1);
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_TRUE(std::isnan(one.lo));
  EXPECT_FALSE(one.significant());
}

TEST(SweepStats, PairsBySeedAndSharesWithDeltaInterval) {
  const auto d = paired_differences({{1, 0.8}, {2, 0.9}, {3, 0.7}}, {{2, 0.85}, {1, 0.75}, {4, 0.5}});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[0], 0.05, 1e-12);
  EXPECT_NEAR(d[1], 0.05, 1e-12);
  // x = strategy - latest, g = sync - latest: R = 0.1 / 0.3, s_x = s_g = 0.1, cov 0.01, n 3:
  // Var = (0.01 - 2 R 0.01 + R^2 0.01) / (3 * 0.09), half width t(0.975, 2) sqrt(Var) = 0.5520306.
  const ShareInterval s = gap_share({0.0, 0.1, 0.2}, {0.2, 0.3, 0.4});
  ASSERT_TRUE(s.defined);
  EXPECT_EQ(s.n, 3);
  EXPECT_NEAR(s.share, 1.0 / 3, 1e-12);
  EXPECT_NEAR(s.lo, -0.2186973, 1e-6);
  EXPECT_NEAR(s.hi, 0.8853639, 1e-6);
  // No gap (its interval includes 0): no share.
  EXPECT_FALSE(gap_share({0.01, 0.02, 0.0}, {0.1, -0.1, 0.0}).defined);
  EXPECT_FALSE(gap_share({0.01}, {0.1}).defined);
}

SweepResult stat_result(const std::string& label, const std::string& schedule, const std::string& strategy, int seed,
                        double acc) {
  SweepResult r;
  r.label = label;
  r.id = sweep_cell_id(label, 2, seed);
  r.schedule = schedule;
  r.strategy = strategy;
  r.optimizer = "sgd";
  r.lr = 0.05;
  r.stages = 2;
  r.seed = seed;
  r.status = "completed";
  RunSummary s;
  s.test_accuracy = acc;
  for (int k = 0; k < 2; ++k) {
    StageSummary st;
    st.stage = k;
    st.weight_copies_max = strategy == "stash" ? 2 - k : 1;
    st.weight_bytes_max = 1000 * st.weight_copies_max;
    if (strategy == "stash" && k == 0) st.prediction_gain_mean = 1.5;
    s.per_stage.push_back(st);
  }
  r.summary = s;
  return r;
}

TEST(SweepStats, ReportPairsEveryConfigurationWithItsReferences) {
  SweepGrid g;
  g.source = "g.json";
  std::vector<SweepResult> rs;
  const double flush[] = {0.80, 0.82, 0.84}, latest[] = {0.70, 0.71, 0.75}, stash[] = {0.72, 0.74, 0.76};
  // Listed out of seed order, so that pairing by position would be wrong.
  for (int i : {2, 0, 1}) rs.push_back(stat_result("flush", "1f1b-flush", "latest", i + 1, flush[i]));
  for (int i = 0; i < 3; ++i) rs.push_back(stat_result("latest", "1f1b-async", "latest", i + 1, latest[i]));
  for (int i = 0; i < 3; ++i) rs.push_back(stat_result("stash", "1f1b-async", "stash", i + 1, stash[i]));
  SweepResult other_lr = stat_result("stash-hot", "1f1b-async", "stash", 1, 0.5);
  other_lr.lr = 0.1;  // no reference at this learning rate
  rs.push_back(other_lr);

  const std::string md = sweep_markdown(g, rs, "cmd");
  ASSERT_NE(md.find("## (e)"), std::string::npos);
  // stash - latest: +0.02 [-0.0048, +0.0448] (t(0.975, 2) = 4.3027, sd 0.01): not significant.
  // stash - flush: -0.08 every seed: significant. Share: 0.02 / 0.10 = 20% [0, 40].
  EXPECT_NE(md.find("| stash | sgd 0.050 | 3 | 0.7400 | 0.0200 | [0.6903, 0.7897] | +0.0200 [-0.0048, +0.0448] n.s. | "
                    "-0.0800 [-0.0800, -0.0800] **sig.** | 20% [0, 40] | 2/2 | 1.50x | 1.50 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| latest | sgd 0.050 | 3 | 0.7200 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| reference | -0.1000 [-0.1248, -0.0752] **sig.** | 0 (reference) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| stash-hot | sgd 0.100 | 1 | 0.5000 | — | — | — | — | — |"), std::string::npos) << md;

  const std::string csv = sweep_stats_csv(rs);
  EXPECT_EQ(csv.rfind(sweep_stats_csv_header() + "\n", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 4);
  EXPECT_NE(csv.find("2,stash,1f1b-async,stash,sgd,0.050000,3,0,0.740000,0.020000,0.690317,0.789683,latest,3,0.020000,"
                     "-0.004841,0.044841,no,flush,3,-0.080000,-0.080000,-0.080000,yes,3,0.100000,0.075159,0.124841,"
                     "0.200000,0.001269,0.398731,2,2,3000,1.5000,1.5000"),
            std::string::npos)
      << csv;
}

}  // namespace
}  // namespace ps

// `pipescope-cli sweep` through the real binary: the smoke grid end to end, its tables, a bad grid,
// and continuing a sweep (finished cells are skipped). Also the PNGs when pipescope-plot is built.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

using Result = ps::test::CliResult;
using ps::test::cli;
using ps::test::src;
using ps::test::run_shell;

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("pipescope_sweep_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(slurp(p));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) cells.push_back(cell), cell.clear();
      else cell += c;
    }
    cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

int column(const std::vector<std::string>& header, const std::string& name) {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  ADD_FAILURE() << "no column " << name;
  return 0;
}

bool parses_as_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// The smoke grid runs once for the whole suite (it is the slow part); the tests read its outputs.
class SweepSmoke : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fresh_dir("smoke"));
    first_ = new Result(cli("sweep --grid " + src("presets/sweeps/smoke.json") + " --out " + dir_->string()));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete first_;
  }
  static fs::path* dir_;
  static Result* first_;
};
fs::path* SweepSmoke::dir_ = nullptr;
Result* SweepSmoke::first_ = nullptr;

TEST_F(SweepSmoke, RunsEveryCellAndWritesOneRowEach) {
  ASSERT_EQ(first_->code, 0) << first_->out;
  // 3 configurations x 2 stage counts x 2 seeds, one progress line each.
  EXPECT_NE(first_->out.find("12 cells"), std::string::npos) << first_->out;
  EXPECT_NE(first_->out.find("[12/12] 1f1b-async+stash-S3-seed2: completed"), std::string::npos) << first_->out;
  const auto rows = read_csv(*dir_ / "sweep.csv");
  ASSERT_EQ(rows.size(), 13u);
  const auto& h = rows[0];
  const int status = column(h, "status"), acc = column(h, "test_accuracy"), loss = column(h, "final_train_loss"),
            sps = column(h, "samples_per_second"), bm = column(h, "bubble_measured"), bi = column(h, "bubble_ideal"),
            run_dir = column(h, "run_dir");
  std::set<std::string> ids;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& r = rows[i];
    ASSERT_EQ(r.size(), h.size()) << i;
    EXPECT_EQ(r[status], "completed") << r[0];
    for (int c : {acc, loss, sps, bm, bi}) EXPECT_TRUE(parses_as_number(r[c])) << r[0] << " column " << h[c] << ": '" << r[c] << "'";
    EXPECT_GT(std::stod(r[acc]), 0.0);
    EXPECT_LE(std::stod(r[acc]), 1.0);
    EXPECT_TRUE(fs::exists(*dir_ / r[run_dir] / "summary.json")) << r[run_dir];
    EXPECT_TRUE(fs::exists(*dir_ / r[run_dir] / "metrics.csv"));
    ids.insert(r[0]);
  }
  EXPECT_EQ(ids.size(), 12u);
  EXPECT_TRUE(ids.count("1f1b-flush-S2-seed1"));
  EXPECT_TRUE(ids.count("1f1b-async+latest-S3-seed2"));
}

TEST_F(SweepSmoke, PerStageTableHasEveryStage) {
  ASSERT_EQ(first_->code, 0) << first_->out;
  const auto rows = read_csv(*dir_ / "sweep_stages.csv");
  // 2 configurations x 2 seeds x (2 + 3) stages each... for 3 configurations: 3 * 2 * (2 + 3).
  ASSERT_EQ(rows.size(), 1u + 3u * 2u * 5u);
  const auto& h = rows[0];
  const int label = column(h, "label"), stages = column(h, "stages"), stage = column(h, "stage"),
            copies = column(h, "weight_copies_max"), stale = column(h, "staleness_forward");
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (r[label] == "1f1b-async+stash") {
      // PipeDream's stash: stage k holds S-k copies at most (STRATEGIES.md), at least one.
      const int S = std::stoi(r[stages]), k = std::stoi(r[stage]);
      EXPECT_GE(std::stoi(r[copies]), 1);
      EXPECT_LE(std::stoi(r[copies]), S - k + 1) << r[0] << " stage " << k;
    }
    if (r[label] == "1f1b-flush") EXPECT_DOUBLE_EQ(std::stod(r[stale]), 0.0) << r[0];
  }
}

TEST_F(SweepSmoke, MarkdownHasTheFourTables) {
  ASSERT_EQ(first_->code, 0) << first_->out;
  const std::string md = slurp(*dir_ / "sweep.md");
  for (const char* part : {"## (a) Test accuracy", "## (b) Per stage", "## (c) Peak weight memory", "## (d) Throughput",
                           "### 2 stages", "### 3 stages", "| 1f1b-async+stash |", "S-k (PipeDream",
                           "pipescope-cli sweep --grid"})
    EXPECT_NE(md.find(part), std::string::npos) << part;
  EXPECT_NE(md.find("12 finished"), std::string::npos);
  EXPECT_NE(md.find(" ± "), std::string::npos);  // two seeds give a standard deviation
}

TEST_F(SweepSmoke, RerunSkipsFinishedCellsAndRedoesMissingOnes) {
  ASSERT_EQ(first_->code, 0) << first_->out;
  const fs::path victim = *dir_ / "runs" / "1f1b-async+latest-S2-seed2";
  ASSERT_TRUE(fs::exists(victim / "summary.json"));
  const std::string before = slurp(*dir_ / "runs" / "1f1b-flush-S2-seed1" / "summary.json");
  fs::remove_all(victim);
  const Result again = cli("sweep --grid " + src("presets/sweeps/smoke.json") + " --out " + dir_->string() + " --no-plot");
  ASSERT_EQ(again.code, 0) << again.out;
  std::size_t skipped = 0;
  for (std::size_t at = again.out.find(": skipped"); at != std::string::npos; at = again.out.find(": skipped", at + 1))
    ++skipped;
  EXPECT_EQ(skipped, 11u) << again.out;
  EXPECT_NE(again.out.find("1f1b-async+latest-S2-seed2: completed"), std::string::npos) << again.out;
  EXPECT_TRUE(fs::exists(victim / "summary.json"));
  EXPECT_EQ(slurp(*dir_ / "runs" / "1f1b-flush-S2-seed1" / "summary.json"), before);  // not rewritten
  EXPECT_EQ(read_csv(*dir_ / "sweep.csv").size(), 13u);
}

TEST_F(SweepSmoke, StatsTablePairsEveryConfigurationWithItsReferences) {
  ASSERT_EQ(first_->code, 0) << first_->out;
  const auto rows = read_csv(*dir_ / "sweep_stats.csv");
  ASSERT_EQ(rows.size(), 1u + 3u * 2u);  // one row per configuration and stage count
  const auto& h = rows[0];
  const int label = column(h, "label"), n = column(h, "n"), latest = column(h, "latest_ref"),
            sync = column(h, "sync_ref"), lo = column(h, "acc_lo"), hi = column(h, "acc_hi"),
            mean = column(h, "acc_mean"), d_latest = column(h, "d_latest");
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& r = rows[i];
    ASSERT_EQ(r.size(), h.size()) << i;
    EXPECT_EQ(r[n], "2") << r[label];
    EXPECT_EQ(r[latest], "1f1b-async+latest") << r[label];
    EXPECT_EQ(r[sync], "1f1b-flush") << r[label];
    ASSERT_TRUE(parses_as_number(r[lo]) && parses_as_number(r[hi])) << r[label];
    EXPECT_LE(std::stod(r[lo]), std::stod(r[mean]));
    EXPECT_GE(std::stod(r[hi]), std::stod(r[mean]));
    if (r[label] == "1f1b-async+latest") EXPECT_DOUBLE_EQ(std::stod(r[d_latest]), 0.0);
  }
  const std::string md = slurp(*dir_ / "sweep.md");
  EXPECT_NE(md.find("## (e) Intervals, paired differences"), std::string::npos);
  // Every cell keeps its whole configuration beside its summary (what a later run compares against).
  EXPECT_NE(slurp(*dir_ / "runs" / "1f1b-flush-S2-seed1" / "config.json").find("\"1f1b-flush\""), std::string::npos);
}

// A grid edited after a cell ran (here: its length) must rerun that cell, not take the old summary.
TEST(Sweep, EditedCellRunsAgainUnchangedOneIsSkipped) {
  const fs::path dir = fresh_dir("edited");
  const fs::path grid = dir / "g.json";
  auto write_grid = [&](int steps) {
    std::ofstream(grid) << R"({"base": ")" << src("presets/tiny.json") << R"(", "set": ["steps=)" << steps
                        << R"(", "dataset.synthetic_size=256"], "stages": [2], "seeds": [1],
        "runs": [{"label": "a", "set": ["schedule=1f1b-async"]}]})";
  };
  const std::string cmd = "sweep --grid " + grid.string() + " --out " + (dir / "out").string() + " --no-plot";
  write_grid(6);
  const Result first = cli(cmd);
  ASSERT_EQ(first.code, 0) << first.out;
  const Result same = cli(cmd);
  ASSERT_EQ(same.code, 0) << same.out;
  EXPECT_NE(same.out.find("a-S2-seed1: skipped"), std::string::npos) << same.out;
  // A cell that ran before a field joined the format (its config.json without "replicas") ran with that
  // field's default: still the same configuration, still skipped.
  const fs::path config = dir / "out" / "runs" / "a-S2-seed1" / "config.json";
  std::string text = slurp(config);
  const auto at = text.find("\"replicas\": 1,");
  ASSERT_NE(at, std::string::npos) << text;
  text.erase(at, text.find('\n', at) - at + 1);
  std::ofstream(config, std::ios::trunc) << text;
  const Result older = cli(cmd);
  ASSERT_EQ(older.code, 0) << older.out;
  EXPECT_NE(older.out.find("a-S2-seed1: skipped"), std::string::npos) << older.out;
  write_grid(8);
  const Result edited = cli(cmd);
  ASSERT_EQ(edited.code, 0) << edited.out;
  EXPECT_NE(edited.out.find("configuration changed"), std::string::npos) << edited.out;
  EXPECT_EQ(edited.out.find(": skipped"), std::string::npos) << edited.out;
  EXPECT_NE(edited.out.find("1 run, 0 skipped"), std::string::npos) << edited.out;
  EXPECT_NE(slurp(dir / "out" / "runs" / "a-S2-seed1" / "summary.json").find("\"steps\": 8"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Sweep, BadGridExitsTwoNamingFileAndField) {
  const fs::path dir = fresh_dir("bad");
  const fs::path grid = dir / "bad.json";
  std::ofstream(grid) << R"({"base": ")" << src("presets/tiny.json")
                      << R"(", "runs": [{"label": "a"}, {"label": "b", "set": ["strategy.nmae=stash"]}]})";
  const Result r = cli("sweep --grid " + grid.string() + " --out " + (dir / "out").string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(grid.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("runs[1].set[0]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("strategy.nmae"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "out" / "runs" / "a-S2-seed1")) << "nothing may run before the grid is checked";

  const Result missing = cli("sweep --grid " + (dir / "nope.json").string());
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.out.find("nope.json"), std::string::npos) << missing.out;
  const Result jobs = cli("sweep --grid " + grid.string() + " --jobs 2");
  EXPECT_EQ(jobs.code, 2);
  EXPECT_NE(jobs.out.find("--jobs"), std::string::npos) << jobs.out;
  fs::remove_all(dir);
}

// Ctrl-C while a cell runs: exit 130, the finished cells' tables are written, the rest listed missing.
TEST(Sweep, InterruptLeavesTablesOfFinishedCells) {
  const fs::path dir = fresh_dir("interrupt");
  const fs::path grid = dir / "slow.json";
  // Slow cells (a few seconds each), so that the signal lands inside the second one.
  std::ofstream(grid) << R"({"base": ")" << src("presets/tiny.json") << R"(", "set": ["steps=100000"], "stages": [2],
      "runs": [{"label": "quick", "set": ["steps=10"]}, {"label": "slow"}, {"label": "never"}]})";
  const fs::path log = dir / "log.txt";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stdout);
    std::freopen(log.c_str(), "a", stderr);
    execl(PIPESCOPE_CLI, PIPESCOPE_CLI, "sweep", "--grid", grid.c_str(), "--out", (dir / "out").c_str(), "--no-plot",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  bool started = false;
  for (int i = 0; i < 1200 && !started; ++i) {  // up to 2 minutes on a loaded machine
    started = slurp(log).find("slow-S2-seed1: running") != std::string::npos;
    if (!started) usleep(100000);
  }
  usleep(300000);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(started) << slurp(log);
  ASSERT_TRUE(WIFEXITED(status)) << slurp(log);
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(log);
  const auto rows = read_csv(dir / "out" / "sweep.csv");
  ASSERT_EQ(rows.size(), 4u);
  const int status_col = column(rows[0], "status");
  EXPECT_EQ(rows[1][status_col], "completed");
  EXPECT_EQ(rows[2][status_col], "stopped");
  EXPECT_EQ(rows[3][status_col], "missing");
  const std::string md = slurp(dir / "out" / "sweep.md");
  EXPECT_NE(md.find("`slow-S2-seed1` `never-S2-seed1`"), std::string::npos) << md;
  fs::remove_all(dir);
}

// pipescope-plot sits in ../plot/ beside the cli's build folder when the GUI is built.
fs::path plotter() { return fs::path(PIPESCOPE_CLI).parent_path().parent_path() / "plot" / "pipescope-plot"; }

TEST_F(SweepSmoke, PlotsArePngsOfRealSize) {
  ASSERT_EQ(first_->code, 0) << first_->out;
  if (!fs::exists(plotter())) GTEST_SKIP() << "pipescope-plot not built (PIPESCOPE_GUI=OFF)";
  // The sweep ran the plotter itself at its end when it found it; run it again to be independent of that.
  const Result r = run_shell("QT_QPA_PLATFORM=offscreen " + plotter().string() + " sweep " + dir_->string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* name : {"loss-S2.png", "loss-S3.png", "accuracy-S2.png", "accuracy-S3.png"}) {
    const fs::path png = *dir_ / "plots" / name;
    ASSERT_TRUE(fs::exists(png)) << png;
    EXPECT_GT(fs::file_size(png), 5000u) << png;  // a blank canvas compresses to far less
    const std::string head = slurp(png).substr(0, 8);
    EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8)) << png;
  }
  const Result bad = run_shell(plotter().string() + " sweep " + (*dir_ / "nosuch").string());
  EXPECT_EQ(bad.code, 2) << bad.out;
}

}  // namespace

// `pipescope-cli sweep --grid FILE [--out DIR] [--runs DIR] [--jobs 1] [--no-plot]`: runs every cell of a
// sweep grid (engine/sweep/grid.h) through the Session API, one after another, and writes
// DIR/sweep.csv, DIR/sweep_stages.csv, DIR/sweep_stats.csv and DIR/sweep.md (rewritten after every
// cell, so an interrupted sweep leaves the tables of the cells that finished). Each cell writes
// config.json (the cell's whole configuration), summary.json, metrics.csv and ledger.csv into
// RUNS/<label>-S<stages>-seed<seed>/ (RUNS defaults to DIR/runs). A cell whose summary.json already
// says completed or diverged, and whose config.json is the cell's configuration, is not run again, so
// a sweep continues where it stopped (and a grid edited since reruns only the cells it changed). A cell that fails or diverges is recorded and the sweep goes on. At the end it renders the
// plots with pipescope-plot when it finds it (beside this binary, in ../plot/ of the build tree, or
// in PATH). Exit: 0 every cell finished (diverged included), 1 some cell failed, 2 bad grid, 130 stopped.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "engine/config/run_config.h"
#include "engine/session/session.h"
#include "engine/sweep/grid.h"
#include "engine/sweep/report.h"
#include "engine/telemetry/outputs.h"
#include "engine/util/errors.h"

namespace ps::cli {
namespace {

namespace fs = std::filesystem;

volatile std::sig_atomic_t g_sweep_signals = 0;
void on_sweep_signal(int) {
  g_sweep_signals = g_sweep_signals + 1;
  if (g_sweep_signals >= 3) std::_Exit(130);
}

void write_text(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path.string(), "", "cannot write");
    out << text;
    if (!out) throw InputError(path.string(), "", "write failed");
  }
  fs::rename(tmp, path);
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// pipescope-plot beside this binary (installed), in ../plot/ (build tree), or in PATH.
std::string find_plotter() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& p : {self.parent_path() / "pipescope-plot", self.parent_path().parent_path() / "plot" / "pipescope-plot"})
      if (fs::exists(p) && ::access(p.c_str(), X_OK) == 0) return p.string();
  }
  if (const char* path = std::getenv("PATH")) {
    std::string all = path;
    std::size_t start = 0;
    while (start <= all.size()) {
      const std::size_t colon = all.find(':', start);
      const std::string dir = all.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!dir.empty()) {
        const fs::path p = fs::path(dir) / "pipescope-plot";
        if (fs::exists(p) && ::access(p.c_str(), X_OK) == 0) return p.string();
      }
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  return "";
}

std::string short_line(const SweepResult& r) {
  char buf[256];
  if (!r.summary) return r.status + (r.error.empty() ? "" : ": " + r.error);
  const RunSummary& s = *r.summary;
  std::snprintf(buf, sizeof buf, "%s  acc %s  loss %.4f  %.0f samples/s  %.1f s", r.status.c_str(),
                s.test_accuracy ? std::to_string(*s.test_accuracy).substr(0, 6).c_str() : "-", s.final_train_loss,
                s.samples_per_second, s.wall_seconds);
  std::string line = buf;
  if (!r.error.empty()) line += "  (" + r.error + ")";
  return line;
}

}  // namespace

void declare_sweep(CLI::App& command) {
  add_value(command, "--grid", "FILE", "the grid (required), e.g. presets/sweeps/smoke.json");
  add_value(command, "--out", "DIR", "tables and plots (default sweep-out)");
  add_value(command, "--runs", "DIR", "one directory per cell (default DIR/runs)");
  add_value(command, "--jobs", "1", "cells run one after another");
  add_switch(command, "--no-plot", "do not render the plots");
}

int cmd_sweep(const CLI::App& command, const Args& args) {
  const ArgValues r(command);
  const std::string grid_path = r.value("--grid");
  if (grid_path.empty()) throw InputError("command line", "--grid", "is required (for example presets/sweeps/smoke.json)");
  const fs::path out_dir = r.value("--out", "sweep-out");
  const std::string runs_arg = r.value("--runs");
  const std::string jobs = r.value("--jobs", "1");
  const bool no_plot = r.flag("--no-plot");
  if (jobs != "1")
    throw InputError("command line", "--jobs", "only 1 is supported: cells run one after another (each run already uses a thread per stage)");

  const SweepGrid grid = load_sweep_grid(grid_path);
  const std::vector<SweepCell> cells = expand_sweep(grid);  // every override checked before anything runs
  const fs::path runs_dir = runs_arg.empty() ? out_dir / "runs" : fs::path(runs_arg);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw InputError(out_dir.string(), "--out", "cannot create the directory: " + ec.message());
  fs::create_directories(runs_dir, ec);
  if (ec) throw InputError(runs_dir.string(), "--runs", "cannot create the directory: " + ec.message());

  std::string command_line = "pipescope-cli sweep";
  for (const auto& a : args) command_line += " " + a;

  std::vector<SweepResult> results;
  for (const auto& cell : cells) {
    // The run_dir column is what pipescope-plot reads: relative to --out when inside it.
    fs::path dir = runs_dir / cell.id;
    std::string shown = dir.string();
    const fs::path rel = fs::relative(dir, out_dir, ec);
    if (!ec && !rel.empty() && rel.string().rfind("..", 0) != 0) shown = rel.string();
    else shown = fs::absolute(dir).lexically_normal().string();
    results.push_back(sweep_result_for(cell, grid, shown));
  }
  auto write_tables = [&] {
    write_text(out_dir / "sweep.csv", sweep_csv(results));
    write_text(out_dir / "sweep_stages.csv", sweep_stages_csv(results));
    write_text(out_dir / "sweep_stats.csv", sweep_stats_csv(results));
    write_text(out_dir / "sweep.md", sweep_markdown(grid, results, command_line));
  };

  std::printf("sweep %s: %zu cells, base %s, outputs in %s (runs in %s)\n",
              grid.name.empty() ? grid_path.c_str() : grid.name.c_str(), cells.size(), grid.base.c_str(),
              out_dir.string().c_str(), runs_dir.string().c_str());
  std::fflush(stdout);

  std::signal(SIGINT, on_sweep_signal);
  std::signal(SIGTERM, on_sweep_signal);
  bool interrupted = false;
  int failed = 0, ran = 0, skipped = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < cells.size() && !interrupted; ++i) {
    const SweepCell& cell = cells[i];
    SweepResult& res = results[i];
    const fs::path dir = runs_dir / cell.id;
    const fs::path summary_path = dir / "summary.json";

    const fs::path config_path = dir / "config.json";
    const std::string config_text = preset_to_json(cell.config);
    if (fs::exists(summary_path)) {
      try {
        RunSummary s = read_summary_json(summary_path.string());
        // Same cell as before (a grid edited since then may reuse the label for something else)? The
        // cell's whole configuration is in config.json since it ran; older runs have only the summary.
        bool same = s.schedule == cell.config.schedule && s.strategy == cell.config.strategy.name &&
                    s.stages == cell.stages;
        if (same && fs::exists(config_path)) {
          std::ifstream in(config_path, std::ios::binary);
          const std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
          // Compared as configurations, not as text: a field added to the format since the cell ran
          // reads back as its default, which is what the cell ran with.
          std::string before_config;
          try {
            before_config = preset_to_json(parse_preset(before, config_path.string()));
          } catch (const InputError&) {
            before_config.clear();  // unreadable: run it again
          }
          if (before_config != config_text) {
            same = false;
            std::printf("[%zu/%zu] %s: its configuration changed since it ran (%s): running it again\n", i + 1,
                        cells.size(), cell.id.c_str(), config_path.string().c_str());
          }
        }
        if (same && (s.status == RunStatus::Completed || s.status == RunStatus::Diverged)) {
          res.status = to_string(s.status);
          res.error = s.error;
          res.summary = std::move(s);
          ++skipped;
          std::printf("[%zu/%zu] %s: skipped, %s earlier\n", i + 1, cells.size(), cell.id.c_str(), res.status.c_str());
          std::fflush(stdout);
          continue;
        }
      } catch (const InputError&) {
        // unreadable: run it again
      }
    }

    fs::create_directories(dir, ec);
    std::printf("[%zu/%zu] %s: running...\n", i + 1, cells.size(), cell.id.c_str());
    std::fflush(stdout);
    try {
      fs::remove(summary_path, ec);  // a stale summary must not pass for this run's if it fails early
      write_text(config_path, config_text);
      SessionOptions opts;
      opts.out_dir = dir.string();
      Session session(cell.config, opts);
      session.start();
      bool stop_sent = false;
      while (!session.wait_for(std::chrono::milliseconds(100))) {
        if (g_sweep_signals > 0 && !stop_sent) {
          stop_sent = true;
          std::fprintf(stderr, "\npipescope: stopping the sweep after writing the tables of the finished cells...\n");
          session.stop();
        }
        session.drain();
      }
      session.drain();
      RunSummary s = session.summary();
      res.status = to_string(s.status);
      res.error = s.error;
      res.summary = std::move(s);
      if (res.summary->status == RunStatus::Stopped) interrupted = true;
      if (res.summary->status == RunStatus::Failed) ++failed;
    } catch (const std::exception& e) {
      res.status = "failed";
      res.error = e.what();
      res.summary.reset();
      ++failed;
    }
    if (g_sweep_signals > 0) interrupted = true;
    ++ran;
    std::printf("[%zu/%zu] %s: %s\n", i + 1, cells.size(), cell.id.c_str(), short_line(res).c_str());
    std::fflush(stdout);
    write_tables();
  }
  write_tables();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60.0;
  std::printf("sweep: %d run, %d skipped, %d failed in %.1f min; tables: %s, %s, %s\n", ran, skipped, failed, minutes,
              (out_dir / "sweep.csv").string().c_str(), (out_dir / "sweep_stages.csv").string().c_str(),
              (out_dir / "sweep.md").string().c_str());
  if (interrupted) {
    std::printf("sweep: stopped; run the same command again to continue with the missing cells\n");
    return 130;
  }

  if (!no_plot) {
    const std::string plotter = find_plotter();
    if (plotter.empty()) {
      std::printf("plots: pipescope-plot not found (build with PIPESCOPE_GUI=ON); render them with\n"
                  "  pipescope-plot sweep %s\n", out_dir.string().c_str());
    } else {
      const std::string cmd = shell_quote(plotter) + " sweep " + shell_quote(out_dir.string());
      std::printf("plots: %s\n", cmd.c_str());
      std::fflush(stdout);
      const int rc = std::system(cmd.c_str());
      if (rc != 0) std::printf("plots: pipescope-plot exited with status %d\n", rc);
    }
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace ps::cli

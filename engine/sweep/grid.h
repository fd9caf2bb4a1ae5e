// Sweep grids: a JSON file that crosses named run configurations with stage counts and seeds.
// Torch-free (engine_core): parsing, validation and expansion into one RunConfig per cell.
//
// Grid format (presets/sweeps/*.json):
//   {
//     "name": "smoke",                       // optional
//     "description": "...",                  // optional
//     "base": "../tiny.json",                // the preset every cell starts from; a relative path is
//                                            // looked up beside the grid file first, then from the cwd
//     "set": ["epochs=1", "optimizer.lr=0.01"],   // optional: overrides applied to every cell
//     "stages": [4, 8],                      // stage counts to cross (default: the base preset's)
//     "seeds": [1, 2, 3],                    // seeds to cross (default: the base preset's)
//     "runs": [                              // named configurations to cross (at least one)
//       {"label": "1f1b-flush", "set": ["schedule=1f1b-flush"]},
//       {"label": "1f1b-async+stash", "set": ["schedule=1f1b-async", "strategy.name=stash"]},
//       {"label": "single-device", "stages": [1], "set": ["schedule=1f1b-flush"]},  // own stage list
//       {"label": "hot-latest", "stages": [8], "seeds": [1], "set": ["optimizer.lr=0.1"], "note": "..."}
//     ]
//   }
// Every "set" entry is FIELD.PATH=VALUE exactly as apply_override() (and `run --set`) takes it. A cell
// is built as: base preset, then the grid's "set", then stages=S and seed=N, then the run's "set" (so
// a run may carry its own learning rate). Labels name directories: letters, digits and . _ + - only.
// Cells expand in the order seeds (outer), then stage counts, then runs (inner), so an interrupted
// sweep has every configuration at the first seed before it starts the second.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/run_config.h"

namespace ps {

struct SweepRun {
  std::string label;
  std::vector<std::string> set;         // overrides, applied last
  std::vector<int> stages;              // empty: the grid's list
  std::vector<std::uint64_t> seeds;     // empty: the grid's list
  std::string note;                     // free text shown in the report (e.g. "own lr: needs Adam")
};

struct SweepGrid {
  std::string source;     // the grid file (error messages)
  std::string name;
  std::string description;
  std::string base;       // the preset path as resolved
  std::vector<std::string> set;
  std::vector<int> stages;
  std::vector<std::uint64_t> seeds;
  std::vector<SweepRun> runs;
};

struct SweepCell {
  std::size_t run_index = 0;  // into SweepGrid::runs
  std::string label;
  int stages = 1;
  std::uint64_t seed = 1;
  std::string id;             // "<label>-S<stages>-seed<seed>": the cell's directory name
  RunConfig config;
};

// Reads the grid file and its base preset. Throws InputError(grid file, field, reason).
SweepGrid load_sweep_grid(const std::string& path);
// `base_dir` is where a relative "base" is looked up first (the grid file's folder).
SweepGrid parse_sweep_grid(const std::string& json_text, const std::string& source, const std::string& base_dir);

// One RunConfig per cell, every override applied and validate()d. Throws InputError naming the grid
// file and the field ("runs[2].set[1]") for any bad override, so nothing runs before all cells are good.
std::vector<SweepCell> expand_sweep(const SweepGrid& grid);
// Same, from an already loaded base preset (the tests use this).
std::vector<SweepCell> expand_sweep(const SweepGrid& grid, const RunConfig& base);

std::string sweep_cell_id(const std::string& label, int stages, std::uint64_t seed);

}  // namespace ps

// Sweep grids: parsing and expansion (see grid.h for the format).
#include "engine/sweep/grid.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/util/errors.h"

namespace ps {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

const std::set<std::string> kGridKeys = {"name", "description", "base", "set", "stages", "seeds", "runs", "comment"};
const std::set<std::string> kRunKeys = {"label", "set", "stages", "seeds", "note"};

[[noreturn]] void fail(const std::string& file, const std::string& field, const std::string& reason) {
  throw InputError(file, field, reason);
}

void check_keys(const Json& obj, const std::set<std::string>& known, const std::string& file, const std::string& prefix) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (known.count(it.key())) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    fail(file, prefix + it.key(), "unknown key (known: " + list + ")");
  }
}

std::string text(const Json& j, const std::string& file, const std::string& field) {
  if (!j.is_string()) fail(file, field, "expected a string");
  return j.get<std::string>();
}

std::vector<std::string> text_list(const Json& j, const std::string& file, const std::string& field) {
  if (!j.is_array()) fail(file, field, "expected a list of \"field.path=value\" strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    const std::string s = text(j[i], file, f);
    if (s.find('=') == std::string::npos) fail(file, f, "expected field.path=value, got '" + s + "'");
    out.push_back(s);
  }
  return out;
}

std::vector<int> stage_list(const Json& j, const std::string& file, const std::string& field) {
  if (!j.is_array() || j.empty()) fail(file, field, "expected a non-empty list of stage counts");
  std::vector<int> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    if (!j[i].is_number_integer()) fail(file, f, "expected an integer");
    const auto v = j[i].get<std::int64_t>();
    if (v < 1 || v > 1024) fail(file, f, "stage count must be in [1, 1024], got " + std::to_string(v));
    if (std::find(out.begin(), out.end(), static_cast<int>(v)) != out.end())
      fail(file, f, "stage count " + std::to_string(v) + " is listed twice");
    out.push_back(static_cast<int>(v));
  }
  return out;
}

std::vector<std::uint64_t> seed_list(const Json& j, const std::string& file, const std::string& field) {
  if (!j.is_array() || j.empty()) fail(file, field, "expected a non-empty list of seeds");
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    if (!j[i].is_number_integer() || j[i].get<std::int64_t>() < 0) fail(file, f, "expected an integer >= 0");
    const auto v = j[i].get<std::uint64_t>();
    if (std::find(out.begin(), out.end(), v) != out.end())
      fail(file, f, "seed " + std::to_string(v) + " is listed twice");
    out.push_back(v);
  }
  return out;
}

bool label_ok(const std::string& label) {
  if (label.empty() || label.size() > 100 || label[0] == '.') return false;
  for (char c : label)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '+' || c == '-')) return false;
  return true;
}

std::string resolve_base(const std::string& base, const std::string& base_dir) {
  const fs::path p(base);
  if (p.is_absolute() || base_dir.empty()) return base;
  const fs::path beside = fs::path(base_dir) / p;
  if (fs::exists(beside)) return beside.lexically_normal().string();
  return base;
}

// Applies one override, re-raising its error under the grid's file and field.
void apply(RunConfig& cfg, const std::string& assignment, const std::string& file, const std::string& field) {
  try {
    apply_override(cfg, assignment);
  } catch (const InputError& e) {
    const std::string what = e.field().empty() ? e.reason() : e.field() + ": " + e.reason();
    fail(file, field, "'" + assignment + "': " + what);
  }
}

}  // namespace

std::string sweep_cell_id(const std::string& label, int stages, std::uint64_t seed) {
  return label + "-S" + std::to_string(stages) + "-seed" + std::to_string(seed);
}

SweepGrid parse_sweep_grid(const std::string& json_text, const std::string& source, const std::string& base_dir) {
  Json j;
  try {
    j = Json::parse(json_text, nullptr, true, /*ignore_comments=*/true);
  } catch (const Json::parse_error& e) {
    fail(source, "", std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(source, "", "expected a JSON object");
  check_keys(j, kGridKeys, source, "");
  SweepGrid g;
  g.source = source;
  if (j.contains("name")) g.name = text(j["name"], source, "name");
  if (j.contains("description")) g.description = text(j["description"], source, "description");
  if (!j.contains("base")) fail(source, "base", "missing (the preset every cell starts from, e.g. \"../tiny.json\")");
  g.base = resolve_base(text(j["base"], source, "base"), base_dir);
  if (j.contains("set")) g.set = text_list(j["set"], source, "set");
  if (j.contains("stages")) g.stages = stage_list(j["stages"], source, "stages");
  if (j.contains("seeds")) g.seeds = seed_list(j["seeds"], source, "seeds");
  if (!j.contains("runs")) fail(source, "runs", "missing (a list of {\"label\": ..., \"set\": [...]})");
  const Json& runs = j["runs"];
  if (!runs.is_array() || runs.empty()) fail(source, "runs", "expected a non-empty list of runs");
  std::set<std::string> labels;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string prefix = "runs[" + std::to_string(i) + "]";
    const Json& r = runs[i];
    if (!r.is_object()) fail(source, prefix, "expected an object {\"label\": ..., \"set\": [...]}");
    check_keys(r, kRunKeys, source, prefix + ".");
    SweepRun run;
    if (!r.contains("label")) fail(source, prefix + ".label", "missing");
    run.label = text(r["label"], source, prefix + ".label");
    if (!label_ok(run.label))
      fail(source, prefix + ".label", "'" + run.label + "' must be 1-100 letters, digits, '.', '_', '+' or '-'");
    if (!labels.insert(run.label).second) fail(source, prefix + ".label", "'" + run.label + "' is used twice");
    if (r.contains("set")) run.set = text_list(r["set"], source, prefix + ".set");
    if (r.contains("stages")) run.stages = stage_list(r["stages"], source, prefix + ".stages");
    if (r.contains("seeds")) run.seeds = seed_list(r["seeds"], source, prefix + ".seeds");
    if (r.contains("note")) run.note = text(r["note"], source, prefix + ".note");
    g.runs.push_back(std::move(run));
  }
  return g;
}

SweepGrid load_sweep_grid(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "", "cannot open the grid file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_sweep_grid(ss.str(), path, fs::path(path).parent_path().string());
}

std::vector<SweepCell> expand_sweep(const SweepGrid& grid) {
  RunConfig base;
  try {
    base = load_preset(grid.base);
  } catch (const InputError& e) {
    fail(grid.source, "base", "preset '" + grid.base + "': " + e.what());
  }
  return expand_sweep(grid, base);
}

std::vector<SweepCell> expand_sweep(const SweepGrid& grid, const RunConfig& base) {
  RunConfig common = base;
  for (std::size_t i = 0; i < grid.set.size(); ++i)
    apply(common, grid.set[i], grid.source, "set[" + std::to_string(i) + "]");
  const std::vector<int> stages = grid.stages.empty() ? std::vector<int>{common.num_stages()} : grid.stages;
  const std::vector<std::uint64_t> seeds = grid.seeds.empty() ? std::vector<std::uint64_t>{common.seed} : grid.seeds;

  // Every seed and stage count any run uses, in order of first appearance, for the outer loops.
  std::vector<std::uint64_t> all_seeds = seeds;
  std::vector<int> all_stages = stages;
  for (const auto& r : grid.runs) {
    for (auto s : r.seeds)
      if (std::find(all_seeds.begin(), all_seeds.end(), s) == all_seeds.end()) all_seeds.push_back(s);
    for (auto s : r.stages)
      if (std::find(all_stages.begin(), all_stages.end(), s) == all_stages.end()) all_stages.push_back(s);
  }

  std::vector<SweepCell> cells;
  for (const auto seed : all_seeds) {
    for (const int S : all_stages) {
      for (std::size_t ri = 0; ri < grid.runs.size(); ++ri) {
        const SweepRun& run = grid.runs[ri];
        const auto& run_seeds = run.seeds.empty() ? seeds : run.seeds;
        const auto& run_stages = run.stages.empty() ? stages : run.stages;
        if (std::find(run_seeds.begin(), run_seeds.end(), seed) == run_seeds.end()) continue;
        if (std::find(run_stages.begin(), run_stages.end(), S) == run_stages.end()) continue;
        const std::string prefix = "runs[" + std::to_string(ri) + "]";
        SweepCell cell;
        cell.run_index = ri;
        cell.label = run.label;
        cell.stages = S;
        cell.seed = seed;
        cell.id = sweep_cell_id(run.label, S, seed);
        RunConfig cfg = common;
        cfg.partition.clear();
        apply(cfg, "stages=" + std::to_string(S), grid.source, prefix + ".stages");
        apply(cfg, "seed=" + std::to_string(seed), grid.source, prefix + ".seeds");
        for (std::size_t k = 0; k < run.set.size(); ++k)
          apply(cfg, run.set[k], grid.source, prefix + ".set[" + std::to_string(k) + "]");
        if (cfg.num_stages() != S)
          fail(grid.source, prefix + ".set", "the run's overrides change the stage count to " +
                                                 std::to_string(cfg.num_stages()) + " (use the run's \"stages\" list)");
        if (cfg.seed != seed)
          fail(grid.source, prefix + ".set", "the run's overrides change the seed (use the run's \"seeds\" list)");
        cfg.name = cell.id;
        try {
          validate(cfg);
        } catch (const InputError& e) {
          const std::string what = e.field().empty() ? e.reason() : e.field() + ": " + e.reason();
          fail(grid.source, prefix + " (" + run.label + ", " + std::to_string(S) + " stages)", what);
        }
        cell.config = std::move(cfg);
        cells.push_back(std::move(cell));
      }
    }
  }
  return cells;
}

}  // namespace ps

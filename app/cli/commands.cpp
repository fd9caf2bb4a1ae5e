#include "commands.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/config/run_config.h"
#include "engine/config/suggest.h"
#include "engine/data/catalog.h"
#include "engine/dist/dist_options.h"
#include "engine/dist/launcher.h"
#include "engine/models/model_info.h"
#include "engine/schedule/schedule.h"
#include "engine/session/session.h"
#include "engine/telemetry/run_meta.h"
#include "engine/strategy/strategy_info.h"
#include "engine/telemetry/text_file.h"
#include "engine/util/errors.h"
#include "progress.h"

namespace ps::cli {
namespace {

volatile std::sig_atomic_t g_signals = 0;
void on_signal(int) {
  g_signals = g_signals + 1;
  if (g_signals >= 3) std::_Exit(130);  // a third press: the user really wants out
}

int to_int(const std::string& text, const std::string& field) {
  try {
    std::size_t used = 0;
    const int v = std::stoi(text, &used);
    if (used == text.size()) return v;
  } catch (...) {
  }
  throw InputError("command line", field, "expected an integer, got '" + text + "'");
}

std::string presets_dir() {
  for (const char* env : {"PIPESCOPE_PRESETS"}) {
    if (const char* v = std::getenv(env)) return v;
  }
  if (std::filesystem::is_directory("presets")) return "presets";
#ifdef PIPESCOPE_SOURCE_DIR
  return std::string(PIPESCOPE_SOURCE_DIR) + "/presets";
#else
  return "presets";
#endif
}

// The preset fields the run's flags set, by path ("optimizer.lr" for --lr; each --set's path).
struct FieldFlag {
  const char* flag;
  const char* type;
  const char* path;
  const char* text;
};

const FieldFlag kFieldFlags[] = {
    {"--schedule", "NAME", "schedule", "pipeline schedule: %SCHEDULES% (pipescope-cli list schedules)"},
    {"--chunks", "V", "chunks", "model chunks per stage (interleaved, V schedules; 0: the schedule's default)"},
    {"--replicas", "R", "replicas", "pipeline x data parallel: R replicas of every stage, each taking 1/R of a minibatch"},
    {"--stages", "N", "stages", "number of stages (devices), split by estimated cost"},
    {"--partition", "i,j,...", "partition", "first layer unit of every stage after the first (not with --stages)"},
    {"--microbatches", "M", "microbatches", "microbatches per minibatch (synchronous schedules, nf1b)"},
    {"--batch-size", "B", "batch_size", "samples per minibatch"},
    {"--epochs", "E", "epochs", "train E epochs (drops a step count)"},
    {"--steps", "N", "steps", "train N minibatches"},
    {"--lr", "X", "optimizer.lr", "learning rate (optimizer.lr)"},
    {"--seed", "N", "seed", "seed of initialisation and data order"},
    {"--device", "cpu|cuda", "device", "device of every stage (per stage: --set stage_devices=cpu,cuda:0)"},
    {"--executor", "threaded|sequential|processes", "executor",
     "a thread per stage, one thread running the same ops in order, or a process per stage (c10d)"},
    {"--procs", "N", "executor",
     "run as N local processes, one per stage and replica (= --executor processes; N = stages x replicas)"},
    {"--threads-per-stage", "T", "threads_per_stage", "intra-op threads of each stage"},
};

// The paths this line sets: the flags above, --strategy and every --set PATH=VALUE.
std::vector<std::string> paths_set(const ArgValues& r) {
  std::vector<std::string> paths;
  for (const FieldFlag& f : kFieldFlags)
    if (r.has(f.flag)) paths.emplace_back(f.path);
  if (r.has("--strategy")) paths.emplace_back("strategy.name");
  for (const auto& kv : r.values("--set")) paths.push_back(kv.substr(0, kv.find('=')));
  return paths;
}

// `path` or a section above it ("optimizer" for "optimizer.lr") is among `set`.
bool is_set(const std::vector<std::string>& set, const std::string& path) {
  return std::any_of(set.begin(), set.end(), [&](const std::string& p) {
    return p == path || (path.size() > p.size() && path.compare(0, p.size(), p) == 0 && path[p.size()] == '.');
  });
}

// A strategy named on this line brings the optimizer it needs (engine/config/suggest.h), as the
// dashboard's button does: only what the line leaves alone changes, and a rate the line gives stays.
// Returns the line that says what changed ("" when nothing did). When the line itself sets the optimizer
// against the strategy, nothing changes and validation names the flags that fix it.
std::string apply_strategy_optimizer(RunConfig& cfg, const std::vector<std::string>& set) {
  if (!is_set(set, "strategy.name")) return "";
  std::vector<SettingChange> changes = strategy_optimizer_changes(cfg);
  for (const auto& c : changes)
    if (c.needed && is_set(set, c.path)) return "";
  changes.erase(std::remove_if(changes.begin(), changes.end(), [&](const SettingChange& c) { return is_set(set, c.path); }),
                changes.end());
  if (changes.empty()) return "";
  std::string what;
  for (const auto& c : changes) {
    apply_override(cfg, c.path + "=" + c.value);
    what += (what.empty() ? "" : ", ") + c.path + "=" + c.value + " (was " + c.was + ")";
  }
  return "pipescope: strategy '" + cfg.strategy.name + "' needs another optimizer: set " + what +
         "; the same as " + setting_flags(changes);
}

// load_preset validates, so a preset whose strategy needs another optimizer would be refused before
// the line's --set could fix it. Such a preset is read as if its strategy were 'latest' and then named
// again; validate_with_fix checks the whole once the line's flags are applied. Any other error stands.
RunConfig load_preset_for_run(const std::string& path) {
  try {
    return load_preset(path);
  } catch (const InputError& e) {
    if (e.field().rfind("optimizer.", 0) != 0) throw;
    nlohmann::json preset;
    try {
      std::ifstream in(path);
      preset = nlohmann::json::parse(in);
    } catch (const std::exception&) {
      throw e;
    }
    if (!preset.is_object() || !preset.contains("strategy") || !preset["strategy"].is_object() ||
        !preset["strategy"].contains("name") || !preset["strategy"]["name"].is_string())
      throw;
    const nlohmann::json strategy = preset["strategy"];
    preset["strategy"] = {{"name", "latest"}};
    RunConfig cfg;
    try {
      cfg = parse_preset(preset.dump(), path);
    } catch (const InputError&) {
      throw e;  // wrong apart from the strategy too: load_preset's error
    }
    try {
      apply_override(cfg, "strategy.name=" + strategy["name"].get<std::string>());
      if (strategy.contains("params") && strategy["params"].is_object())
        for (const auto& [key, value] : strategy["params"].items())
          apply_override(cfg, "strategy.params." + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump()));
    } catch (const InputError&) {
      throw e;
    }
    return cfg;
  }
}

// A strategy that reads an optimizer's state refuses another optimizer (engine/config). The error also
// names the flags that fix it, for a preset that names such a strategy with another optimizer.
void validate_with_fix(const RunConfig& cfg) {
  try {
    validate(cfg);
  } catch (const InputError& e) {
    const std::string fix = e.field().rfind("optimizer.", 0) == 0 ? setting_flags(strategy_optimizer_changes(cfg)) : "";
    if (fix.empty()) throw;
    throw InputError(e.file(), e.field(), e.reason() + "; on the command line: " + fix);
  }
}

// run.json beside summary.json (engine/telemetry/run_meta.h; the dashboard's run library reads it).
void write_run_json(const std::string& out_dir, const std::string& created, const std::string& resumed_from,
                    const std::vector<RunMark>& marks) {
  write_file_atomically(out_dir + "/run.json", run_meta_json("cli", created, resumed_from, marks).dump(2) + "\n");
}

std::string utc_now_iso() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

}  // namespace

std::string schedule_choices() {
  std::vector<std::string> names;
  for (const auto& s : schedule_catalog()) names.push_back(s.name);
  return join_names(names);
}

std::string strategy_choices() {
  std::vector<std::string> names;
  for (const auto& s : strategy_catalog())
    if (s.implemented) names.push_back(s.name);
  return join_names(names);
}

void declare_list(CLI::App& command) {
  add_words(command, "WHAT", "strategies, schedules, models, datasets or presets (default: all of them)", false);
  add_switch(command, "--verbose,-v", "strategies: the full text of each (what F and B read, formula, memory, source)");
}

int cmd_list(const CLI::App& command, const Args&) {
  const ArgValues r(command);
  const bool verbose = r.flag("--verbose");
  const std::string what = r.value("WHAT", "all");
  const bool all = what == "all";
  bool known = all;
  if (all || what == "strategies") {
    known = true;
    std::printf("strategies:\n");
    for (const auto& s : strategy_catalog()) {
      if (verbose) {
        std::printf("\n%s\n", describe_strategy(s).c_str());
      } else {
        std::printf("  %-14s %s%s\n", s.name.c_str(), s.title.c_str(), s.implemented ? "" : "  (not implemented yet)");
      }
    }
  }
  if (all || what == "schedules") {
    known = true;
    std::printf("schedules:\n");
    for (const auto& s : schedule_catalog()) std::printf("  %-14s %s\n", s.name.c_str(), s.summary.c_str());
  }
  if (all || what == "models") {
    known = true;
    std::printf("models:\n");
    for (const auto& m : model_catalog()) std::printf("  %-14s %s\n", m.name.c_str(), m.summary.c_str());
  }
  if (all || what == "datasets") {
    known = true;
    std::printf("datasets:\n");
    for (const auto& d : dataset_catalog())
      std::printf("  %-14s %s%s%s\n", d.name.c_str(), d.summary.c_str(), d.default_path.empty() ? "" : "  [",
                  d.default_path.empty() ? "" : (d.default_path + "]").c_str());
  }
  if (all || what == "presets") {
    known = true;
    std::printf("presets (%s):\n", presets_dir().c_str());
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(presets_dir(), ec))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        RunConfig c = load_preset(f.string());
        std::printf("  %-28s %s\n", f.filename().string().c_str(), c.description.c_str());
      } catch (const std::exception& e) {
        std::printf("  %-28s INVALID: %s\n", f.filename().string().c_str(), e.what());
      }
    }
  }
  if (!known)
    throw InputError("command line", "list", "unknown list '" + what +
                                                  "' (known: strategies, schedules, models, datasets, presets)");
  return 0;
}

// Op names as the CLI prints them; an OVERLAP pair is one entry, "F0.7@0+B0.3@7".
std::vector<std::string> op_names(const StageOps& ops) {
  std::vector<std::string> names;
  bool pair_open = false;
  for (const auto& op : ops) {
    if (pair_open) {
      names.back() += "+" + op_name(op);
      pair_open = false;
      continue;
    }
    names.push_back(op_name(op));
    pair_open = op.overlap_next;
  }
  return names;
}

void declare_schedule(CLI::App& command) {
  add_value(command, "--schedule", "NAME", "the schedule (default 1f1b-async): " + schedule_choices());
  add_value(command, "--stages", "S", "stages (default 4)");
  add_value(command, "--chunks", "V", "chunks per stage (default: the schedule's, 2 where it places several)");
  add_value(command, "--microbatches", "M", "microbatches per minibatch (default 1)");
  add_value(command, "--minibatches", "N", "minibatches (default 4)");
  add_value(command, "--format", "table|json", "output format (default table)");
}

int cmd_schedule(const CLI::App& command, const Args&) {
  const ArgValues r(command);
  const std::string name = r.value("--schedule", "1f1b-async");
  const int S = to_int(r.value("--stages", "4"), "--stages");
  const int M = to_int(r.value("--microbatches", "1"), "--microbatches");
  const int N = to_int(r.value("--minibatches", "4"), "--minibatches");
  const int V = to_int(r.value("--chunks", "0"), "--chunks");
  const std::string format = r.value("--format", "table");
  if (format != "table" && format != "json")
    throw InputError("command line", "--format", "expected 'table' or 'json', got '" + format + "'");
  auto as_flag = [](const InputError& e) {
    return InputError("command line", "--" + e.field(), e.reason());
  };
  std::vector<StageOps> ops;
  try {
    ops = make_schedule(name, S, M, N, V);
  } catch (const InputError& e) {
    throw as_flag(e);
  }
  const int v = resolve_chunks(name, V);
  const std::vector<int> device_of = chunk_devices(name, S, v);
  auto chunks_of = [&](int d) {
    std::vector<int> mine;
    for (int c = 0; c < S * v; ++c)
      if (device_of[c] == d) mine.push_back(c);
    return mine;
  };
  const ScheduleInfo& info = schedule_info(name);
  if (format == "json") {
    nlohmann::json j;
    j["schedule"] = name;
    j["chunks_per_stage"] = v;
    j["ideal_bubble"] = ideal_bubble_fraction(name, S, M, v);
    if (!info.note.empty()) j["note"] = info.note;
    j["stages"] = nlohmann::json::array();
    for (int k = 0; k < S; ++k) j["stages"].push_back({{"stage", k}, {"chunks", chunks_of(k)}, {"ops", op_names(ops[k])}});
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s  S=%d v=%d M=%d minibatches=%d  (ideal bubble %.3f)\n", name.c_str(), S, v, M, N,
              ideal_bubble_fraction(name, S, M, v));
  if (!info.note.empty()) std::printf("note: %s\n", info.note.c_str());
  for (int k = 0; k < S; ++k) {
    std::printf("stage %d:", k);
    for (const auto& op : op_names(ops[k])) std::printf(" %s", op.c_str());
    std::printf("\n");
  }
  return 0;
}

void declare_run(CLI::App& command) {
  add_value(command, "--preset", "FILE", "the preset to run (presets/*.json); required unless --resume");
  add_value(command, "--resume", "CHECKPOINT", "continue a saved run (its config comes from the checkpoint)");
  add_value(command, "--strategy", "NAME", "weight-version strategy: " + strategy_choices() + " (pipescope-cli list strategies)");
  add_value(command, "--strategy-param", "KEY=VALUE", "a strategy parameter (repeatable)");
  for (const FieldFlag& f : kFieldFlags) {
    std::string text = f.text;
    if (const auto at = text.find("%SCHEDULES%"); at != std::string::npos) text.replace(at, 11, schedule_choices());
    add_value(command, f.flag, f.type, text);
  }
  add_value(command, "--set", "PATH=VALUE", "any preset field by its path, e.g. optimizer.momentum=0.5 (repeatable)");
  add_value(command, "--out", "DIR",
            "write summary.json, metrics.csv, ledger.csv, config.json and run.json into DIR (the dashboard opens it: File > Open run)");
  add_value(command, "--trace", "FILE", "write a Trace Event Format trace (ui.perfetto.dev)");
  add_value(command, "--checkpoint", "FILE", "save a checkpoint at the end (and on Ctrl-C)");
  add_value(command, "--checkpoint-every", "MINUTES", "also save every MINUTES (needs --checkpoint)");
  add_value(command, "--repartition", "STEP:i,j,...", "move the boundaries live once STEP minibatches are done");
  add_switch(command, "--quiet", "no progress line");
}

int cmd_run(const CLI::App& command, const Args& args) {
  const ArgValues r(command);
  const std::string preset = r.value("--preset");
  const std::string resume = r.value("--resume");
  if (!resume.empty() && !preset.empty())
    throw InputError("command line", "--resume", "give either --preset or --resume (a checkpoint holds its run's config)");
  if (preset.empty() && resume.empty())
    throw InputError("command line", "--preset", "is required (for example presets/default.json)");
  RunConfig cfg = resume.empty() ? load_preset_for_run(preset) : checkpoint_config(resume);
  auto set = [&](const std::string& flag, const std::string& path) {
    for (const auto& v : r.values(flag)) apply_override(cfg, path + "=" + v);
  };
  set("--strategy", "strategy.name");
  for (const auto& kv : r.values("--strategy-param")) apply_override(cfg, "strategy.params." + kv);
  set("--schedule", "schedule");
  set("--chunks", "chunks");
  set("--replicas", "replicas");
  set("--microbatches", "microbatches");
  set("--batch-size", "batch_size");
  set("--lr", "optimizer.lr");
  set("--seed", "seed");
  set("--device", "device");
  set("--executor", "executor");
  set("--threads-per-stage", "threads_per_stage");
  if (r.has("--epochs")) {
    set("--epochs", "epochs");
    cfg.steps = 0;
  }
  set("--steps", "steps");
  if (r.has("--stages") && r.has("--partition"))
    throw InputError("command line", "--stages", "give either --stages or --partition, not both");
  if (r.has("--stages")) {
    set("--stages", "stages");
    cfg.partition.clear();
  }
  if (r.has("--partition")) {
    // As `--set partition=[...]` would: the stage count follows the partition, so that a later --set of
    // the schedule or the chunks keeps it (the preset's own `stages` would otherwise disagree and drop it).
    std::stringstream ss(r.value("--partition"));
    std::string item, list;
    while (std::getline(ss, item, ',')) list += (list.empty() ? "" : ",") + std::to_string(to_int(item, "--partition"));
    apply_override(cfg, "partition=[" + list + "]");
  }
  for (const auto& kv : r.values("--set")) apply_override(cfg, kv);
  // --procs N: the processes executor, with N checked against the stages it must equal.
  int procs = 0;
  if (r.has("--procs")) {
    procs = to_int(r.value("--procs"), "--procs");
    if (procs < 1) throw InputError("command line", "--procs", "must be at least 1, got " + std::to_string(procs));
    cfg.executor = "processes";
  }
  const std::string optimizer_note = apply_strategy_optimizer(cfg, paths_set(r));
  SessionOptions opts;
  opts.out_dir = r.value("--out");
  opts.trace_path = r.value("--trace");
  opts.resume_path = resume;
  opts.checkpoint_path = r.value("--checkpoint");
  const std::string every = r.value("--checkpoint-every");
  if (!every.empty()) {
    try {
      std::size_t used = 0;
      opts.checkpoint_every_minutes = std::stod(every, &used);
      if (used != every.size()) throw std::invalid_argument(every);
    } catch (...) {
      throw InputError("command line", "--checkpoint-every", "expected minutes (a number), got '" + every + "'");
    }
    if (!(opts.checkpoint_every_minutes > 0))
      throw InputError("command line", "--checkpoint-every", "must be more than 0 minutes");
    if (opts.checkpoint_path.empty())
      throw InputError("command line", "--checkpoint-every", "needs --checkpoint FILE");
  }
  // --repartition STEP:i,j,...: move the boundaries live once STEP minibatches are done.
  std::int64_t repartition_step = -1;
  std::vector<int> repartition_to;
  if (r.has("--repartition")) {
    const std::string v = r.value("--repartition");
    const auto colon = v.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == v.size())
      throw InputError("command line", "--repartition", "expected STEP:i,j,... (for example 100:2,5,8), got '" + v + "'");
    repartition_step = to_int(v.substr(0, colon), "--repartition");
    if (repartition_step < 1) throw InputError("command line", "--repartition", "the step must be at least 1");
    std::stringstream ss(v.substr(colon + 1));
    std::string item;
    while (std::getline(ss, item, ',')) repartition_to.push_back(to_int(item, "--repartition"));
  }
  bool quiet = r.flag("--quiet");
  validate_with_fix(cfg);
  if (procs > 0 && procs != cfg.num_devices())
    throw InputError("command line", "--procs",
                     std::to_string(procs) + " processes for a run of " +
                         (cfg.replicas > 1 ? std::to_string(cfg.num_stages()) + " stages x " + std::to_string(cfg.replicas) +
                                                 " replicas: one process per stage and replica (give --procs " +
                                                 std::to_string(cfg.num_devices()) + ")"
                                           : std::to_string(cfg.num_stages()) + " stages: one process per stage (give --procs " +
                                                 std::to_string(cfg.num_stages()) + " or --stages " + std::to_string(procs) + ")"));

  // Stages as processes: under torchrun (or as a rank this launcher started) the environment says which
  // rank this is; else this process starts the other ranks on this host and is rank 0 itself.
  std::unique_ptr<dist::LocalRanks> ranks;
  if (cfg.executor == "processes") {
    if (auto env = dist_options_from_environment()) {
      opts.dist = *env;
    } else {
      Args child{"run"};
      child.insert(child.end(), args.begin(), args.end());
      ranks = std::make_unique<dist::LocalRanks>(cfg.num_devices(), child);
      opts.dist = ranks->rank0();
    }
  }
  const bool other_rank = opts.dist.active() && opts.dist.rank != 0;  // rank 0 reports; the others stay silent
  if (!optimizer_note.empty() && !other_rank) std::fprintf(stderr, "%s\n", optimizer_note.c_str());
  if (other_rank) {  // rank 0 reports and writes every output; the others write nothing
    quiet = true;
    opts.out_dir.clear();
    opts.trace_path.clear();
  }

  Session session(cfg, opts);
  if (repartition_step > 0) {
    try {
      session.repartition(repartition_to, repartition_step);
    } catch (const InputError& e) {
      throw InputError("command line", "--repartition", e.reason());
    }
  }
  if (!quiet) {
    const auto& info = session.model_info();
    std::printf("pipescope: %s on %s, %s / %s, %d stage(s), partition [", cfg.model.name.c_str(),
                cfg.dataset.name.c_str(), cfg.schedule.c_str(), cfg.strategy.name.c_str(),
                static_cast<int>(session.partition().size()) + 1);
    for (std::size_t i = 0; i < session.partition().size(); ++i)
      std::printf("%s%d", i ? "," : "", session.partition()[i]);
    std::printf("] of %zu units, %lld parameters\n", info.units.size(), static_cast<long long>(info.total_params()));
    std::fflush(stdout);
  }
  // config.json: the settings as a preset with the partition in effect (as the dashboard records a run),
  // so a run folder opened in the dashboard compares field by field.
  const std::string created = utc_now_iso();
  std::vector<RunMark> marks;
  // The partition in effect when written (at the start, and at the end after any repartition).
  auto write_run_files = [&] {
    if (opts.out_dir.empty()) return;
    RunConfig resolved = session.config();
    resolved.partition = session.partition();
    resolved.stages = resolved.num_stages();
    write_file_atomically(opts.out_dir + "/config.json", preset_to_json(resolved));
    write_run_json(opts.out_dir, created, opts.resume_path, marks);
  };
  write_run_files();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  Progress progress;
  StepMetrics last;
  std::optional<EvalMetrics> eval;
  session.start();
  bool stop_sent = false;
  while (!session.wait_for(std::chrono::milliseconds(50))) {
    if (g_signals > 0 && !stop_sent) {
      stop_sent = true;
      std::fprintf(stderr, "\npipescope: stopping (outputs will still be written)...\n");
      session.stop();
    }
    TelemetryBatch b = session.drain();
    if (!b.steps.empty()) last = b.steps.back();
    if (!b.evals.empty()) eval = b.evals.back();
    if (!quiet) progress.update(session.progress(), last, eval);
    marks.insert(marks.end(), b.marks.begin(), b.marks.end());
    for (const auto& m : b.marks) {
      if (!quiet) progress.finish();
      std::printf("%s: %s\n", m.kind.c_str(), m.text.c_str());
      std::fflush(stdout);
    }
  }
  TelemetryBatch b = session.drain();
  if (!b.steps.empty()) last = b.steps.back();
  if (!b.evals.empty()) eval = b.evals.back();
  for (const auto& m : b.marks) std::printf("%s: %s\n", m.kind.c_str(), m.text.c_str());
  marks.insert(marks.end(), b.marks.begin(), b.marks.end());
  write_run_files();
  if (!quiet) {
    progress.update(session.progress(), last, eval, true);
    progress.finish();
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  const RunSummary s = session.summary();
  std::vector<std::string> rank_failures;
  if (ranks) rank_failures = ranks->reap(std::chrono::milliseconds(static_cast<std::int64_t>(cfg.processes_timeout_seconds * 1000)));
  if (other_rank) {
    if (!s.error.empty()) std::fprintf(stderr, "rank %d: %s\n", opts.dist.rank, s.error.c_str());
    return s.status == RunStatus::Completed ? 0 : s.status == RunStatus::Stopped ? 130 : 1;
  }
  for (const auto& f : rank_failures) std::fprintf(stderr, "pipescope: %s\n", f.c_str());
  std::printf("status: %s\n", to_string(s.status).c_str());
  if (!s.error.empty()) std::printf("error: %s\n", s.error.c_str());
  std::printf("steps: %lld  samples: %lld  final_train_loss: %.4f\n", static_cast<long long>(s.steps),
              static_cast<long long>(s.samples), s.final_train_loss);
  if (s.test_accuracy) std::printf("test_accuracy: %.4f\n", *s.test_accuracy);
  std::printf("samples_per_second: %.1f  wall_seconds: %.1f  bubble: %.3f measured, %.3f ideal\n",
              s.samples_per_second, s.wall_seconds, s.bubble_fraction_measured, s.bubble_fraction_ideal);
  for (const auto& st : s.per_stage) {
    const std::string replica = st.replica >= 0 ? " replica " + std::to_string(st.replica) : "";
    std::printf("  stage %d%s [%d..%d] %s: util %.2f, copies max %d, staleness F %.2f B %.2f\n", st.stage,
                replica.c_str(), st.first_layer, st.last_layer, st.device.c_str(), st.utilization, st.weight_copies_max,
                st.staleness_forward_mean.value_or(0), st.staleness_backward_mean.value_or(0));
    if (!st.process.empty())
      std::printf("    %s: sent %lld messages (%.1f KiB), waited %.3f s on its links\n", st.process.c_str(),
                  static_cast<long long>(st.messages_sent), double(st.bytes_sent) / 1024.0, st.link_wait_seconds);
  }
  std::printf("weights_digest: %s\n", s.weights_digest.c_str());
  if (const auto ck = session.last_checkpoint(); ck && !opts.checkpoint_path.empty())
    std::printf("checkpoint: %s (after %lld steps)\n", ck->path.c_str(), static_cast<long long>(ck->step));
  if (!opts.out_dir.empty()) std::printf("outputs: %s\n", opts.out_dir.c_str());
  switch (s.status) {
    case RunStatus::Completed: return rank_failures.empty() ? 0 : 1;
    case RunStatus::Stopped: return 130;
    default: return 1;
  }
}

}  // namespace ps::cli

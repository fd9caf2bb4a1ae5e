#include "commands.h"

#include <algorithm>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <filesystem>
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

// A strategy that reads an optimizer's state refuses another optimizer (engine/config). On the command
// line the error also names the flags that fix it. The runner never changes the optimizer by itself: a
// run is the preset plus the flags given, and an SGD learning rate is no Adam one.
std::string optimizer_fix(const RunConfig& cfg) {
  const std::string& s = cfg.strategy.name;
  const OptimizerConfig& o = cfg.optimizer;
  std::string fix;
  auto add = [&](const std::string& flag) { fix += (fix.empty() ? "" : " ") + flag; };
  if ((s == "spectrain" || s == "nesterov") && o.name != "sgd") add("--set optimizer.name=sgd");
  if (s == "nesterov" && !o.nesterov) add("--set optimizer.nesterov=true");
  if (s == "nesterov" && o.momentum <= 0) add("--set optimizer.momentum=0.9");
  if (s == "adam-predict" && o.name != "adam") {
    add("--set optimizer.name=adam");
    if (o.nesterov) add("--set optimizer.nesterov=false");
    add("--lr 0.001");
  }
  return fix;
}

void validate_with_fix(const RunConfig& cfg) {
  try {
    validate(cfg);
  } catch (const InputError& e) {
    const std::string fix = e.field().rfind("optimizer.", 0) == 0 ? optimizer_fix(cfg) : "";
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

ArgReader::ArgReader(const Args& args, const std::string& command)
    : args_(args), used_(args.size(), false), command_(command) {}

void ArgReader::note(const std::string& name) const {
  if (std::find(known_.begin(), known_.end(), name) == known_.end()) known_.push_back(name);
}

bool ArgReader::has(const std::string& name) const {
  note(name);
  for (const auto& a : args_)
    if (a == name) return true;
  return false;
}

bool ArgReader::flag(const std::string& name) {
  note(name);
  bool found = false;
  for (std::size_t i = 0; i < args_.size(); ++i)
    if (!used_[i] && args_[i] == name) used_[i] = found = true;
  return found;
}

std::string ArgReader::value(const std::string& name, const std::string& fallback) {
  auto all = values(name);
  return all.empty() ? fallback : all.back();
}

std::vector<std::string> ArgReader::values(const std::string& name) {
  note(name);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args_.size(); ++i) {
    if (used_[i] || args_[i] != name) continue;
    if (i + 1 >= args_.size()) throw InputError("command line", name, "needs a value");
    used_[i] = used_[i + 1] = true;
    out.push_back(args_[i + 1]);
    ++i;
  }
  return out;
}

std::vector<std::string> ArgReader::positional() {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args_.size(); ++i)
    if (!used_[i] && args_[i].rfind("--", 0) != 0) {
      used_[i] = true;
      out.push_back(args_[i]);
    }
  return out;
}

void ArgReader::finish() const {
  for (std::size_t i = 0; i < args_.size(); ++i) {
    if (used_[i]) continue;
    const std::string near = nearest_name(args_[i], known_);
    throw InputError("command line", args_[i],
                     "unknown argument for '" + command_ + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?") +
                         " (known: " + join_names(known_) + "; see pipescope-cli " + command_ + " --help)");
  }
}

int cmd_list(const Args& args) {
  ArgReader r(args, "list");
  const bool verbose = r.flag("--verbose") || r.flag("-v");
  auto pos = r.positional();
  r.finish();
  const std::string what = pos.empty() ? "all" : pos[0];
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

int cmd_schedule(const Args& args) {
  ArgReader r(args, "schedule");
  const std::string name = r.value("--schedule", "1f1b-async");
  const int S = to_int(r.value("--stages", "4"), "--stages");
  const int M = to_int(r.value("--microbatches", "1"), "--microbatches");
  const int N = to_int(r.value("--minibatches", "4"), "--minibatches");
  const int V = to_int(r.value("--chunks", "0"), "--chunks");
  const std::string format = r.value("--format", "table");
  r.finish();
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

int cmd_run(const Args& args) {
  ArgReader r(args, "run");
  const std::string preset = r.value("--preset");
  const std::string resume = r.value("--resume");
  if (!resume.empty() && !preset.empty())
    throw InputError("command line", "--resume", "give either --preset or --resume (a checkpoint holds its run's config)");
  if (preset.empty() && resume.empty())
    throw InputError("command line", "--preset", "is required (for example presets/default.json)");
  RunConfig cfg = resume.empty() ? load_preset(preset) : checkpoint_config(resume);
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
    cfg.partition.clear();
    std::stringstream ss(r.value("--partition"));
    std::string item;
    while (std::getline(ss, item, ',')) cfg.partition.push_back(to_int(item, "--partition"));
  }
  for (const auto& kv : r.values("--set")) apply_override(cfg, kv);
  // --procs N: the processes executor, with N checked against the stages it must equal.
  int procs = 0;
  if (r.has("--procs")) {
    procs = to_int(r.value("--procs"), "--procs");
    if (procs < 1) throw InputError("command line", "--procs", "must be at least 1, got " + std::to_string(procs));
    cfg.executor = "processes";
  }
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
  r.finish();
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

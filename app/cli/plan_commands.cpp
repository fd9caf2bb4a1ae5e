// `pipescope-cli partition` (auto-balance) and `pipescope-cli simulate` (what-if simulator).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "commands.h"
#include "engine/config/run_config.h"
#include "engine/partition/partition.h"
#include "engine/planner/balance.h"
#include "engine/planner/simulator.h"
#include "engine/schedule/schedule.h"
#include "engine/util/errors.h"

namespace ps::cli {
namespace {

double to_number(const std::string& text, const std::string& field, double min_value) {
  double v = 0;
  try {
    std::size_t used = 0;
    v = std::stod(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
  } catch (...) {
    throw InputError("command line", field, "expected a number, got '" + text + "'");
  }
  if (v < min_value) throw InputError("command line", field, "must be at least " + std::to_string(min_value) + ", got " + text);
  return v;
}

int to_count(const std::string& text, const std::string& field) {
  const double v = to_number(text, field, 1);
  if (v != double(int(v))) throw InputError("command line", field, "expected a whole number, got '" + text + "'");
  return int(v);
}

std::vector<int> to_partition(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(int(to_number(item, "--partition", 0)));
  return out;
}

std::string join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s.empty() ? "-" : s;
}

// What both commands read: the preset, stage count and profile options.
struct PlanInput {
  RunConfig cfg;
  ProfileOptions profile;
  double bandwidth = 0;  // bytes/s, 0 = infinite
  std::string format = "table";
};

// The options both commands take (after --preset and --stages): the plan's schedule and batch, any
// field, the links and the profile.
void declare_plan_options(CLI::App& command) {
  add_value(command, "--schedule", "NAME", "schedule the plan is for: " + schedule_choices());
  add_value(command, "--chunks", "V", "chunks per stage of that schedule");
  add_value(command, "--microbatches", "M", "microbatches per minibatch");
  add_value(command, "--batch-size", "B", "samples per minibatch");
  add_value(command, "--set", "PATH=VALUE", "any preset field by its path (repeatable)");
  add_value(command, "--bandwidth", "GBps", "link bandwidth between stages (default infinite)");
}

void declare_profile_options(CLI::App& command) {
  add_value(command, "--format", "table|json", "output format (default table)");
  add_switch(command, "--no-cache", "profile afresh and do not keep it");
  add_switch(command, "--refresh", "profile afresh and replace the cached profile");
  add_switch(command, "--again", "profile once more and use the median of these settings' last 5 profiles");
}

PlanInput read_common(const ArgValues& r) {
  PlanInput in;
  const std::string preset = r.value("--preset");
  if (preset.empty()) throw InputError("command line", "--preset", "is required (for example presets/default.json)");
  in.cfg = load_preset(preset);
  for (const auto& a : r.values("--set")) apply_override(in.cfg, a);
  if (r.has("--stages")) {
    in.cfg.stages = to_count(r.value("--stages"), "--stages");
    in.cfg.partition.clear();
  }
  if (r.has("--microbatches")) in.cfg.microbatches = to_count(r.value("--microbatches"), "--microbatches");
  if (r.has("--batch-size")) in.cfg.batch_size = to_count(r.value("--batch-size"), "--batch-size");
  if (r.has("--schedule")) in.cfg.schedule = r.value("--schedule");
  if (r.has("--chunks")) in.cfg.chunks = to_count(r.value("--chunks"), "--chunks");
  schedule_info(in.cfg.schedule);
  if (r.has("--bandwidth")) in.bandwidth = to_number(r.value("--bandwidth"), "--bandwidth", 0) * 1e9;
  in.profile.use_cache = !r.flag("--no-cache");
  in.profile.refresh = r.flag("--refresh");
  in.profile.again = r.flag("--again");
  in.profile.verbose = true;
  in.format = r.value("--format", "table");
  if (in.format != "table" && in.format != "json")
    throw InputError("command line", "--format", "expected 'table' or 'json', got '" + in.format + "'");
  return in;
}

nlohmann::json plan_json(const BalancePlan& p, int batch) {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : p.stages)
    stages.push_back({{"first_unit", s.first},
                      {"last_unit", s.last},
                      {"compute_s", s.compute_s},
                      {"link_in_s", s.link_in_s},
                      {"param_bytes", s.param_bytes},
                      {"memory_bytes", s.memory_bytes}});
  return {{"boundaries", p.boundaries},
          {"bottleneck_s", p.bottleneck_s},
          {"samples_per_second", p.samples_per_second(batch)},
          {"stages", stages}};
}

void print_plan_row(const char* label, const BalancePlan& p, int batch) {
  std::printf("%-16s %-12s %10.2f %11.1f  ", label, join(p.boundaries).c_str(), p.bottleneck_s * 1e3,
              p.samples_per_second(batch));
  for (const auto& s : p.stages) std::printf(" %7.2f", s.compute_s * 1e3);
  std::printf("\n");
}

}  // namespace

void declare_partition(CLI::App& command) {
  add_value(command, "--preset", "FILE", "model, data and batch (required)");
  add_value(command, "--stages", "N", "stages to split into");
  add_value(command, "--by", "time|params|memory", "what to balance (default time, from a measured profile)");
  declare_plan_options(command);
  add_value(command, "--memory-limit", "MB", "per-stage memory limit");
  add_value(command, "--weight-copies", "X", "weight copies a stage holds (stash-like strategies)");
  declare_profile_options(command);
}

int cmd_partition(const CLI::App& command, const Args&) {
  const ArgValues r(command);
  PlanInput in = read_common(r);
  BalanceOptions opts;
  opts.by = parse_balance_by(r.value("--by", "time"), "--by");
  opts.stages = in.cfg.num_stages();
  opts.schedule = in.cfg.schedule;
  opts.bandwidth_bytes_per_s = in.bandwidth;
  if (r.has("--memory-limit")) opts.memory_limit_bytes = to_number(r.value("--memory-limit"), "--memory-limit", 0) * 1e6;
  if (r.has("--weight-copies")) opts.weight_copies = to_number(r.value("--weight-copies"), "--weight-copies", 1);

  // Times come from the measured profile; parameters and memory need only the model's shapes.
  const ModelInfo info = model_info_for(in.cfg);
  if (opts.stages > int(info.units.size()))
    throw InputError("command line", "--stages", "cannot split the " + std::to_string(info.units.size()) +
                                                     " layer units of model '" + info.name + "' into " +
                                                     std::to_string(opts.stages) + " stages");
  const ModelProfile profile = opts.by == BalanceBy::Time ? profile_model(in.cfg, in.profile)
                                                          : estimate_profile(info, in.cfg.batch_size, in.cfg.microbatches);
  const BalancePlan best = balance_partition(profile, opts, "command line");
  const BalancePlan even = evaluate_partition(profile, even_partition(int(profile.units.size()), opts.stages), opts);
  const BalancePlan flops = evaluate_partition(profile, balanced_partition(info, opts.stages), opts);
  const int batch = in.cfg.batch_size;
  const double speedup = best.bottleneck_s > 0 ? even.bottleneck_s / best.bottleneck_s : 0;

  if (in.format == "json") {
    nlohmann::json j;
    j["model"] = info.name;
    j["units"] = nlohmann::json::array();
    for (const auto& u : profile.units) j["units"].push_back(u.name);
    j["stages"] = opts.stages;
    j["by"] = to_string(opts.by);
    j["profile"] = profile.measured ? "measured" : "estimated";
    j["profiles"] = profile.measured ? profile.profiles : 0;  // the measured ones the cached profile is the median of
    j["plan"] = plan_json(best, batch);
    j["boundaries"] = best.boundaries;
    j["even"] = plan_json(even, batch);
    j["engine_default"] = plan_json(flops, batch);
    j["speedup_over_even"] = speedup;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model %s: %zu units, batch %d in %d microbatches, schedule %s, %d stages, balanced by %s (%s profile)\n",
              info.name.c_str(), profile.units.size(), batch, in.cfg.microbatches, opts.schedule.c_str(),
              opts.stages, to_string(opts.by).c_str(), profile.measured ? "measured" : "estimated");
  std::printf("%-16s %-12s %10s %11s   %s\n", "split", "boundaries", "slowest ms", "samples/s",
              "per-stage ms per minibatch (forward + backward + update)");
  print_plan_row(("auto (" + to_string(opts.by) + ")").c_str(), best, batch);
  print_plan_row("even (units)", even, batch);
  print_plan_row("engine (flops)", flops, batch);
  std::printf("\n%-6s %-22s %10s %9s %12s %12s\n", "stage", "units", "compute ms", "link ms", "params MB",
              "memory MB");
  for (std::size_t k = 0; k < best.stages.size(); ++k) {
    const auto& s = best.stages[k];
    const std::string units = profile.units[s.first].name + (s.first == s.last ? "" : ".." + profile.units[s.last].name);
    std::printf("%-6zu %-22s %10.2f %9.3f %12.3f %12.3f\n", k, units.c_str(), s.compute_s * 1e3, s.link_in_s * 1e3,
                s.param_bytes / 1e6, s.memory_bytes / 1e6);
  }
  std::printf("\npredicted speed-up over the even split: %.2fx (steady state, slowest stage %.2f ms vs %.2f ms)\n",
              speedup, best.bottleneck_s * 1e3, even.bottleneck_s * 1e3);
  return 0;
}

void declare_simulate(CLI::App& command) {
  add_value(command, "--preset", "FILE", "model, data and batch (required)");
  add_value(command, "--stages", "N", "stages");
  add_value(command, "--devices", "N", "devices the stages share (default one each)");
  add_value(command, "--cores", "C", "cores the stages share (default unlimited)");
  add_value(command, "--latency", "S",
            "seconds each message between devices adds (default: 0; with --cores, the profile's measured hand-off "
            "between stage threads, and its switch cost when the stages outnumber the hardware threads)");
  add_switch(command, "--round-robin", "place stages on the devices round-robin");
  add_value(command, "--minibatches", "N", "minibatches to simulate (default 32)");
  add_value(command, "--partition", "i,j,...", "boundaries (default: the engine's split by estimated cost)");
  add_switch(command, "--auto", "balance the partition by the measured profile");
  declare_plan_options(command);
  declare_profile_options(command);
}

int cmd_simulate(const CLI::App& command, const Args&) {
  const ArgValues r(command);
  PlanInput in = read_common(r);
  SimOptions so;
  so.schedule = in.cfg.schedule;
  so.microbatches = in.cfg.microbatches;
  so.minibatches = r.has("--minibatches") ? to_count(r.value("--minibatches"), "--minibatches") : 32;
  so.bandwidth_bytes_per_s = in.bandwidth;
  if (r.has("--devices")) so.devices = to_count(r.value("--devices"), "--devices");
  if (r.has("--cores")) so.cores = to_number(r.value("--cores"), "--cores", 0.01);
  so.round_robin = r.flag("--round-robin");
  const std::string partition = r.value("--partition");
  const bool auto_balance = r.flag("--auto");

  const ModelInfo info = model_info_for(in.cfg);
  // Stages are devices; a schedule that places v chunks on each cuts the model into S*v chunks.
  const int v = schedule_info(so.schedule).replicas ? 1 : in.cfg.chunks_per_device();
  so.chunks = v;
  const int S = partition.empty() ? in.cfg.num_stages() : (int(to_partition(partition).size()) + 1) / v;
  const ModelProfile profile = profile_model(in.cfg, in.profile);
  if (!partition.empty()) {
    so.boundaries = to_partition(partition);
    validate_partition(so.boundaries, int(info.units.size()), "command line");
  } else if (!in.cfg.partition.empty()) {
    so.boundaries = in.cfg.partition;
  } else if (!schedule_info(so.schedule).replicas) {
    if (S * v > int(info.units.size()))
      throw InputError("command line", "--stages", std::to_string(S * v) + " chunks are more than the model's " +
                                                       std::to_string(info.units.size()) + " layer units");
    BalanceOptions bo;
    bo.stages = S * v;
    bo.schedule = so.schedule;
    bo.bandwidth_bytes_per_s = in.bandwidth;
    so.boundaries = auto_balance ? balance_partition(profile, bo, "command line").boundaries
                                 : balanced_partition(info, S * v, "command line");
  }
  so.replicas = S;
  try {
    check_schedule(so.schedule, S, so.microbatches, v);  // the usual errors for bad combinations
  } catch (const InputError& e) {
    throw InputError("command line", "--" + e.field(), e.reason());
  }
  // This machine's stage threads (--cores) hand each message over and switch as the profile measured
  // (the cores stay the user's; the processes' hand-off for a preset run as processes); a what-if
  // machine's links cost only their bandwidth unless --latency says otherwise.
  if (so.cores > 0) {
    const double cores = so.cores;
    profile.apply_machine(so, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), in.cfg.executor);
    so.cores = cores;
  }
  if (r.has("--latency")) so.latency_s = to_number(r.value("--latency"), "--latency", 0);
  const SimResult res = simulate(profile, so);
  const double ideal = ideal_bubble_fraction(so.schedule, S, so.microbatches, v);

  if (in.format == "json") {
    nlohmann::json j;
    j["model"] = info.name;
    j["schedule"] = so.schedule;
    j["stages"] = S;
    j["devices"] = so.devices > 0 ? so.devices : S;
    j["boundaries"] = so.boundaries;
    j["minibatches"] = so.minibatches;
    j["samples_per_second"] = res.samples_per_second;
    j["makespan_s"] = res.makespan_s;
    j["bubble_fraction"] = res.bubble_fraction;
    j["bubble_fraction_ideal"] = ideal;
    j["stage_busy_s"] = res.stage_busy_s;
    j["profiles"] = profile.profiles;  // the measured ones the cached profile is the median of
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model %s, schedule %s, %d stages on %d devices%s, partition %s, M=%d, batch %d, %d minibatches\n",
              info.name.c_str(), so.schedule.c_str(), S, so.devices > 0 ? std::min(so.devices, S) : S,
              so.cores > 0 ? (" sharing " + std::to_string(so.cores).substr(0, 4) + " cores").c_str() : "",
              join(so.boundaries).c_str(), so.microbatches, in.cfg.batch_size, so.minibatches);
  if (in.bandwidth > 0)
    std::printf("links: %.3f GB/s, %zu transfers", in.bandwidth / 1e9, res.transfers.size());
  else
    std::printf("links: infinite bandwidth");
  std::printf(so.latency_s > 0 ? ", %.0f us per message\n" : "\n", so.latency_s * 1e6);
  std::printf("%-6s %10s %12s\n", "stage", "busy ms", "utilization");
  for (int k = 0; k < S; ++k)
    std::printf("%-6d %10.2f %11.1f%%\n", k, res.stage_busy_s[k] * 1e3,
                res.makespan_s > 0 ? 100 * res.stage_busy_s[k] / res.makespan_s : 0);
  std::printf("predicted throughput: %.1f samples/s (%.1f ms for %d minibatches)\n", res.samples_per_second,
              res.makespan_s * 1e3, so.minibatches);
  std::printf("predicted bubble fraction: %.3f (ideal for %s: %.3f)\n", res.bubble_fraction, so.schedule.c_str(), ideal);
  return 0;
}

}  // namespace ps::cli

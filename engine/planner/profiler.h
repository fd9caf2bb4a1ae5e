// Per layer unit measured costs (forward, backward, update time; activation and parameter bytes) and the
// profiler that measures them with LibTorch. This header is torch-free: the planner (balance.h), the
// simulator and the dashboard read ModelProfile; only profile_model() (profiler.cpp) needs LibTorch.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/run_config.h"
#include "engine/models/model_info.h"

namespace ps {

struct SimOptions;

struct UnitProfile {
  std::string name;
  // Median seconds at two sizes: one microbatch (batch / microbatches samples) and the whole minibatch
  // (equal when microbatches == 1). Times at other sizes come from the line through the two.
  double forward_micro_s = 0, backward_micro_s = 0;
  double forward_batch_s = 0, backward_batch_s = 0;
  double update_s = 0;                 // optimizer step over this unit's parameters
  // A split backward at the microbatch size (in-engine, SCHEDULES.md section 3): the input gradient (I)
  // and the weight gradient (W). 0: not measured; the simulator then takes half of B for each.
  double input_grad_micro_s = 0, weight_grad_micro_s = 0;
  std::int64_t activation_bytes = 0;   // the unit's output for one microbatch
  std::int64_t param_bytes = 0;
};

// What one op of a kind costs in a run of many, from a calibration run's op times (seconds, in the order
// the ops ran): their mean, each counted at most 3 medians long. A pipeline's throughput follows the sum
// of its op times, so the mean and not the median: op times lean right (a gpipe run of
// presets/schedules.json on 2 stages: F 189 us mean against 173 median). The cap keeps a rare stall of
// the VM, milliseconds long in a short calibration run, from deciding it. From 3 * kFewestPerThird times
// on, the median of the means of the run's three thirds: a slow spell of the VM (this one's speed moves
// by 10-35% for seconds at a time) that covers less than a third of the run does not move it.
inline constexpr std::size_t kFewestPerThird = 4;
double typical_op_cost(const std::vector<double>& seconds);

struct ModelProfile {
  std::string key;     // model config, device, batch size, threads: what the cache is keyed by
  std::string model;   // model name
  std::string device = "cpu";
  int batch_size = 1;
  int microbatches = 1;
  int threads = 1;
  bool measured = false;  // false: estimated from the analytic flops (estimate_profile)
  // True when the op times were then measured in the engine itself: a short run with one unit per stage
  // on the sequential executor (one op at a time), so that they include what the engine adds to the
  // bare module calls (the data, the loss, gradient accumulation, weight versions, telemetry).
  bool in_engine = false;
  // How many of this model's passes the machine runs at full speed at once (0: not measured): the
  // speed-up of `hardware threads` threads each doing forward and backward of the model over one alone.
  // Hyperthreads and memory bandwidth make it less than the core count for DNN work; it is the `cores`
  // of a simulation of CPU stages (SimOptions::cores).
  double cores = 0;
  // What handing a microbatch's activation or gradient to a stage on another thread costs beyond the
  // ops (-1: not measured; 0 where there is none, one unit or CUDA): the wait from the sender's op
  // ending to the idle receiver's op starting, plus how much longer that first op runs than the same op
  // on the sequential executor (its thread woke on a core whose caches hold another stage's data). Measured on the threaded executor: the
  // sequential schedule on 2 stages at the microbatch size. The `latency_s` of a simulation of CPU
  // stages (SimOptions::latency_s).
  double link_latency_s = -1;
  // What an op costs on top of its work when it starts while every hardware thread runs another stage's
  // op (-1: not measured; 0 where it cannot be calibrated, fewer units than 2 x hardware threads): with
  // more stage threads than hardware ones, a thread that wakes for a message preempts a busy one, and on this VM the switches and the caches they empty cost a large share of a
  // small op. Calibrated: the SimOptions::switch_s at which the simulator plays 1f1b-async on twice the
  // hardware threads' stages (whole minibatches of the microbatch size, this profile's op times, cores
  // and hand-off) at the throughput the engine measured for that run.
  double switch_s = -1;
  // The same hand-off between stages in two processes (the processes executor), over Gloo on loopback
  // (-1: not measured; 0 where there is none, one unit or CUDA): the mean one-way time of a frame of the
  // activation at the middle unit, two ranks exchanging one each way per round as 1F1B's stages do and
  // working between for about a stage's forward, from the sender's post to the receiving thread's
  // hand-off to the waiting stage (dist::probe_processes_hand_off; the mean, as a pipeline waiting for
  // every frame pays the tail too).
  // The `latency_s` of a simulation of a processes run.
  double processes_latency_s = -1;
  // How many measured profiles of this config this one is the median of (the cache keeps the last few;
  // see keep_profile): 1 for a single measurement.
  int profiles = 1;
  std::vector<UnitProfile> units;

  int microbatch_size() const { return std::max(1, batch_size / std::max(1, microbatches)); }
  double forward_s(int unit, int samples) const;   // interpolated between the two measured sizes
  double backward_s(int unit, int samples) const;
  // I and W of a split backward: B's time at `samples` shared as the measured I and W were at the
  // microbatch size (their sum may exceed B: what the split costs); half of B each when not measured.
  double input_grad_s(int unit, int samples) const;
  double weight_grad_s(int unit, int samples) const;
  bool split_measured() const;  // every unit has measured I and W times
  // Sets a simulation of CPU stage threads on `hardware_threads` to this profile's cores, hand-off and
  // switch (SimOptions::cores, latency_s, switch_s); `cores` stays as it is when not measured. The
  // hand-off is the processes' (processes_latency_s, where measured) for `executor` "processes"; the
  // threads' links spin (SimOptions::spin_s), the processes' spin is in their measured hand-off.
  void apply_machine(SimOptions& so, int hardware_threads, const std::string& executor = "threaded") const;
  std::int64_t activation_bytes(int unit, int samples) const;  // scaled from the microbatch figure
  std::int64_t total_param_bytes() const;
};

// One profile from several of the same model and config, taken at different times: every measured figure
// (each unit's op times, the cores, the hand-offs, the switch cost) is the median of theirs; the rest is
// the first one's. A profile takes seconds, and a slow spell of this VM moves one by 10-35%; the median
// of a few is what the machine usually does. Throws std::invalid_argument for none, or for profiles of
// different models, configs or unit counts.
ModelProfile median_profile(const std::vector<ModelProfile>& profiles);

// The profile cache's two files for a config, in `dir`: <key>.json, the profile a cached read returns,
// and <key>.kept.jsonl, the config's last `keep` measured profiles, one per line, oldest first. Adds
// `measured` to the kept ones (or, with `replace`, makes it the only one), writes both files (each
// atomically), and returns the median of the kept ones (median_profile; `profiles` says how many), which
// is also what <key>.json now holds. A kept line that is unreadable, or of another key, unit count or
// kind of measurement, is dropped; a cache from before the kept file starts it with its <key>.json.
// Throws InputError naming the file when one cannot be written.
ModelProfile keep_profile(const std::string& dir, const ModelProfile& measured, int keep, bool replace = false);

// A profile guessed from ModelInfo's analytic flops (unit_cost), at `seconds_per_cost` seconds per cost
// unit and sample. For the dashboard (no LibTorch) and for tests; relative times are what matter there.
ModelProfile estimate_profile(const ModelInfo& info, int batch_size, int microbatches,
                              double seconds_per_cost = 1e-9);

struct ProfileOptions {
  int warmup = 3;        // untimed iterations per unit and size
  int iterations = 11;   // timed iterations; the median is kept
  bool use_cache = true;  // read a cached profile when one matches
  bool refresh = false;   // measure again and overwrite the cache
  // Measure again even when a profile is cached, keep it beside the config's last ones, and return
  // their median (keep_profile): what the dashboard's Profile button does, as one profile moves by
  // 10-35% with this VM's slow spells.
  bool again = false;
  int keep = 5;           // measured profiles the cache keeps per config (their median is the cached one)
  std::string cache_dir;  // "" = profile_cache_dir()
  bool verbose = false;   // say on stderr where the profile came from
  // Minibatches of the in-engine measurement (after 2 untimed ones); 0 keeps the unit-by-unit times.
  int engine_minibatches = 8;
};

// $PIPESCOPE_PROFILE_DIR, else $XDG_CACHE_HOME/pipescope/profiles, else ~/.cache/pipescope/profiles.
std::string profile_cache_dir();

// The units of cfg's model for cfg's data set (loads only the data set's shape; LibTorch).
ModelInfo model_info_for(const RunConfig& cfg);

// Measures every unit of cfg's model on cfg.device with cfg.threads_per_stage intra-op threads, at
// cfg.batch_size / cfg.microbatches and cfg.batch_size samples, with random inputs and labels of the
// data set's shape; then (engine_minibatches > 0) runs the model through the engine with one unit per
// stage and takes each unit's forward, backward and update time at the run's microbatch size from
// there (medians), scaling the other size alike. Cached as JSON per (model config, device, batch size,
// microbatches, threads).
ModelProfile profile_model(const RunConfig& cfg, const ProfileOptions& opts = {});

// JSON round trip (the cache format). parse throws InputError naming `source` for malformed files.
std::string profile_to_json(const ModelProfile& p);
ModelProfile profile_from_json(const std::string& text, const std::string& source);

}  // namespace ps

// What-if simulator: plays a schedule's per-stage op lists (make_schedule) on virtual devices, with op
// durations from a ModelProfile and activation / gradient transfers over links of a given bandwidth.
// Event-driven and torch-free; its op events have the OpEvent shape so the timeline can draw them.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "engine/planner/profiler.h"
#include "engine/telemetry/events.h"
#include "engine/util/spin.h"

namespace ps {

// The spin of the threaded executor's links, in seconds.
inline constexpr double kThreadsSpin_s = std::chrono::duration<double>(kThreadsSpin).count();

struct SimOptions {
  std::string schedule = "1f1b-flush";
  int microbatches = 1;
  int minibatches = 16;           // how many minibatches to play (fill and drain included)
  std::vector<int> boundaries;    // the partition into chunks (boundaries.size() + 1 of them); replicas: below
  int chunks = 0;                 // chunks per device (v); 0: the schedule's default (1, or 2 where it places several)
  int replicas = 0;               // data-parallel only: number of whole-model replicas (0 = 1)
  int devices = 0;                // 0 = one per stage
  bool round_robin = false;       // stage k on device k % devices; else contiguous blocks of stages
  double bandwidth_bytes_per_s = 0;  // 0 = infinite; one full-duplex link per pair of adjacent stages
  // Shared processors: 0 = every device runs its op at full speed. With C > 0 at most C ops progress at
  // full speed; when n > C ops are running, each progresses at C/n of its speed (processor sharing,
  // which is how an OS time-slices n busy threads over C cores). Models S stage threads on a C-core CPU.
  double cores = 0;  // may be fractional: the share of a loaded machine's cores this process gets
  // More stage threads than hardware ones lose more than time-slicing says: an op that starts while
  // every hardware thread is busy with another op (its thread woke and preempted one) costs `switch_s`
  // more work (the switches and the caches they empty), so the loss grows with the ops per second, not
  // with the work. Needs hardware_threads; 0: none.
  double switch_s = 0;
  int hardware_threads = 0;
  // Seconds every message between stages on different devices takes on top of its bytes / bandwidth
  // (not occupying the link): the threads' hand-off on CPU stages (ModelProfile::link_latency_s).
  // A receiver busy with other ops hides it; an idle one waits for it.
  double latency_s = 0;
  // A worker that finds no message spins up to `spin_s` before it sleeps, as the threaded executor's
  // ChannelLink does when every worker has a hardware thread of its own (applied only when the workers
  // are at most hardware_threads, which counts hardware threads per worker). A message that comes while
  // its receiver spins costs no hand-off; one that comes after sleeps costs latency_s. As in
  // ChannelLink, a link spins only while its receiver's smoothed waits say so (engine/util/spin.h).
  double spin_s = 0;
};

struct SimResult {
  std::vector<OpEvent> ops;             // predicted start/end (ns since the start); stage = chunk, device = list
  // Per message between devices (where a bandwidth or a hand-off is simulated): its bytes on the link,
  // then the hand-off to its receiver (none where the receiver was still spinning for it).
  std::vector<TransferEvent> transfers;
  int stages = 0;                       // op lists: stages, or devices when they hold several chunks
  double makespan_s = 0;
  double samples_per_second = 0;
  double bubble_fraction = 0;           // 1 - mean over stages of busy / makespan (as RunSummary measures)
  std::vector<double> stage_busy_s;
  std::vector<double> device_busy_s;
  bool spins = false;                   // the workers spun before they slept (SimOptions::spin_s applied)
};

// Throws InputError for invalid options (unknown schedule, bad partition, devices < 1) and
// std::logic_error if the op lists deadlock (which names the stuck stages and ops).
SimResult simulate(const ModelProfile& profile, const SimOptions& opts);  // batch size: profile.batch_size

}  // namespace ps

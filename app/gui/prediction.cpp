#include "app/gui/prediction.h"

#include <QThread>
#include <algorithm>
#include <limits>

#include "engine/planner/simulator.h"
#include "engine/schedule/schedule.h"

namespace ps::gui {
namespace {

bool all_cpu(const RunConfig& c) {
  if (c.device.rfind("cuda", 0) == 0) return false;
  return std::none_of(c.stage_devices.begin(), c.stage_devices.end(), [](const std::string& d) { return d.rfind("cuda", 0) == 0; });
}

}  // namespace

Prediction predict_run(const ModelProfile& measured, const RunConfig& config, const std::vector<RunMark>& marks,
                       std::int64_t planned_minibatches, std::size_t max_ops) {
  Prediction out;
  ModelProfile profile = measured;
  profile.batch_size = config.batch_size;  // times at other sizes follow the profile's two measured sizes
  const ScheduleInfo& schedule = schedule_info(config.schedule);
  const int M = schedule.takes_microbatches ? std::max(1, config.microbatches) : 1;
  const std::int64_t planned = planned_minibatches > 0 ? planned_minibatches : std::numeric_limits<int>::max() / 2;

  // Segments: [step, next step) with a partition, starting at a time of the run.
  struct Segment {
    std::int64_t first_step, t0_ns;
    std::vector<int> boundaries;
  };
  std::vector<Segment> segments;
  for (const RunMark& m : marks) {
    if (m.kind != "repartition") continue;
    if (segments.empty()) segments.push_back(Segment{0, 0, m.before});  // the partition the run started with
    if (m.step < planned) segments.push_back(Segment{m.step, m.t_ns, m.after});
  }
  if (segments.empty()) segments.push_back(Segment{0, 0, config.partition});

  std::size_t budget = max_ops;
  for (std::size_t i = 0; i < segments.size() && budget > 0; ++i) {
    const Segment& seg = segments[i];
    const bool last = i + 1 == segments.size();
    const std::int64_t end = last ? planned : segments[i + 1].first_step;
    const std::int64_t t_end = last ? std::numeric_limits<std::int64_t>::max() : segments[i + 1].t0_ns;
    const int stages = schedule.replicas ? config.num_stages() : static_cast<int>(seg.boundaries.size()) + 1;
    const std::size_t ops_per_minibatch = static_cast<std::size_t>(stages) * static_cast<std::size_t>(2 * M + 1);
    // Every segment gets its share of what is left (the newest partition matters as much as the first).
    const std::size_t share = budget / (segments.size() - i);
    const std::int64_t wanted = std::min<std::int64_t>(end - seg.first_step, static_cast<std::int64_t>(share / ops_per_minibatch));
    if (wanted < end - seg.first_step && planned_minibatches > 0) out.capped = true;
    if (wanted < 1) continue;
    // Simulate a head of at most kSimulatedOps ops; tile its steady state over the rest (see the header).
    const std::int64_t head = std::min<std::int64_t>(
        wanted, std::max<std::int64_t>(8, static_cast<std::int64_t>(kSimulatedOps / ops_per_minibatch)));
    SimOptions opts;
    opts.schedule = config.schedule;
    opts.microbatches = M;
    opts.minibatches = static_cast<int>(head);
    opts.boundaries = seg.boundaries;
    opts.chunks = config.chunks;  // the boundaries cut S*v chunks when each device holds v
    if (schedule.replicas) opts.replicas = config.num_stages();
    // CPU stages are threads sharing this machine's cores (as the real run's are): as many at full speed
    // as the profile measured the model's passes to run in parallel (for this many stage threads), else
    // the core count.
    if (all_cpu(config)) {
      const int hw = std::max(1, QThread::idealThreadCount() / std::max(1, config.threads_per_stage));
      opts.cores = hw;
      profile.apply_machine(opts, hw, config.executor);  // the measured speed-up, and the hand-off of threads or processes
      out.cores = opts.cores;
      out.hand_off_s = opts.latency_s;
    }
    const SimResult sim = simulate(profile, opts);
    out.spins = out.spins || sim.spins;
    std::vector<OpEvent> ops;
    if (head == wanted) {
      ops = sim.ops;
    } else {
      // The steady state: minibatches [a, b) of the head repeat every (b - a) minibatches and `period` ns.
      const int a = static_cast<int>(head / 4), b = static_cast<int>(head * 3 / 4);
      std::int64_t start_a = -1, start_b = -1;
      for (const OpEvent& e : sim.ops)
        if (e.stage == 0 && e.kind == OpKind::Forward) {
          if (e.minibatch == a && (start_a < 0 || e.t_start_ns < start_a)) start_a = e.t_start_ns;
          if (e.minibatch == b && (start_b < 0 || e.t_start_ns < start_b)) start_b = e.t_start_ns;
        }
      const std::int64_t period = start_b - start_a;
      for (const OpEvent& e : sim.ops)
        if (e.minibatch < b) ops.push_back(e);
      for (int n = 1; period > 0; ++n) {
        bool any = false;
        for (const OpEvent& e : sim.ops) {
          if (e.minibatch < a || e.minibatch >= b) continue;
          OpEvent copy = e;
          copy.minibatch += n * (b - a);
          if (copy.minibatch >= wanted) continue;
          copy.t_start_ns += n * period;
          copy.t_end_ns += n * period;
          ops.push_back(copy);
          any = true;
        }
        if (!any) break;
      }
    }
    std::size_t kept = 0;
    for (OpEvent e : ops) {
      if (e.t_start_ns + seg.t0_ns >= t_end) continue;  // the next partition runs from there
      e.minibatch += static_cast<int>(seg.first_step);
      e.t_start_ns += seg.t0_ns;
      e.t_end_ns += seg.t0_ns;
      out.ops.push_back(e);
      ++kept;
    }
    budget -= std::min(budget, kept);
    out.minibatches += wanted;
    out.samples_per_second = sim.samples_per_second;
    out.bubble_fraction = sim.bubble_fraction;
  }
  // Per stage in time order: the timeline appends instead of inserting.
  std::stable_sort(out.ops.begin(), out.ops.end(), [](const OpEvent& x, const OpEvent& y) {
    return x.stage != y.stage ? x.stage < y.stage : x.t_start_ns < y.t_start_ns;
  });
  return out;
}

}  // namespace ps::gui

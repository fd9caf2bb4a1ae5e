// The ghost timeline: what the what-if simulator (planner/simulator.h) predicts for a run, played on a
// measured model profile with the run's schedule, partition and microbatches, as op events on the
// measured run's clock. A live repartition starts a new segment at its mark: the pipeline drains and
// refills there, so the prediction from that moment on is a fresh simulation with the new partition.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/config/run_config.h"
#include "engine/planner/profiler.h"
#include "engine/telemetry/events.h"

namespace ps::gui {

// The ghost is bounded whatever the run's length. The simulator plays a head of at most kSimulatedOps
// ops per partition (a few ms on the GUI thread); past it the head's steady state (its middle half of
// minibatches, which repeats with a fixed period once the pipeline is full) is tiled up to the
// minibatches the run plans, and at most kMaxGhostOps ops are kept (the view culls them per row like
// the measured ones, and handles 100k of those).
constexpr std::size_t kSimulatedOps = 2000;
constexpr std::size_t kMaxGhostOps = 40000;

struct Prediction {
  std::vector<OpEvent> ops;       // predicted, t in ns since the run's start
  double samples_per_second = 0;  // of the segment in effect last (the newest partition)
  double bubble_fraction = 0;
  std::int64_t minibatches = 0;   // predicted (simulated or tiled), all segments together
  bool capped = false;            // fewer minibatches than the run plans (kMaxGhostOps)
  // The machine it was simulated on (CPU stages; 0 where not applied): the cores the stages share and
  // the hand-off of a message between them (threads' or processes', ModelProfile::apply_machine).
  double cores = 0;
  double hand_off_s = 0;
  bool spins = false;  // a waiting stage thread spins first (SimResult::spins): a message that finds it so costs none
};

// Predicts `config` (schedule, microbatches, batch size, devices) from its start: with the
// partition `config.partition` until the first mark, then with each repartition mark's `after` from
// its time and step on. `profile` must be the model's (measured for a meaningful ghost). Throws
// InputError for what the simulator refuses (a partition that does not fit the profile, ...).
// `planned` is the run's length in minibatches (config.steps when set; an epoch-based run's length is
// the data set's business: <= 0 predicts as far as kMaxGhostOps allows).
Prediction predict_run(const ModelProfile& profile, const RunConfig& config, const std::vector<RunMark>& marks = {},
                       std::int64_t planned = 0, std::size_t max_ops = kMaxGhostOps);

}  // namespace ps::gui

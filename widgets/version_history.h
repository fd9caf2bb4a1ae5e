// What the weight-version view shows, accumulated from op events without widgets: per-stage
// staleness of F and B over time (separate series), divergence of F and of B where the engine measured
// it, prediction gain, the inconsistency basis(B) - basis(F) of each minibatch, a stage x time grid of
// mean divergence, the weight copies each stage holds, and the versions the minibatches in flight hold
// right now.
#pragma once
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "engine/telemetry/events.h"

namespace ps::ui {

// A time series that stays bounded: past `capacity` points every other point is dropped.
class DecimatingSeries {
 public:
  explicit DecimatingSeries(std::size_t capacity = 20000) : capacity_(capacity) {}
  void add(double t, double v);
  const std::vector<double>& t() const { return t_; }
  const std::vector<double>& v() const { return v_; }
  std::size_t size() const { return t_.size(); }
  bool empty() const { return t_.empty(); }

 private:
  std::size_t capacity_;
  std::size_t stride_ = 1, skipped_ = 0;  // after decimation only every stride-th new point is kept
  std::vector<double> t_, v_;
};

struct InFlightEntry {
  int stage = 0;
  int minibatch = 0;
  int micro = -1;
  std::int64_t live_version = 0;   // at the forward
  std::int64_t basis_version = 0;  // the weights the forward used
  std::int64_t target_version = 0;
  double forward_time_s = 0;
  std::int64_t staleness() const { return target_version - basis_version; }
};

class VersionHistory {
 public:
  explicit VersionHistory(std::size_t points_per_series = 20000, int heatmap_bins = 120);

  void clear();
  void append(const TelemetryBatch& batch);
  void add(const OpEvent& op);

  int stageCount() const { return static_cast<int>(stages_.size()); }
  const DecimatingSeries& staleness(int stage, OpKind kind) const;  // Forward or Backward
  // Divergence of the forward passes, or of the backward ones (B and I): never joined into one series,
  // which would draw a sawtooth between F's divergence and B's 0 under 'latest'.
  const DecimatingSeries& divergence(int stage, OpKind kind = OpKind::Forward) const;
  // basis(B) - basis(F) per minibatch (microbatch), at its backward: > 0 where the backward read other
  // weights than its forward ('latest'); 0 for consistent strategies.
  const DecimatingSeries& inconsistency(int stage) const;
  bool hasInconsistency() const { return has_inconsistency_; }  // some backward read other weights
  // Weight-sized copies the stage holds (live included) after its latest op, the peak, and their bytes.
  struct WeightMemory {
    int copies = 0, peak_copies = 0;
    std::int64_t bytes = 0, peak_bytes = 0;
  };
  WeightMemory weightMemory(int stage) const;
  bool hasWeightMemory() const { return has_weight_memory_; }
  const DecimatingSeries& predictionGain(int stage) const;
  bool hasDivergence() const { return has_divergence_; }
  bool hasPredictionGain() const { return has_gain_; }
  double latestTime() const { return latest_s_; }

  // Mean divergence per (stage, bin); bins cover [0, bins * binSeconds()) and widen by 2 as the run grows.
  int heatmapBins() const { return bins_; }
  double heatmapBinSeconds() const { return bin_s_; }
  double heatmapValue(int stage, int bin) const;  // NaN where nothing was measured

  // F events whose B has not arrived yet, ordered by stage, minibatch, microbatch.
  std::vector<InFlightEntry> inFlight() const;

 private:
  struct Stage {
    DecimatingSeries forward, backward, divergence, divergence_backward, gain, inconsistency;
    WeightMemory memory;
    std::vector<double> div_sum;
    std::vector<int> div_count;
  };
  Stage& stage(int k);
  void addDivergence(int stage, double t, double value, bool backward);
  void addInconsistency(const OpEvent& op, double t);  // before the backward retires its forward

  std::size_t points_;
  int bins_;
  static constexpr double kFirstBinSeconds = 0.01;  // fine for short runs; widens as the run grows
  double bin_s_ = kFirstBinSeconds;
  std::vector<Stage> stages_;
  std::map<std::tuple<int, int, int>, InFlightEntry> in_flight_;
  bool has_divergence_ = false, has_gain_ = false, has_inconsistency_ = false, has_weight_memory_ = false;
  double latest_s_ = 0;
};

}  // namespace ps::ui

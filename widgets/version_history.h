// What the weight-version view shows, accumulated from op events without widgets: per-stage
// staleness of F and B over time, divergence and prediction gain where the engine measured them, a
// stage x time grid of mean divergence, and the versions the minibatches in flight hold right now.
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
  const DecimatingSeries& divergence(int stage) const;
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
    DecimatingSeries forward, backward, divergence, gain;
    std::vector<double> div_sum;
    std::vector<int> div_count;
  };
  Stage& stage(int k);
  void addDivergence(int stage, double t, double value);

  std::size_t points_;
  int bins_;
  static constexpr double kFirstBinSeconds = 0.01;  // fine for short runs; widens as the run grows
  double bin_s_ = kFirstBinSeconds;
  std::vector<Stage> stages_;
  std::map<std::tuple<int, int, int>, InFlightEntry> in_flight_;
  bool has_divergence_ = false, has_gain_ = false;
  double latest_s_ = 0;
};

}  // namespace ps::ui

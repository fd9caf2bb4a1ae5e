#include "widgets/version_history.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ps::ui {

void DecimatingSeries::add(double t, double v) {
  if (++skipped_ < stride_) return;
  skipped_ = 0;
  if (t_.size() >= capacity_) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < t_.size(); i += 2, ++kept) {
      t_[kept] = t_[i];
      v_[kept] = v_[i];
    }
    t_.resize(kept);
    v_.resize(kept);
    stride_ *= 2;
  }
  t_.push_back(t);
  v_.push_back(v);
}

VersionHistory::VersionHistory(std::size_t points_per_series, int heatmap_bins)
    : points_(points_per_series), bins_(heatmap_bins) {}

void VersionHistory::clear() {
  stages_.clear();
  in_flight_.clear();
  has_divergence_ = has_gain_ = has_inconsistency_ = has_weight_memory_ = false;
  latest_s_ = 0;
  bin_s_ = kFirstBinSeconds;
}

VersionHistory::Stage& VersionHistory::stage(int k) {
  while (stageCount() <= k) {
    Stage s{DecimatingSeries(points_), DecimatingSeries(points_), DecimatingSeries(points_), DecimatingSeries(points_),
            DecimatingSeries(points_), DecimatingSeries(points_), WeightMemory{},
            std::vector<double>(static_cast<std::size_t>(bins_), 0.0), std::vector<int>(static_cast<std::size_t>(bins_), 0)};
    stages_.push_back(std::move(s));
  }
  return stages_[static_cast<std::size_t>(k)];
}

void VersionHistory::append(const TelemetryBatch& batch) {
  for (const OpEvent& op : batch.ops) add(op);
}

void VersionHistory::add(const OpEvent& op) {
  if (op.stage < 0) return;
  if (op.weight_copies > 0) {  // every op says what the stage holds after it, updates included
    WeightMemory& m = stage(op.stage).memory;
    m.copies = op.weight_copies;
    m.bytes = op.weight_bytes;
    m.peak_copies = std::max(m.peak_copies, op.weight_copies);
    m.peak_bytes = std::max(m.peak_bytes, op.weight_bytes);
    has_weight_memory_ = true;
  }
  if (op.kind == OpKind::Update) return;
  Stage& s = stage(op.stage);
  const double t = static_cast<double>(op.t_start_ns) * 1e-9;
  latest_s_ = std::max(latest_s_, static_cast<double>(op.t_end_ns) * 1e-9);
  const auto staleness = static_cast<double>(op.staleness());
  if (op.kind == OpKind::Forward) {
    s.forward.add(t, staleness);
    in_flight_[{op.stage, op.minibatch, op.micro}] =
        InFlightEntry{op.stage, op.minibatch, op.micro, op.live_version, op.basis_version, op.target_version, t};
  } else if (op.kind == OpKind::InputGrad) {
    s.backward.add(t, staleness);  // a split backward: its W (below) retires the microbatch
    addInconsistency(op, t);
  } else {
    if (op.kind == OpKind::Backward) addInconsistency(op, t);
    if (op.kind == OpKind::Backward) s.backward.add(t, staleness);
    if (op.micro >= 0) {
      in_flight_.erase({op.stage, op.minibatch, op.micro});
    } else {  // a backward of the whole minibatch (or nf1b's group) retires all its microbatches
      auto first = in_flight_.lower_bound({op.stage, op.minibatch, std::numeric_limits<int>::min()});
      auto last = in_flight_.upper_bound({op.stage, op.minibatch, std::numeric_limits<int>::max()});
      in_flight_.erase(first, last);
    }
  }
  if (op.divergence >= 0) addDivergence(op.stage, t, op.divergence, op.kind != OpKind::Forward);
  if (op.prediction_gain >= 0) {
    s.gain.add(t, op.prediction_gain);
    has_gain_ = true;
  }
}

void VersionHistory::addInconsistency(const OpEvent& op, double t) {
  // The forward of the same microbatch (or, for a backward of the whole group, its first microbatch).
  auto it = in_flight_.lower_bound({op.stage, op.minibatch, op.micro >= 0 ? op.micro : std::numeric_limits<int>::min()});
  if (it == in_flight_.end() || std::get<0>(it->first) != op.stage || std::get<1>(it->first) != op.minibatch) return;
  if (op.micro >= 0 && std::get<2>(it->first) != op.micro) return;
  const auto value = static_cast<double>(op.basis_version - it->second.basis_version);
  stage(op.stage).inconsistency.add(t, value);
  if (value != 0) has_inconsistency_ = true;
}

void VersionHistory::addDivergence(int k, double t, double value, bool backward) {
  Stage& s = stage(k);
  (backward ? s.divergence_backward : s.divergence).add(t, value);
  has_divergence_ = true;
  while (t >= bin_s_ * bins_) {  // widen: merge neighbouring bins of every stage
    for (Stage& st : stages_) {
      for (int b = 0; b < bins_; ++b) {
        const auto dst = static_cast<std::size_t>(b), lo = static_cast<std::size_t>(2 * b), hi = lo + 1;
        const bool in = 2 * b + 1 < bins_;
        const double sum = (2 * b < bins_ ? st.div_sum[lo] : 0) + (in ? st.div_sum[hi] : 0);
        const int count = (2 * b < bins_ ? st.div_count[lo] : 0) + (in ? st.div_count[hi] : 0);
        st.div_sum[dst] = sum;
        st.div_count[dst] = count;
      }
    }
    bin_s_ *= 2;
  }
  const auto bin = static_cast<std::size_t>(std::max(0.0, t / bin_s_));
  s.div_sum[bin] += value;
  s.div_count[bin] += 1;
}

const DecimatingSeries& VersionHistory::staleness(int k, OpKind kind) const {
  const Stage& s = stages_.at(static_cast<std::size_t>(k));
  return kind == OpKind::Backward ? s.backward : s.forward;
}
const DecimatingSeries& VersionHistory::divergence(int k, OpKind kind) const {
  const Stage& s = stages_.at(static_cast<std::size_t>(k));
  return kind == OpKind::Forward ? s.divergence : s.divergence_backward;
}
const DecimatingSeries& VersionHistory::inconsistency(int k) const { return stages_.at(static_cast<std::size_t>(k)).inconsistency; }
VersionHistory::WeightMemory VersionHistory::weightMemory(int k) const {
  return k >= 0 && k < stageCount() ? stages_[static_cast<std::size_t>(k)].memory : WeightMemory{};
}
const DecimatingSeries& VersionHistory::predictionGain(int k) const { return stages_.at(static_cast<std::size_t>(k)).gain; }

double VersionHistory::heatmapValue(int k, int bin) const {
  if (k < 0 || k >= stageCount() || bin < 0 || bin >= bins_) return std::nan("");
  const Stage& s = stages_[static_cast<std::size_t>(k)];
  const int count = s.div_count[static_cast<std::size_t>(bin)];
  return count > 0 ? s.div_sum[static_cast<std::size_t>(bin)] / count : std::nan("");
}

std::vector<InFlightEntry> VersionHistory::inFlight() const {
  std::vector<InFlightEntry> out;
  out.reserve(in_flight_.size());
  for (const auto& [key, entry] : in_flight_) out.push_back(entry);
  return out;
}

}  // namespace ps::ui

#include "engine/session/run_stats.h"

namespace ps {

void RunStats::add(const OpEvent& ev) {
  if (ev.stage < 0 || ev.stage >= static_cast<int>(per_stage_.size())) return;
  Stage& s = per_stage_[ev.stage];
  if (ev.divergence >= 0) s.divergence.add(ev.divergence);
  if (ev.prediction_gain >= 0) s.gain.add(ev.prediction_gain);
  if (ev.kind == OpKind::Forward) {
    s.staleness_f.add(double(ev.staleness()));
    s.forward_basis[{ev.minibatch, ev.micro}] = ev.basis_version;
  } else if (sends_gradient(ev.kind)) {
    s.staleness_b.add(double(ev.staleness()));
    // A group backward (micro -1) pairs with the group's first microbatch forward.
    auto it = s.forward_basis.find({ev.minibatch, ev.micro});
    if (it == s.forward_basis.end()) it = s.forward_basis.lower_bound({ev.minibatch, -1});
    if (it != s.forward_basis.end() && it->first.first == ev.minibatch) {
      s.inconsistency.add(double(ev.basis_version - it->second));
      if (ev.micro >= 0) {
        s.forward_basis.erase(it);
      } else {
        while (it != s.forward_basis.end() && it->first.first == ev.minibatch) it = s.forward_basis.erase(it);
      }
    }
  }
}

void RunStats::fill(std::vector<StageSummary>& summaries) const {
  for (std::size_t k = 0; k < summaries.size() && k < per_stage_.size(); ++k) {
    const Stage& s = per_stage_[k];
    summaries[k].staleness_forward_mean = s.staleness_f.value();
    summaries[k].staleness_backward_mean = s.staleness_b.value();
    summaries[k].inconsistency_mean = s.inconsistency.value();
    summaries[k].divergence_mean = s.divergence.value();
    summaries[k].prediction_gain_mean = s.gain.value();
  }
}

nlohmann::json RunStats::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  auto mean = [](const Mean& m) { return nlohmann::json::array({m.sum, m.n}); };
  for (const Stage& s : per_stage_) {
    nlohmann::json basis = nlohmann::json::array();
    for (const auto& [key, v] : s.forward_basis) basis.push_back({key.first, key.second, v});
    out.push_back({{"staleness_f", mean(s.staleness_f)}, {"staleness_b", mean(s.staleness_b)},
                   {"inconsistency", mean(s.inconsistency)}, {"divergence", mean(s.divergence)},
                   {"gain", mean(s.gain)}, {"forward_basis", basis}});
  }
  return out;
}

void RunStats::from_json(const nlohmann::json& j) {
  auto mean = [](const nlohmann::json& v) {
    Mean m;
    m.sum = v[0].get<double>();
    m.n = v[1].get<long long>();
    return m;
  };
  for (std::size_t k = 0; k < per_stage_.size() && k < j.size(); ++k) {
    Stage& s = per_stage_[k];
    s.staleness_f = mean(j[k]["staleness_f"]);
    s.staleness_b = mean(j[k]["staleness_b"]);
    s.inconsistency = mean(j[k]["inconsistency"]);
    s.divergence = mean(j[k]["divergence"]);
    s.gain = mean(j[k]["gain"]);
    s.forward_basis.clear();
    for (const auto& e : j[k]["forward_basis"])
      s.forward_basis[{e[0].get<int>(), e[1].get<int>()}] = e[2].get<long long>();
  }
}

}  // namespace ps

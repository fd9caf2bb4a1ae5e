// PipeMare (Yang et al., arXiv 1910.05124), STRATEGIES.md section 3, both techniques switchable:
//   learning-rate rescheduling  lr_step = lr / tau^(1 - min(step/K, 1))     (lr_rescale, warmup = K)
//   discrepancy correction      B reads live - (tau_f - tau_b)*delta,
//                               delta <- gamma*delta + (1-gamma)*(W_new - W_old) at every update,
//                               gamma = D^(1/(tau_f - tau_b))               (correction, decay = D)
// The paper's delays are per-stage constants of its pipeline model. Here they are read off the
// ledger, as everything else: tau_f (tau_b) is the largest forward (backward) staleness target - live
// seen at this stage, which equals the schedule's steady-state delay from the stage's first update on
// (every warm-up forward precedes it). The correction of one backward uses that minibatch's own
// discrepancy, live(B) - live(F): the number of updates between its forward and backward, equal to
// tau_f - tau_b in steady state and smaller during the warm-up, so W_B approximates the forward's weights.
#include <algorithm>
#include <cmath>

#include "engine/session/checkpoint.h"
#include "engine/strategy/strategy_factories.h"

namespace ps {
namespace {

class PipeMareStrategy final : public Strategy {
 public:
  PipeMareStrategy(bool rescale, bool correction, double decay, double warmup)
      : rescale_(rescale), correction_(correction), decay_(decay), warmup_(warmup) {}
  std::string name() const override { return "pipemare"; }

  WeightChoice forward(const StageView& view, int minibatch, std::int64_t target) override {
    tau_f_ = std::max(tau_f_, target - view.live_version);
    forward_live_.emplace(minibatch, view.live_version);  // the first microbatch's (all read the same)
    return {};
  }

  WeightChoice backward(const StageView& view, int minibatch, std::int64_t target) override {
    tau_b_ = std::max(tau_b_, target - view.live_version);
    const auto it = forward_live_.find(minibatch);
    const std::int64_t gap = it == forward_live_.end() ? 0 : view.live_version - it->second;
    WeightChoice choice;
    if (!correction_ || gap <= 0 || delta_.empty()) return choice;
    choice.source = WeightSource::Computed;
    // Reported as a prediction distance of -gap: the correction extrapolates gap updates back in time
    // (delta approximates one update, as lr*buf does for SpecTrain with the opposite sign).
    choice.prediction_distance = -double(gap);
    return choice;
  }

  // Every backward reads the live weights unless an update of this stage fell between it and its
  // forward, and the executor reuses the forward's graph only when none did: then both agree.
  bool backward_reuses_forward() const override { return false; }
  bool backward_reads_live() const override { return true; }

  void fill(const StageView& view, const WeightChoice& choice, std::vector<at::Tensor>& out) override {
    torch::NoGradGuard no_grad;
    const double gap = -choice.prediction_distance;
    for (std::size_t i = 0; i < out.size(); ++i) out[i].copy_((*view.live)[i]).sub_(delta_[i], gap);
  }

  double lr_scale(const StageView& view) override {
    if (!rescale_ || warmup_ <= 0) return 1.0;
    const double tau = double(std::max<std::int64_t>(tau_f_, 1));
    const double power = 1 - std::min(double(view.live_version) / warmup_, 1.0);
    return 1.0 / std::pow(tau, power);
  }

  void before_update(const StageView& view) override {
    if (!correction_ || tau_f_ - tau_b_ <= 0) return;  // gamma = D^inf = 0 and nothing to correct
    torch::NoGradGuard no_grad;
    old_.clear();
    for (const auto& p : *view.live) old_.push_back(p.detach().clone());
  }

  void after_update(const StageView& view) override {
    // Minibatches up to this update are done with their backward at this stage.
    forward_live_.erase(forward_live_.begin(), forward_live_.lower_bound(static_cast<int>(view.live_version)));
    if (old_.empty()) return;
    torch::NoGradGuard no_grad;
    const double gamma = std::pow(decay_, 1.0 / double(tau_f_ - tau_b_));
    if (delta_.empty())
      for (const auto& p : *view.live) delta_.push_back(torch::zeros_like(p));
    for (std::size_t i = 0; i < delta_.size(); ++i)
      delta_[i].mul_(gamma).add_((*view.live)[i] - old_[i], 1 - gamma);
    old_.clear();
  }

  void save_state(Checkpoint& c, const std::string& prefix) const override {
    nlohmann::json forward_live = nlohmann::json::array();
    for (const auto& [mb, v] : forward_live_) forward_live.push_back({mb, v});
    c.meta["strategies"][prefix] = {{"tau_f", tau_f_}, {"tau_b", tau_b_}, {"forward_live", forward_live}};
    c.put_list(prefix + "/delta", delta_);
  }

  void load_state(const Checkpoint& c, const std::string& prefix, const c10::Device& device) override {
    if (!c.meta.contains("strategies") || !c.meta["strategies"].contains(prefix)) return;
    const nlohmann::json& j = c.meta["strategies"][prefix];
    tau_f_ = j["tau_f"].get<std::int64_t>();
    tau_b_ = j["tau_b"].get<std::int64_t>();
    forward_live_.clear();
    for (const auto& e : j["forward_live"]) forward_live_[e[0].get<int>()] = e[1].get<std::int64_t>();
    delta_ = c.get_list(prefix + "/delta");
    for (auto& t : delta_) t = t.to(device);
  }

  std::int64_t extra_bytes() const override {
    std::int64_t n = 0;
    for (const auto& t : delta_) n += t.numel() * static_cast<std::int64_t>(t.element_size());
    return n;
  }

 private:
  bool rescale_, correction_;
  double decay_, warmup_;
  std::int64_t tau_f_ = 0, tau_b_ = 0;
  std::map<int, std::int64_t> forward_live_;  // minibatch -> live version its forward read
  std::vector<at::Tensor> delta_;             // EMA of the weight deltas (the 1 delta buffer)
  std::vector<at::Tensor> old_;               // the weights before an update, only during it
};

}  // namespace

std::unique_ptr<Strategy> make_pipemare(const StrategyParams& params) {
  return std::make_unique<PipeMareStrategy>(strategy_flag("pipemare", params, "lr_rescale"),
                                            strategy_flag("pipemare", params, "correction"),
                                            strategy_number("pipemare", params, "decay"),
                                            strategy_number("pipemare", params, "warmup"));
}

}  // namespace ps

// Strategies that read predicted weights W_hat = live - (a step along the optimizer's direction) with
// the prediction distance s (STRATEGIES.md section 3):
//   spectrain     W_hat = live - s*lr*buf                           (SpecTrain, arXiv 1809.02839)
//   nesterov      W_hat = live - lr*mu*(1-mu^s)/(1-mu)*buf          (the NWPT seed's look-ahead)
//   adam-predict  W_hat = live - s*lr*m_hat/(sqrt(v_hat)+eps)       (XPipe / PipeOptim)
// The predicted weights are a temporary copy, written per op; a backward with other weights than its
// forward recomputes the stage's forward at them (the executor's business).
#include <cmath>

#include "engine/strategy/strategy_factories.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

// s = target - live read off the ledger at the op (the default "exact" distance).
double exact_distance(const StageView& view, std::int64_t target) { return double(target - view.live_version); }

bool has_state(const std::vector<at::Tensor>& state) {
  for (const auto& t : state)
    if (t.defined()) return true;
  return false;
}

// out = live - coefficient * direction, parameter by parameter; a parameter without optimizer state
// (it took no part in any update yet) keeps its live value.
void write_step(const StageView& view, const std::vector<at::Tensor>& direction, double coefficient,
                std::vector<at::Tensor>& out) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].copy_((*view.live)[i]);
    if (i < direction.size() && direction[i].defined()) out[i].add_(direction[i], -coefficient);
  }
}

// Shared by the three: decide Live or Computed and remember s. The live weights are read as they are
// when the prediction is the identity (s = 0, or no optimizer state yet).
class PredictingStrategy : public Strategy {
 public:
  bool backward_reuses_forward() const override { return false; }

 protected:
  virtual bool has_direction(const StageView& view) const = 0;
  WeightChoice predict(const StageView& view, double s) const {
    WeightChoice choice;
    choice.prediction_distance = s;
    if (s != 0 && has_direction(view)) choice.source = WeightSource::Computed;
    return choice;
  }
};

enum class DistanceMode { Exact, Paper, V2 };

class SpecTrainStrategy final : public PredictingStrategy {
 public:
  SpecTrainStrategy(DistanceMode mode, int stage, int num_stages) : mode_(mode), k_(stage), n_(num_stages) {}
  std::string name() const override { return "spectrain"; }

  WeightChoice forward(const StageView& view, int, std::int64_t target) override {
    switch (mode_) {
      case DistanceMode::Exact: return predict(view, exact_distance(view, target));
      case DistanceMode::Paper: return predict(view, double(k_ / 2 + n_ - k_ - 1));
      case DistanceMode::V2: return predict(view, double(n_ - k_ - 1));
    }
    return {};
  }
  WeightChoice backward(const StageView& view, int, std::int64_t target) override {
    switch (mode_) {
      case DistanceMode::Exact: return predict(view, exact_distance(view, target));
      case DistanceMode::Paper: return predict(view, double(k_ / 2));
      case DistanceMode::V2: return {WeightSource::SameAsForward};
    }
    return {};
  }
  // v2 (SpecTrain's repository): the backward reuses the forward's predicted weights.
  bool backward_reuses_forward() const override { return mode_ == DistanceMode::V2; }

  void fill(const StageView& view, const WeightChoice& choice, std::vector<at::Tensor>& out) override {
    write_step(view, view.optimizer->momentum(), choice.prediction_distance * view.lr, out);
  }

 protected:
  bool has_direction(const StageView& view) const override { return has_state(view.optimizer->momentum()); }

 private:
  DistanceMode mode_;
  int k_, n_;
};

// Nesterov's look-ahead with the future gradients taken as zero: s steps of classic momentum on a
// decaying buffer move the weights by lr*(mu + mu^2 + ... + mu^s)*buf = lr*mu*(1-mu^s)/(1-mu)*buf.
// STRATEGIES.md's closed form, used as written (LibTorch's Nesterov step lr*(g + mu*buf) would give
// one more factor mu; the catalogue's caveat says so).
class NesterovStrategy final : public PredictingStrategy {
 public:
  std::string name() const override { return "nesterov"; }
  WeightChoice forward(const StageView& view, int, std::int64_t target) override {
    return predict(view, exact_distance(view, target));
  }
  WeightChoice backward(const StageView& view, int, std::int64_t target) override {
    return predict(view, exact_distance(view, target));
  }
  void fill(const StageView& view, const WeightChoice& choice, std::vector<at::Tensor>& out) override {
    write_step(view, view.optimizer->momentum(), view.lr * look_ahead(view.optimizer->config().momentum,
                                                                        choice.prediction_distance), out);
  }
  // mu*(1-mu^s)/(1-mu); its limit s at mu = 1.
  static double look_ahead(double mu, double s) { return mu == 1 ? s : mu * (1 - std::pow(mu, s)) / (1 - mu); }

 protected:
  bool has_direction(const StageView& view) const override {
    return view.optimizer->config().momentum != 0 && has_state(view.optimizer->momentum());
  }
};

// Adam's bias-corrected step direction m_hat/(sqrt(v_hat)+eps), as StageOptimizer::step computes it.
class AdamPredictStrategy final : public PredictingStrategy {
 public:
  explicit AdamPredictStrategy(bool both_passes) : both_(both_passes) {}
  std::string name() const override { return "adam-predict"; }
  WeightChoice forward(const StageView& view, int, std::int64_t target) override {
    return predict(view, exact_distance(view, target));
  }
  WeightChoice backward(const StageView& view, int, std::int64_t target) override {
    if (!both_) return {};  // PipeOptim: the backward reads the live weights
    return predict(view, exact_distance(view, target));
  }
  bool backward_reads_live() const override { return !both_; }

  void fill(const StageView& view, const WeightChoice& choice, std::vector<at::Tensor>& out) override {
    torch::NoGradGuard no_grad;
    const StageOptimizer& opt = *view.optimizer;
    const auto& m = opt.adam_m();
    const auto& v = opt.adam_v();
    const double steps = double(opt.steps());
    const double bc1 = 1 - std::pow(opt.config().beta1, steps), bc2 = 1 - std::pow(opt.config().beta2, steps);
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i].copy_((*view.live)[i]);
      if (i >= m.size() || !m[i].defined()) continue;
      const at::Tensor denom = (v[i].sqrt() / std::sqrt(bc2)).add_(opt.config().eps);
      out[i].addcdiv_(m[i], denom, -choice.prediction_distance * view.lr / bc1);
    }
  }

 protected:
  bool has_direction(const StageView& view) const override { return has_state(view.optimizer->adam_m()); }

 private:
  bool both_;
};

}  // namespace

std::unique_ptr<Strategy> make_spectrain(const StrategyParams& params, int stage, int num_stages) {
  const std::string distance = strategy_param("spectrain", params, "distance");
  DistanceMode mode = DistanceMode::Exact;
  if (distance == "paper") mode = DistanceMode::Paper;
  else if (distance == "v2") mode = DistanceMode::V2;
  else if (distance != "exact")
    throw InputError("", "strategy.params.distance", "expected exact, paper or v2, got '" + distance + "'");
  return std::make_unique<SpecTrainStrategy>(mode, stage, num_stages);
}

std::unique_ptr<Strategy> make_nesterov() { return std::make_unique<NesterovStrategy>(); }

std::unique_ptr<Strategy> make_adam_predict(const StrategyParams& params) {
  const std::string passes = strategy_param("adam-predict", params, "passes");
  if (passes != "both" && passes != "forward")
    throw InputError("", "strategy.params.passes", "expected both or forward, got '" + passes + "'");
  return std::make_unique<AdamPredictStrategy>(passes == "both");
}

}  // namespace ps

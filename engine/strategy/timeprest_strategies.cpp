// The TiMePReSt pair (arXiv 2509.23241), STRATEGIES.md section 3:
//   v-timeprest  F and B read the live weights; nothing is stashed, outdated copies are dropped at once.
//   i-timeprest  F reads the live weights, which are kept (stashed) until the backward; B reads
//                W_int = W_live + sigma(d)*(W_stash - W_live), d = live version - stash version,
//                sigma(d) = exp(-lambda*d) or 1/(1+d).
// The paper's significance function is not public; sigma is our reading of its description
// ("exponential decay with the degree of staleness"), and the catalogue says so.
#include <cmath>

#include "engine/strategy/strategy_factories.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

class VTimePReStStrategy final : public Strategy {
 public:
  std::string name() const override { return "v-timeprest"; }
  WeightChoice forward(const StageView&, int, std::int64_t) override { return {}; }
  WeightChoice backward(const StageView&, int, std::int64_t) override { return {}; }
  bool backward_reuses_forward() const override { return false; }
  // The forward's graph (and so its weights) outlives the forward only when no update intervenes.
  bool backward_reads_live() const override { return true; }
};

class ITimePReStStrategy final : public Strategy {
 public:
  ITimePReStStrategy(bool exponential, double lambda) : exponential_(exponential), lambda_(lambda) {}
  std::string name() const override { return "i-timeprest"; }

  WeightChoice forward(const StageView&, int, std::int64_t) override { return {}; }
  WeightChoice backward(const StageView& view, int, std::int64_t) override {
    WeightChoice choice;
    if (!view.forward_weights || staleness(view) <= 0) return choice;  // W_int = W_stash = W_live
    choice.source = WeightSource::Computed;
    return choice;
  }
  bool backward_reuses_forward() const override { return false; }
  bool backward_needs_forward_weights() const override { return true; }

  void fill(const StageView& view, const WeightChoice&, std::vector<at::Tensor>& out) override {
    torch::NoGradGuard no_grad;
    const double s = significance(double(staleness(view)));
    for (std::size_t i = 0; i < out.size(); ++i) {
      const at::Tensor& live = (*view.live)[i];
      out[i].copy_(live).add_((*view.forward_weights)[i] - live, s);
    }
  }

  double significance(double d) const { return exponential_ ? std::exp(-lambda_ * d) : 1.0 / (1.0 + d); }

 private:
  static std::int64_t staleness(const StageView& view) { return view.live_version - view.forward_basis; }
  bool exponential_;
  double lambda_;
};

}  // namespace

std::unique_ptr<Strategy> make_v_timeprest() { return std::make_unique<VTimePReStStrategy>(); }

std::unique_ptr<Strategy> make_i_timeprest(const StrategyParams& params) {
  const std::string significance = strategy_param("i-timeprest", params, "significance");
  if (significance != "exp" && significance != "inverse")
    throw InputError("", "strategy.params.significance", "expected exp or inverse, got '" + significance + "'");
  return std::make_unique<ITimePReStStrategy>(significance == "exp",
                                              strategy_number("i-timeprest", params, "lambda"));
}

}  // namespace ps

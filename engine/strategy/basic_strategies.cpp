// `latest` (naive asynchronous pipelining) and `stash` (PipeDream's weight stashing), the factory of
// every strategy, and the reading of strategy parameters.
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "engine/strategy/strategy.h"
#include "engine/strategy/strategy_factories.h"
#include "engine/strategy/strategy_info.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

// Forward and backward both read the live weights of the moment: a backward that runs after an
// update of its own stage reads newer weights than its forward did (the inconsistency PipeDream fixes).
class LatestStrategy final : public Strategy {
 public:
  std::string name() const override { return "latest"; }
  WeightChoice forward(const StageView&, int, std::int64_t) override { return {}; }
  WeightChoice backward(const StageView&, int, std::int64_t) override { return {}; }
  bool backward_reuses_forward() const override { return false; }
  bool backward_reads_live() const override { return true; }
};

// The forward reads the live weights and they are kept (stashed) until the same minibatch's
// backward, which reads exactly them. The executor keeps one copy per distinct version in flight.
class StashStrategy final : public Strategy {
 public:
  std::string name() const override { return "stash"; }
  WeightChoice forward(const StageView&, int, std::int64_t) override { return {}; }
  WeightChoice backward(const StageView&, int, std::int64_t) override { return {WeightSource::SameAsForward}; }
  bool backward_reuses_forward() const override { return true; }
};

}  // namespace

std::string strategy_param(const std::string& strategy, const StrategyParams& params, const std::string& key) {
  const auto given = params.find(key);
  if (given != params.end()) return given->second;
  if (const StrategyInfo* info = find_strategy(strategy))
    for (const auto& p : info->params)
      if (p.key == key) return p.default_value;
  throw std::logic_error("strategy '" + strategy + "' has no parameter '" + key + "'");
}

double strategy_number(const std::string& strategy, const StrategyParams& params, const std::string& key) {
  const std::string text = strategy_param(strategy, params, key);
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x))
    throw InputError("", "strategy.params." + key, "expected a number, got '" + text + "'");
  return x;
}

bool strategy_flag(const std::string& strategy, const StrategyParams& params, const std::string& key) {
  const std::string text = strategy_param(strategy, params, key);
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  throw InputError("", "strategy.params." + key, "expected true or false (or 1 or 0), got '" + text + "'");
}

std::unique_ptr<Strategy> make_strategy(const std::string& name, const std::map<std::string, std::string>& params,
                                        int stage, int num_stages) {
  if (name == "latest") return std::make_unique<LatestStrategy>();
  if (name == "stash") return std::make_unique<StashStrategy>();
  if (name == "spectrain") return make_spectrain(params, stage, num_stages);
  if (name == "nesterov") return make_nesterov();
  if (name == "adam-predict") return make_adam_predict(params);
  if (name == "pipemare") return make_pipemare(params);
  if (name == "v-timeprest") return make_v_timeprest();
  if (name == "i-timeprest") return make_i_timeprest(params);
  if (name == "vertical-sync") return make_vertical_sync(stage);
  if (name == "2bw") return make_two_buffer();
  throw InputError("", "strategy.name", "strategy '" + name + "' is not implemented yet");
}

}  // namespace ps

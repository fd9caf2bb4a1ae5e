// `latest` (naive asynchronous pipelining) and `stash` (PipeDream's weight stashing).
#include "engine/strategy/strategy.h"
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

std::unique_ptr<Strategy> make_strategy(const std::string& name, const std::map<std::string, std::string>& params,
                                        int stage, int num_stages) {
  if (name == "latest") return std::make_unique<LatestStrategy>();
  if (name == "stash") return std::make_unique<StashStrategy>();
  throw InputError("", "strategy.name", "strategy '" + name + "' is not implemented yet");
}

}  // namespace ps

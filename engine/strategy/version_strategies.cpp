// Strategies that read an older version of a stage's own weights, which the stage keeps for them
// (WeightSource::Version, Strategy::keeps_version); the backward reads what its forward read.
//   vertical-sync  every stage reads, for minibatch i, the version v0(i) stage 0's forward of i read
//                  (PipeDream SOSP'19 sec. 3.3); the id travels with the minibatch's activations.
//   2bw            PipeDream-2BW's double buffering: every forward of minibatch i reads version i-1,
//                  so W(t+1) = W(t) - lr*grad(W(t-1)) at every stage.
#include <algorithm>

#include "engine/session/checkpoint.h"
#include "engine/strategy/strategy_factories.h"

namespace ps {
namespace {

// Stage k's live version when minibatch i arrives is never older than v0(i) (stage 0 is the most
// stale), so the version exists; the stage keeps every version from the latest v0 it has seen on,
// because later minibatches carry that v0 or a newer one. Stage 0 reads its live weights. A stage
// learns that its oldest kept version is no longer needed only when the next minibatch arrives, so
// under 1f1b-async stage k > 0 holds up to S+1 versions between an update and the next forward
// (stage 0 holds S, as stashing).
class VerticalSyncStrategy final : public Strategy {
 public:
  explicit VerticalSyncStrategy(int stage) : stage_(stage) {}
  std::string name() const override { return "vertical-sync"; }

  WeightChoice forward(const StageView& view, int, std::int64_t) override {
    if (stage_ == 0 || view.origin_version < 0) return {};
    oldest_needed_ = std::max(oldest_needed_, view.origin_version);
    if (view.origin_version >= view.live_version) return {};  // the live weights (> never happens)
    return {WeightSource::Version, view.origin_version};
  }
  WeightChoice backward(const StageView&, int, std::int64_t) override { return {WeightSource::SameAsForward}; }
  bool backward_reuses_forward() const override { return true; }
  bool keeps_version(std::int64_t version) const override { return stage_ > 0 && version >= oldest_needed_; }
  void save_state(Checkpoint& c, const std::string& prefix) const override {
    c.meta["strategies"][prefix] = {{"oldest_needed", oldest_needed_}};
  }
  void load_state(const Checkpoint& c, const std::string& prefix, const c10::Device&) override {
    if (c.meta.contains("strategies") && c.meta["strategies"].contains(prefix))
      oldest_needed_ = c.meta["strategies"][prefix]["oldest_needed"].get<std::int64_t>();
  }

 private:
  int stage_;
  std::int64_t oldest_needed_ = 0;
};

// PipeDream-2BW updates once per m >= depth microbatches, so a stage never needs more than the live
// version and the one before. Here the schedule decides the updates (one per minibatch): with nf1b and
// microbatches >= stages - 1 every stage's delay is at most 1, and every forward of minibatch i reads
// version i-1 exactly (a stage with delay 0 reads the version before its live one, which it keeps). A
// stage whose delay is larger (1f1b-async, stages k < S-2) cannot read version i-1 yet: it reads its
// live weights, stashed as in PipeDream, and holds more than two versions.
class TwoBufferStrategy final : public Strategy {
 public:
  std::string name() const override { return "2bw"; }

  WeightChoice forward(const StageView& view, int, std::int64_t target) override {
    latest_target_ = std::max(latest_target_, target);
    const std::int64_t wanted = std::max<std::int64_t>(target - 1, 0);
    if (wanted >= view.live_version) return {};  // the live weights: version i-1, or older (delay > 1)
    return {WeightSource::Version, wanted};
  }
  WeightChoice backward(const StageView&, int, std::int64_t) override { return {WeightSource::SameAsForward}; }
  bool backward_reuses_forward() const override { return true; }
  // Later forwards are of minibatches j > latest_target_ and read version j-1 >= latest_target_ (the
  // microbatches of latest_target_ run back to back and hold theirs through their graphs).
  bool keeps_version(std::int64_t version) const override { return version >= latest_target_; }
  void save_state(Checkpoint& c, const std::string& prefix) const override {
    c.meta["strategies"][prefix] = {{"latest_target", latest_target_}};
  }
  void load_state(const Checkpoint& c, const std::string& prefix, const c10::Device&) override {
    if (c.meta.contains("strategies") && c.meta["strategies"].contains(prefix))
      latest_target_ = c.meta["strategies"][prefix]["latest_target"].get<std::int64_t>();
  }

 private:
  std::int64_t latest_target_ = 0;
};

}  // namespace

std::unique_ptr<Strategy> make_vertical_sync(int stage) { return std::make_unique<VerticalSyncStrategy>(stage); }
std::unique_ptr<Strategy> make_two_buffer() { return std::make_unique<TwoBufferStrategy>(); }

}  // namespace ps

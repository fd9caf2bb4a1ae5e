// Progress output of a run: a redrawn bar on a terminal, plain periodic lines otherwise.
#pragma once
#include <chrono>
#include <string>

#include "engine/telemetry/events.h"

namespace ps::cli {

class Progress {
 public:
  Progress();
  // Called often; draws at most a few times a second.
  void update(double fraction, const StepMetrics& last, const std::optional<EvalMetrics>& eval, bool force = false);
  void finish();

 private:
  bool tty_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace ps::cli

#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace ps::cli {

Progress::Progress() : tty_(isatty(STDOUT_FILENO) != 0), last_draw_(std::chrono::steady_clock::now()) {}

void Progress::update(double fraction, const StepMetrics& m, const std::optional<EvalMetrics>& eval, bool force) {
  const auto now = std::chrono::steady_clock::now();
  const auto period = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  if (!force && drawn_ && now - last_draw_ < period) return;
  last_draw_ = now;
  drawn_ = true;
  char test[32] = "";
  if (eval) std::snprintf(test, sizeof test, "  test acc %.4f", eval->test_accuracy);
  if (tty_) {
    const int width = 30;
    const int filled = static_cast<int>(fraction * width + 0.5);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    std::printf("\r[%s] %5.1f%%  step %lld  epoch %d  loss %.4f  acc %.3f  %.0f samples/s%s   ", bar.c_str(),
                100 * fraction, static_cast<long long>(m.step), m.epoch + 1, m.train_loss, m.train_acc,
                m.samples_per_second, test);
  } else {
    std::printf("progress %5.1f%%  step %lld  epoch %d  loss %.4f  acc %.3f  %.0f samples/s%s\n", 100 * fraction,
                static_cast<long long>(m.step), m.epoch + 1, m.train_loss, m.train_acc, m.samples_per_second, test);
  }
  std::fflush(stdout);
}

void Progress::finish() {
  if (tty_ && drawn_) std::printf("\n");
  std::fflush(stdout);
}

}  // namespace ps::cli

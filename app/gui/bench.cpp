#include "app/gui/bench.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QTabWidget>
#include <QTimer>
#include <algorithm>
#include <chrono>
#include <string>
#include <cstdio>
#include <ctime>
#include <vector>

#include "app/gui/command_line.h"
#include "app/gui/main_window.h"
#include "app/gui/session_controller.h"
#include "widgets/timeline_view.h"

namespace ps::gui {
namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::min<double>(static_cast<double>(v.size() - 1), p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

// A 1F1B-like stream on 4 stages: F and B of 1 ms with small gaps (bubbles) and short updates.
TelemetryBatch synthetic_ops(int count) {
  TelemetryBatch b;
  const int stages = 4;
  const int per_stage = count / stages;
  for (int k = 0; k < stages; ++k) {
    std::int64_t t = k * 1000000;
    for (int i = 0; i < per_stage; ++i) {
      OpEvent e;
      e.stage = k;
      e.minibatch = i / 3;
      e.kind = static_cast<OpKind>(i % 3);
      e.t_start_ns = t;
      e.t_end_ns = t + (e.kind == OpKind::Update ? 100000 : 1000000);
      e.target_version = e.minibatch;
      e.basis_version = std::max(0, e.minibatch - (stages - 1 - k));
      b.ops.push_back(e);
      t = e.t_end_ns + (i % 7 == 0 ? 300000 : 20000);
    }
  }
  return b;
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct PaintTime {
  double wall_ms, cpu_ms;  // medians; the CPU time does not count waiting for a busy machine's cores
};

PaintTime median_paint(ui::TimelineView& view, int repeats) {
  QImage image(view.size(), QImage::Format_ARGB32_Premultiplied);
  std::vector<double> wall, cpu;
  for (int i = 0; i < repeats; ++i) {
    QElapsedTimer timer;
    timer.start();
    const double cpu0 = thread_cpu_ms();
    view.render(&image);
    cpu.push_back(thread_cpu_ms() - cpu0);
    wall.push_back(static_cast<double>(timer.nsecsElapsed()) / 1e6);
  }
  return {percentile(wall, 0.5), percentile(cpu, 0.5)};
}

// "10k" for 10000 boxes, "500" for 500.
std::string size_label(int count) {
  return count >= 1000 && count % 1000 == 0 ? std::to_string(count / 1000) + "k" : std::to_string(count);
}

void bench_paint(const BenchSizes& sizes, std::FILE* out) {
  ui::TimelineView view;
  view.setAttribute(Qt::WA_DontShowOnScreen);
  view.resize(1600, 600);
  view.show();
  for (int count : sizes.boxes) {
    const std::string n = size_label(count);
    view.clear();
    view.appendBatch(synthetic_ops(count));
    view.fit();  // every box in view: the worst case
    const PaintTime all = median_paint(view, sizes.paint_repeats);
    std::fprintf(out, "timeline_%s: %.2f ms\n", n.c_str(), all.wall_ms);
    std::fprintf(out, "timeline_%s_cpu: %.2f ms\n", n.c_str(), all.cpu_ms);
    // Zoomed in to a few dozen boxes per row, each wide enough for a label.
    view.setVisibleRange(view.model().startNs(), view.model().startNs() + 40'000'000);
    std::fprintf(out, "timeline_%s_zoomed: %.2f ms\n", n.c_str(), median_paint(view, sizes.paint_repeats).wall_ms);
  }
  std::fflush(out);
}

// Event-loop latency: a 5 ms single-shot timer re-armed on every fire; lateness = actual - expected.
int bench_event_loop(const GuiOptions& options, const BenchSizes& sizes, std::FILE* out) {
  MainWindow window;
  window.setSaveSettingsOnClose(false);
  window.pages()->setCurrentIndex(MainWindow::PipelinePageIndex);  // the live timeline: the busiest page
  window.setAttribute(Qt::WA_DontShowOnScreen);
  window.show();
  window.controller()->setOpDelay(std::chrono::microseconds(0));  // full speed, whatever the saved slider says
  const QString preset = options.bench_preset.isEmpty() ? find_preset(QStringLiteral("tiny.json")) : options.bench_preset;
  if (!window.loadPreset(preset)) {
    std::fprintf(stderr, "%s\n", qPrintable(window.noticeText()));
    return 2;
  }
  std::vector<double> late_ms;
  QElapsedTimer clock;
  clock.start();
  qint64 expected_ns = 0;
  bool measuring = false;
  QTimer tick;
  tick.setSingleShot(true);
  tick.setTimerType(Qt::PreciseTimer);
  QObject::connect(&tick, &QTimer::timeout, [&] {
    const qint64 now = clock.nsecsElapsed();
    if (measuring) late_ms.push_back(std::max<qint64>(0, now - expected_ns) / 1e6);
    expected_ns = now + 5000000;
    tick.start(5);
  });
  QObject::connect(window.controller(), &SessionController::runStarted, [&] {
    measuring = true;
    tick.start(5);
    expected_ns = clock.nsecsElapsed() + 5000000;
  });
  // One tiny run gives only a few dozen samples: repeat it until a p99 means something.
  int runs = 0;
  QObject::connect(window.controller(), &SessionController::runFinished, [&] {
    measuring = false;
    ++runs;
    if (late_ms.size() < sizes.latency_samples && runs < sizes.max_runs)
      QTimer::singleShot(0, &window, [&window] { window.startRun(); });
    else
      QTimer::singleShot(100, qApp, &QApplication::quit);
  });
  QObject::connect(window.controller(), &SessionController::prepareFailed, [&](const QString& e) {
    std::fprintf(stderr, "%s\n", qPrintable(e));
    qApp->exit(2);
  });
  QTimer::singleShot(120000, qApp, [] { qApp->exit(3); });  // a run that never ends is a failure
  window.startRun();
  const int rc = qApp->exec();
  if (rc != 0) return rc;
  std::fprintf(out, "event_loop_runs: %d\n", runs);
  std::fprintf(out, "event_loop_samples: %zu\n", late_ms.size());
  std::fprintf(out, "event_loop_p50: %.2f ms\n", percentile(late_ms, 0.5));
  std::fprintf(out, "event_loop_p99: %.2f ms\n", percentile(late_ms, 0.99));
  std::fprintf(out, "event_loop_max: %.2f ms\n",
               late_ms.empty() ? 0 : *std::max_element(late_ms.begin(), late_ms.end()));
  std::fflush(out);
  return late_ms.empty() ? 1 : 0;  // no sample: nothing was measured
}

}  // namespace

int run_bench(const GuiOptions& options, const BenchSizes& sizes, std::FILE* out) {
  bench_paint(sizes, out);
  return bench_event_loop(options, sizes, out);
}

int run_bench(const GuiOptions& options) { return run_bench(options, BenchSizes{}, stdout); }

}  // namespace ps::gui

#include "app/gui/bench.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QTimer>
#include <algorithm>
#include <cstdio>
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

double median_paint_ms(ui::TimelineView& view, int repeats) {
  QImage image(view.size(), QImage::Format_ARGB32_Premultiplied);
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    QElapsedTimer timer;
    timer.start();
    view.render(&image);
    ms.push_back(static_cast<double>(timer.nsecsElapsed()) / 1e6);
  }
  return percentile(ms, 0.5);
}

void bench_paint() {
  ui::TimelineView view;
  view.setAttribute(Qt::WA_DontShowOnScreen);
  view.resize(1600, 600);
  view.show();
  for (int count : {10000, 100000}) {
    view.clear();
    view.appendBatch(synthetic_ops(count));
    view.fit();
    const double fit_ms = median_paint_ms(view, 15);
    std::printf("timeline_%dk: %.2f ms\n", count / 1000, fit_ms);
    // Zoomed to a tenth of the run: fewer boxes, each wide enough for a label.
    view.setVisibleRange(view.model().startNs(), view.model().startNs() + (view.model().endNs() - view.model().startNs()) / 200);
    std::printf("timeline_%dk_zoomed: %.2f ms\n", count / 1000, median_paint_ms(view, 15));
  }
  std::fflush(stdout);
}

// Event-loop latency: a 5 ms single-shot timer re-armed on every fire; lateness = actual - expected.
int bench_event_loop(const GuiOptions& options) {
  MainWindow window;
  window.setAttribute(Qt::WA_DontShowOnScreen);
  window.show();
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
  QObject::connect(window.controller(), &SessionController::runFinished, [&] { QTimer::singleShot(200, qApp, &QApplication::quit); });
  QObject::connect(window.controller(), &SessionController::prepareFailed, [&](const QString& e) {
    std::fprintf(stderr, "%s\n", qPrintable(e));
    qApp->exit(2);
  });
  QTimer::singleShot(120000, qApp, [] { qApp->exit(3); });  // a run that never ends is a failure
  window.startRun();
  const int rc = qApp->exec();
  if (rc != 0) return rc;
  std::printf("event_loop_samples: %zu\n", late_ms.size());
  std::printf("event_loop_p50: %.2f ms\n", percentile(late_ms, 0.5));
  std::printf("event_loop_p99: %.2f ms\n", percentile(late_ms, 0.99));
  std::printf("event_loop_max: %.2f ms\n", late_ms.empty() ? 0 : *std::max_element(late_ms.begin(), late_ms.end()));
  return 0;
}

}  // namespace

int run_bench(const GuiOptions& options) {
  bench_paint();
  return bench_event_loop(options);
}

}  // namespace ps::gui

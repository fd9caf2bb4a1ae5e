// Smoke test of `pipescope --bench` at small sizes, offscreen: it paints the timeline at each size asked
// for, follows a few runs of presets/tiny.json, and prints every figure as `NAME: X ms`. No timing is
// asserted: the figures are for people to read.
#include <QStandardPaths>
#include <QtTest>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "app/gui/bench.h"
#include "app/gui/command_line.h"
#include "widget_test_main.h"

using namespace ps::gui;

class TestBenchSmoke : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void printsEveryFigureInMilliseconds() {
    BenchSizes sizes;
    sizes.boxes = {1000, 2000};
    sizes.paint_repeats = 2;
    sizes.latency_samples = 20;
    sizes.max_runs = 2;
    std::FILE* out = std::tmpfile();
    QVERIFY(out);
    const int rc = run_bench(GuiOptions{}, sizes, out);
    std::rewind(out);
    std::map<std::string, double> ms;
    std::string text;
    char line[512];
    while (std::fgets(line, sizeof line, out)) {
      text += line;
      char name[128];
      double value = 0;
      char unit[8] = {0};
      if (std::sscanf(line, "%127[^:]: %lf %7s", name, &value, unit) == 3 && std::string(unit) == "ms")
        ms[name] = value;
    }
    std::fclose(out);
    QVERIFY2(rc == 0, text.c_str());
    for (const char* name : {"timeline_1k", "timeline_2k", "timeline_1k_zoomed", "timeline_2k_zoomed",
                             "event_loop_p50", "event_loop_p99", "event_loop_max"}) {
      QVERIFY2(ms.count(name), (std::string(name) + " missing in:\n" + text).c_str());
      QVERIFY2(std::isfinite(ms[name]) && ms[name] >= 0, name);
    }
    // A paint of a thousand boxes takes some time; zero would mean nothing was painted.
    QVERIFY2(ms["timeline_1k"] > 0, text.c_str());
    QVERIFY2(ms["event_loop_max"] >= ms["event_loop_p50"], text.c_str());
  }
};

PS_WIDGET_TEST_MAIN(TestBenchSmoke)
#include "tst_bench_smoke.moc"

// The curves page: graphs per run, smoothing applied to the plotted data, overlays.
#include <QtTest>

#include "widgets/curves_view.h"
#include "widgets/qcp.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {
std::shared_ptr<RunRecord> make_run(const QString& name, int steps) {
  auto r = std::make_shared<RunRecord>();
  r->name = name;
  for (int i = 1; i <= steps; ++i) {
    StepMetrics m;
    m.step = i;
    m.samples = 10 * i;
    m.train_loss = (i % 2 ? 2.0 : 1.0);
    m.train_acc = 0.1 * (i % 10);
    m.samples_per_second = 100;
    r->steps.push_back(m);
  }
  return r;
}

std::vector<double> values(QCPGraph* g) {
  std::vector<double> out;
  for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) out.push_back(it->value);
  return out;
}
std::vector<double> keys(QCPGraph* g) {
  std::vector<double> out;
  for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) out.push_back(it->key);
  return out;
}
}  // namespace

class TestCurvesView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void aLiveRunShowsRawAndSmoothedLoss() {
    CurvesView view;
    auto run = make_run("live", 30);
    view.setRuns({{run, Qt::blue}});
    QCOMPARE(view.graphCount(), 5);  // raw loss, smoothed loss, train acc, test acc, throughput
    std::vector<double> raw;
    for (const auto& m : run->steps) raw.push_back(m.train_loss);
    QCOMPARE(values(view.plot()->graph(0)), raw);
    view.setSmoothing(0.8);
    QCOMPARE(values(view.plot()->graph(1)), ema_smooth(raw, 0.8));
    view.setSmoothing(0.0);
    QCOMPARE(values(view.plot()->graph(1)), raw);
  }

  void theXAxisCanBeSamples() {
    CurvesView view;
    auto run = make_run("live", 5);
    view.setRuns({{run, Qt::blue}});
    view.setXAxis(XAxis::Samples);
    QCOMPARE(keys(view.plot()->graph(1)), (std::vector<double>{10, 20, 30, 40, 50}));
  }

  void growingDataIsPickedUpByRefresh() {
    CurvesView view;
    auto run = make_run("live", 5);
    view.setRuns({{run, Qt::blue}});
    StepMetrics m;
    m.step = 6;
    run->steps.push_back(m);
    view.refresh();
    QCOMPARE(view.plot()->graph(1)->dataCount(), 6);
  }

  void overlaysDrawOneSetPerRunWithoutRawLoss() {
    CurvesView view;
    view.setShowRaw(false);
    view.setRuns({{make_run("a", 5), Qt::red}, {make_run("b", 7), Qt::blue}});
    QCOMPARE(view.graphCount(), 8);
    QCOMPARE(view.plot()->legend->itemCount(), 2);  // one entry per run
  }
};

PS_WIDGET_TEST_MAIN(TestCurvesView)
#include "tst_curves_view.moc"

// The held-activation lane: how many activations a device holds over time, from hand-made op lists
// whose counts are known (SCHEDULES.md: 1F1B holds S-d on device d, ZB-H1 holds S, freed at W, not I).
#include <QtTest>

#include "fixtures.h"
#include "widgets/held_activations.h"
#include "widgets/timeline_view.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {

// One device's list, e.g. "F0 F1 B0 I2 W2", microbatches of minibatch 0 on chunk 0, each op 1 us long
// with 0.5 us between ops on the wall clock (so "after an op" is a moment of its own).
TelemetryBatch device_list(const QString& list) {
  TelemetryBatch b;
  std::int64_t t = 0;
  for (const QString& name : list.split(QLatin1Char(' '))) {
    const QChar k = name.at(0);
    const OpKind kind = k == QLatin1Char('F') ? OpKind::Forward
                        : k == QLatin1Char('B') ? OpKind::Backward
                        : k == QLatin1Char('I') ? OpKind::InputGrad
                                                : OpKind::WeightGrad;
    OpEvent e = test::make_op(0, kind, 0, t, t + 1000);
    e.micro = name.mid(1).toInt();
    b.ops.push_back(e);
    t += 1500;
  }
  return b;
}

// The held count after each op of the list (the step function sampled at each op's end).
QList<int> after_each_op(const TimelineModel& m) {
  const auto steps = held_activations(m, 0, {0, m.ops(0).size()});
  QList<int> out;
  for (std::size_t i = 0; i < m.ops(0).size(); ++i) {
    const std::int64_t t = m.span(0, i).t_end_ns;
    int held = 0;
    for (const HeldStep& s : steps)
      if (s.t <= t) held = s.held;
    out << held;
  }
  return out;
}

}  // namespace

class TestHeldActivations : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void oneFOneBHoldsAtMostSMinusDOnDeviceD() {
    TimelineModel m;
    m.append(device_list(QStringLiteral("F0 F1 B0 F2 B1 F3 B2 B3")));  // 1F1B, S=2, device 0
    QCOMPARE(after_each_op(m), (QList<int>{1, 2, 1, 2, 1, 2, 1, 0}));
  }

  void aSplitBackwardHoldsEachActivationUntilItsW() {
    TimelineModel m;
    m.append(device_list(QStringLiteral("F0 F1 I0 W0 F2 I1 W1 F3 I2 W2 I3 W3")));  // ZB-H1, S=2, device 0
    QCOMPARE(after_each_op(m), (QList<int>{1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 1, 0}));
  }

  void aGroupBackwardFreesItsMinibatchsMicrobatches() {
    TimelineModel m;
    TelemetryBatch b = device_list(QStringLiteral("F0 F1 F2"));
    OpEvent group = test::make_op(0, OpKind::Backward, 0, 4500, 5500);  // nf1b: microbatch -1
    b.ops.push_back(group);
    m.append(b);
    QCOMPARE(after_each_op(m), (QList<int>{1, 2, 3, 0}));
  }

  void theViewDrawsTheLaneWhereItsBoxesAreReadable() {
    TimelineView view;
    view.resize(900, 240);
    view.appendBatch(device_list(QStringLiteral("F0 F1 B0 F2 B1 F3 B2 B3")));
    view.setClock(TimelineClock::Slots);
    view.fit();
    const auto steps = view.heldSteps(0);
    QVERIFY(!steps.empty());
    int peak = 0;
    for (const HeldStep& s : steps) peak = std::max(peak, s.held);
    QCOMPARE(peak, 2);
    QCOMPARE(steps.back().held, 0);
    view.grab();  // paints with the lane
  }
};

PS_WIDGET_TEST_MAIN(TestHeldActivations)
#include "tst_held_activations.moc"

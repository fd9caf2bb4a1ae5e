// Smoothing and x-axis choice for the curves.
#include <QtTest>
#include <cmath>

#include "widgets/curve_math.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

class TestCurveMath : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void weightZeroReturnsTheInput() {
    const std::vector<double> v{3, 1, 4, 1, 5};
    QCOMPARE(ema_smooth(v, 0), v);
  }
  void aConstantStaysConstantFromTheFirstPoint() {  // bias correction: no ramp up from zero
    for (double w : {0.3, 0.6, 0.95})
      for (double s : ema_smooth(std::vector<double>(20, 2.5), w)) QCOMPARE(s, 2.5);
  }
  void followsTheDebiasedRecurrence() {
    const std::vector<double> v{1, 2, 4};
    const double w = 0.5;
    const auto s = ema_smooth(v, w);
    // m1 = 0.5, m2 = 0.25 + 1 = 1.25, m3 = 0.625 + 2 = 2.625; divided by 1 - w^n.
    QCOMPARE(s[0], 0.5 / 0.5);
    QCOMPARE(s[1], 1.25 / 0.75);
    QCOMPARE(s[2], 2.625 / 0.875);
  }
  void smoothingReducesNoise() {
    std::vector<double> v;
    for (int i = 0; i < 200; ++i) v.push_back(i % 2 ? 1.0 : -1.0);
    const auto s = ema_smooth(v, 0.9);
    double raw_var = 0, smooth_var = 0;
    for (std::size_t i = 100; i < v.size(); ++i) raw_var += v[i] * v[i], smooth_var += s[i] * s[i];
    QVERIFY(smooth_var < raw_var / 50);
  }
  void aNonFiniteValueDoesNotPoisonTheAverage() {
    const auto s = ema_smooth({1, std::nan(""), 1}, 0.5);
    QVERIFY(std::isnan(s[1]));
    QCOMPARE(s[2], 1.0);
  }
  void evaluationsFindTheirSampleCountThroughTheirStep() {
    std::vector<StepMetrics> steps;
    for (int i = 1; i <= 4; ++i) {
      StepMetrics m;
      m.step = i;
      m.samples = i * 32;
      m.wall_seconds = i * 0.5;
      steps.push_back(m);
    }
    EvalMetrics e;
    e.step = 3;
    e.wall_seconds = 1.7;
    QCOMPARE(x_of(e, XAxis::Samples, steps), 96.0);
    QCOMPARE(x_of(e, XAxis::Step, steps), 3.0);
    QCOMPARE(x_of(e, XAxis::WallTime, steps), 1.7);
    QCOMPARE(x_of(steps[1], XAxis::Samples), 64.0);
  }
};

PS_WIDGET_TEST_MAIN(TestCurveMath)
#include "tst_curve_math.moc"

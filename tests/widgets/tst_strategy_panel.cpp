// The schedule & strategy panel: catalogue-driven choices, parameter editors with the catalogue's
// bounds, validation with the engine's own rules, and the description text.
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QtTest>
#include <cmath>

#include "engine/schedule/schedule.h"
#include "engine/strategy/strategy_info.h"
#include "widgets/strategy_panel.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {
RunConfig base_config() {
  RunConfig c;
  c.name = "panel-test";
  c.model.name = "mlp";
  c.dataset.name = "spirals";
  c.stages = 3;
  c.schedule = "1f1b-async";
  c.strategy.name = "latest";
  return c;
}
}  // namespace

class TestStrategyPanel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void unimplementedStrategiesAreListedButDisabled() {
    StrategyPanel panel;
    auto* items = qobject_cast<QStandardItemModel*>(panel.strategyCombo()->model());
    QVERIFY(items);
    QCOMPARE(items->rowCount(), int(strategy_catalog().size()));
    for (int i = 0; i < items->rowCount(); ++i) {
      const StrategyInfo& info = strategy_catalog()[std::size_t(i)];
      QCOMPARE(items->item(i)->text(), QString::fromStdString(info.name));
      QCOMPARE(items->item(i)->isEnabled(), info.implemented);
      if (!info.implemented) QVERIFY(items->item(i)->toolTip().contains(QStringLiteral("Not implemented")));
    }
  }

  void parameterEditorsFollowTheCatalogue() {
    StrategyPanel panel;
    int numeric_seen = 0, choice_seen = 0;
    for (const StrategyInfo& info : strategy_catalog()) {
      RunConfig c = base_config();
      c.strategy.name = info.name;
      panel.setConfig(c);
      for (const StrategyParamInfo& p : info.params) {
        QWidget* editor = panel.paramEditor(QString::fromStdString(p.key));
        QVERIFY2(editor, p.key.c_str());
        if (!p.choices.empty()) {
          auto* combo = qobject_cast<QComboBox*>(editor);
          QVERIFY(combo);
          QCOMPARE(combo->count(), int(p.choices.size()));
          QCOMPARE(combo->currentText(), QString::fromStdString(p.default_value));
          ++choice_seen;
        } else if (p.numeric) {
          double lo = 0, hi = 0;
          if (auto* spin = qobject_cast<QSpinBox*>(editor)) lo = spin->minimum(), hi = spin->maximum();
          else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(editor)) lo = dspin->minimum(), hi = dspin->maximum();
          else QFAIL("numeric parameter without a spin box");
          QVERIFY(p.min_exclusive ? lo > p.min : lo >= p.min);
          if (std::isfinite(p.max)) QVERIFY(p.max_exclusive ? hi < p.max : hi <= p.max);
          ++numeric_seen;
        }
      }
      QCOMPARE(panel.descriptionText(), QString::fromStdString(describe_strategy(info)));
    }
    QVERIFY(numeric_seen > 0);
    QVERIFY(choice_seen > 0);
  }

  void givenParametersAreShownAndReturned() {
    const StrategyInfo* info = nullptr;
    for (const auto& s : strategy_catalog())
      for (const auto& p : s.params)
        if (p.choices.size() >= 2 && !info) info = &s;
    QVERIFY(info);
    const StrategyParamInfo& p = *std::find_if(info->params.begin(), info->params.end(),
                                              [](const StrategyParamInfo& q) { return q.choices.size() >= 2; });
    RunConfig c = base_config();
    c.strategy.name = info->name;
    c.strategy.params[p.key] = p.choices[1];
    StrategyPanel panel;
    panel.setConfig(c);
    QCOMPARE(qobject_cast<QComboBox*>(panel.paramEditor(QString::fromStdString(p.key)))->currentText(),
             QString::fromStdString(p.choices[1]));
    QCOMPARE(panel.config().strategy.params.at(p.key), p.choices[1]);
  }

  void microbatchesOnlyWhereTheScheduleTakesThem() {
    StrategyPanel panel;
    auto* micro = panel.findChild<QSpinBox*>(QStringLiteral("microbatches"));
    QVERIFY(micro);
    for (const ScheduleInfo& s : schedule_catalog()) {
      RunConfig c = base_config();
      c.schedule = s.name;
      panel.setConfig(c);
      QCOMPARE(micro->isEnabled(), s.takes_microbatches);
      if (!s.takes_microbatches) QCOMPARE(panel.config().microbatches, 1);
    }
  }

  void invalidCombinationsAreReportedWithTheirField() {
    const ScheduleInfo* sync = nullptr;
    for (const auto& s : schedule_catalog())
      if (s.synchronous && !s.replicas) sync = &s;
    QVERIFY(sync);
    const StrategyInfo* predicting = find_strategy("spectrain");
    QVERIFY(predicting);
    RunConfig c = base_config();
    c.schedule = sync->name;
    c.strategy.name = predicting->name;
    StrategyPanel panel;
    panel.setConfig(c);
    QVERIFY(!panel.isValid());
    QVERIFY2(panel.errorText().contains(QStringLiteral("strategy.name")), qPrintable(panel.errorText()));
    panel.strategyCombo()->setCurrentText(QStringLiteral("latest"));
    QVERIFY2(panel.isValid(), qPrintable(panel.errorText()));
  }

  void aNewStageCountIsAnnouncedAndDropsThePartition() {
    RunConfig c = base_config();
    c.partition = {1, 2};
    StrategyPanel panel;
    panel.setConfig(c);
    panel.setMaxStages(6);
    QSignalSpy stages(&panel, &StrategyPanel::stagesChanged);
    QSignalSpy edited(&panel, &StrategyPanel::configEdited);
    auto* stage_spin = panel.findChild<QSpinBox*>(QStringLiteral("stages"));
    QVERIFY(stage_spin);
    QCOMPARE(stage_spin->value(), 3);
    stage_spin->setValue(4);
    QCOMPARE(stages.count(), 1);
    QCOMPARE(stages.at(0).at(0).toInt(), 4);
    QVERIFY(edited.count() >= 1);
    QVERIFY(panel.config().partition.empty());
    QCOMPARE(panel.config().num_stages(), 4);
  }
};

PS_WIDGET_TEST_MAIN(TestStrategyPanel)
#include "tst_strategy_panel.moc"

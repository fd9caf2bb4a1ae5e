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
#include "widgets/training_fields.h"
#include <QCheckBox>
#include <QLineEdit>
#include <QPushButton>
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
  void theOptimizerAndDataFieldsRoundTripAndAreValidated() {
    StrategyPanel panel;
    RunConfig c = base_config();
    c.optimizer.name = "sgd";
    c.optimizer.lr = 0.02;
    c.optimizer.momentum = 0.8;
    c.optimizer.nesterov = true;
    c.lr_schedule.name = "step";
    c.lr_schedule.step_size = 50;
    c.lr_schedule.gamma = 0.25;
    c.batch_size = 48;
    panel.setConfig(c);
    QVERIFY2(panel.isValid(), qPrintable(panel.errorText()));
    const RunConfig back = panel.config();
    QCOMPARE(back.optimizer.lr, 0.02);
    QCOMPARE(back.optimizer.momentum, 0.8);
    QVERIFY(back.optimizer.nesterov);
    QCOMPARE(back.lr_schedule.name, std::string("step"));
    QCOMPARE(back.lr_schedule.step_size, 50);
    QCOMPARE(back.lr_schedule.gamma, 0.25);
    QCOMPARE(back.batch_size, 48);
    QCOMPARE(back.dataset.name, std::string("spirals"));

    TrainingFields* f = panel.trainingFields();
    QSignalSpy edited(&panel, &StrategyPanel::configEdited);
    f->optimizerCombo()->setCurrentText(QStringLiteral("adam"));
    QVERIFY(edited.count() >= 1);
    QVERIFY(!panel.config().optimizer.nesterov);  // Nesterov is SGD's only
    QVERIFY(f->momentumBox()->isHidden());
    QVERIFY(panel.isValid());
    f->learningRateEdit()->setText(QStringLiteral("abc"));
    QVERIFY(!panel.isValid());
    QVERIFY2(panel.errorText().startsWith(QStringLiteral("optimizer.lr")), qPrintable(panel.errorText()));
    f->learningRateEdit()->setText(QStringLiteral("1e-3"));
    QVERIFY(panel.isValid());
    QCOMPARE(panel.config().optimizer.lr, 1e-3);
    // Cross-field rules are the engine's: more microbatches than samples is refused, naming the field.
    panel.scheduleCombo()->setCurrentText(QStringLiteral("gpipe"));
    panel.findChild<QSpinBox*>(QStringLiteral("microbatches"))->setValue(8);
    f->batchSizeBox()->setValue(4);
    QVERIFY(!panel.isValid());
    QVERIFY2(panel.errorText().contains(QStringLiteral("microbatches")), qPrintable(panel.errorText()));
    f->batchSizeBox()->setValue(32);
    QVERIFY(panel.isValid());
    // A file-backed data set needs its directory: the path row appears and the error says so.
    f->datasetCombo()->setCurrentText(QStringLiteral("cifar10"));
    QVERIFY(!f->datasetPathEdit()->isHidden());
    QVERIFY(!panel.isValid());
    QVERIFY2(panel.errorText().contains(QStringLiteral("dataset.path")), qPrintable(panel.errorText()));
  }

  void theOptimizerChangeAStrategyNeedsIsNamedAndOneClick() {
    RunConfig c = base_config();
    QVERIFY(!required_optimizer_change(c));  // latest: any optimizer
    c.strategy.name = "nesterov";
    auto change = required_optimizer_change(c);
    QVERIFY(change);
    QCOMPARE(change->what, QStringLiteral("optimizer.nesterov = true"));
    QVERIFY(change->config.optimizer.nesterov);
    c.optimizer.momentum = 0;
    change = required_optimizer_change(c);
    QVERIFY(change->what.contains(QStringLiteral("optimizer.momentum = 0.9")));
    c = base_config();
    c.strategy.name = "adam-predict";
    change = required_optimizer_change(c);
    QVERIFY(change);
    QVERIFY2(change->what.contains(QStringLiteral("optimizer.name = adam (was sgd)")), qPrintable(change->what));
    QVERIFY2(change->what.contains(QStringLiteral("optimizer.lr = 0.001")), qPrintable(change->what));
    QCOMPARE(change->config.optimizer.name, std::string("adam"));
    QVERIFY(!required_optimizer_change(change->config));  // the change suffices
    c.optimizer.name = "adam";
    c.strategy.name = "spectrain";
    change = required_optimizer_change(c);
    QVERIFY(change && change->config.optimizer.name == "sgd");
    // Every implemented strategy is valid after its change (the engine's own check agrees).
    for (const StrategyInfo& s : strategy_catalog()) {
      if (!s.implemented) continue;
      RunConfig r = base_config();
      r.strategy.name = s.name;
      if (const auto fix = required_optimizer_change(r)) r = fix->config;
      try {
        validate(r);
      } catch (const std::exception& e) {
        if (QString(e.what()).contains(QStringLiteral("optimizer"))) QFAIL(e.what());
      }
    }

    StrategyPanel panel;
    panel.setConfig(base_config());
    QSignalSpy fixed(&panel, &StrategyPanel::optimizerFixed);
    panel.strategyCombo()->setCurrentText(QStringLiteral("nesterov"));
    QVERIFY(!panel.isValid());
    QVERIFY(!panel.optimizerFixButton()->isHidden());
    QVERIFY(panel.optimizerFixText().contains(QStringLiteral("optimizer.nesterov = true")));
    panel.optimizerFixButton()->click();
    QVERIFY2(panel.isValid(), qPrintable(panel.errorText()));
    QCOMPARE(fixed.count(), 1);
    QVERIFY(panel.config().optimizer.nesterov);
    QVERIFY(panel.optimizerFixButton()->isHidden());
  }

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
    const ScheduleInfo* sync = &schedule_info("1f1b-flush");
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

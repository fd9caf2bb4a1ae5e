// The run list: rows, check boxes, renaming, removal, and Qt's model tester throughout.
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

#include "widgets/run_list_model.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {
std::shared_ptr<RunRecord> make_run(const QString& name, const std::string& strategy, double accuracy) {
  auto r = std::make_shared<RunRecord>();
  r->name = name;
  r->config.strategy.name = strategy;
  r->config.stages = 3;
  r->summary.status = RunStatus::Completed;
  r->summary.test_accuracy = accuracy;
  r->summary.samples_per_second = 1234;
  return r;
}
}  // namespace

class TestRunListModel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void rowsCheckBoxesAndRemoval() {
    RunListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy checked(&model, &RunListModel::checkedRunsChanged);
    auto a = make_run("a", "stash", 0.81);
    auto b = make_run("b", "latest", 0.79);
    model.addRun(a);
    model.addRun(b, false);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.data(model.index(0, RunListModel::Strategy)).toString(), QStringLiteral("stash"));
    QCOMPARE(model.data(model.index(0, RunListModel::Stages)).toInt(), 3);
    QCOMPARE(model.data(model.index(0, RunListModel::TestAccuracy)).toString(), QStringLiteral("81.00%"));
    QCOMPARE(model.data(model.index(1, RunListModel::Status)).toString(), QString::fromStdString(to_string(RunStatus::Completed)));
    QCOMPARE(model.checkedRuns().size(), std::size_t(1));
    QVERIFY(model.flags(model.index(0, RunListModel::Name)) & Qt::ItemIsUserCheckable);

    QVERIFY(model.setData(model.index(1, RunListModel::Name), Qt::Checked, Qt::CheckStateRole));
    QCOMPARE(model.data(model.index(1, RunListModel::Name), Qt::CheckStateRole).toInt(), int(Qt::Checked));
    QCOMPARE(model.checkedRuns().size(), std::size_t(2));
    QCOMPARE(model.checkedRuns()[1], b);

    QVERIFY(model.setData(model.index(0, RunListModel::Name), QStringLiteral("renamed"), Qt::EditRole));
    QCOMPARE(a->name, QStringLiteral("renamed"));
    QVERIFY(!model.setData(model.index(0, RunListModel::Name), QStringLiteral("  "), Qt::EditRole));

    const int before = checked.count();
    a->summary.status = RunStatus::Failed;
    model.runUpdated(a.get());
    QCOMPARE(model.data(model.index(0, RunListModel::Status)).toString(), QString::fromStdString(to_string(RunStatus::Failed)));
    model.removeRun(0);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.run(0), b);
    QCOMPARE(checked.count(), before + 1);
    QCOMPARE(model.rowOf(a.get()), -1);
  }
};

PS_WIDGET_TEST_MAIN(TestRunListModel)
#include "tst_run_list_model.moc"

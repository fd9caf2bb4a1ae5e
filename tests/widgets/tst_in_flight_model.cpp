// The in-flight table model: shape, contents, and Qt's model tester across updates.
#include <QAbstractItemModelTester>
#include <QtTest>

#include "widgets/in_flight_model.h"
#include "widget_test_main.h"

using namespace ps::ui;

class TestInFlightModel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void holdsOneRowPerEntry() {
    InFlightModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setEntries({{0, 3, -1, 2, 1, 3, 0.5}, {1, 2, 1, 1, 1, 2, 0.75}}, 1.0);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.columnCount(), int(InFlightModel::ColumnCount));
    QCOMPARE(model.data(model.index(0, InFlightModel::Minibatch)).toString(), QStringLiteral("3"));
    QCOMPARE(model.data(model.index(1, InFlightModel::Minibatch)).toString(), QStringLiteral("2.1"));
    QCOMPARE(model.data(model.index(0, InFlightModel::Staleness)).toString(), QStringLiteral("2"));
    QCOMPARE(model.data(model.index(0, InFlightModel::Since)).toString(), QStringLiteral("0.50 s"));
    model.setEntries({{0, 4, -1, 3, 3, 4, 0.9}, {1, 3, -1, 2, 2, 3, 0.95}}, 1.0);  // same shape
    QCOMPARE(model.data(model.index(0, InFlightModel::Minibatch)).toString(), QStringLiteral("4"));
    model.setEntries({}, 2.0);
    QCOMPARE(model.rowCount(), 0);
    model.setEntries({{2, 9, -1, 1, 1, 1, 1.0}}, 2.0);
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(!model.data(model.index(0, InFlightModel::Stage), Qt::DecorationRole).isNull());
  }
};

PS_WIDGET_TEST_MAIN(TestInFlightModel)
#include "tst_in_flight_model.moc"

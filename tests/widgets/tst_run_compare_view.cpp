// The compare page: ticked runs overlay, the N-way configuration diff, exports.
#include <QFile>
#include <QLabel>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include "widgets/curves_view.h"
#include "widgets/qcp.h"
#include "widgets/run_compare_view.h"
#include "widgets/run_list_model.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {
std::shared_ptr<RunRecord> make_run(const QString& name, double lr) {
  auto r = std::make_shared<RunRecord>();
  r->name = name;
  r->config.optimizer.lr = lr;
  for (int i = 1; i <= 4; ++i) {
    StepMetrics m;
    m.step = i;
    r->steps.push_back(m);
  }
  return r;
}
}  // namespace

class TestRunCompareView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void tickedRunsAreOverlaidAndDiffed() {
    RunListModel runs;
    RunCompareView view(&runs);
    runs.addRun(make_run("slow", 0.01));
    QCOMPARE(view.curves()->graphCount(), 4);
    QCOMPARE(view.diffTable()->rowCount(), 0);
    runs.addRun(make_run("fast", 0.1));
    QCOMPARE(view.curves()->graphCount(), 8);
    // What the runs did first (their weights digest, always shown), then the settings that differ.
    QCOMPARE(view.diffTable()->rowCount(), 2);
    QCOMPARE(view.diffTable()->item(0, 0)->text(), QStringLiteral("weights digest"));
    QCOMPARE(view.diffTable()->item(1, 0)->text(), QStringLiteral("optimizer.lr"));
    QCOMPARE(view.diffTable()->columnCount(), 3);
    QCOMPARE(view.diffTable()->item(1, 1)->text().toDouble(), 0.01);
    QCOMPARE(view.diffTable()->item(1, 2)->text().toDouble(), 0.1);
    // The columns and the legend are labelled by what differs.
    QCOMPARE(view.diffTable()->horizontalHeaderItem(2)->text(), QStringLiteral("fast"));
    QCOMPARE(view.diffTable()->horizontalHeaderItem(2)->toolTip(), QStringLiteral("fast · lr 0.1"));
    QCOMPARE(view.checkedLabels(), (std::vector<QString>{QStringLiteral("slow · lr 0.01"), QStringLiteral("fast · lr 0.1")}));
    runs.addRun(make_run("same as slow", 0.01));
    QCOMPARE(view.diffTable()->columnCount(), 4);
    QCOMPARE(view.diffTable()->item(1, 3)->text().toDouble(), 0.01);  // equal to the first: its value
    runs.setChecked(1, false);
    runs.setChecked(2, false);
    QCOMPARE(view.curves()->graphCount(), 4);
    QCOMPARE(view.diffTable()->rowCount(), 0);
  }

  void theDiffShowsWeightsDigestsAndWhatTheRunsDid() {
    RunListModel runs;
    RunCompareView view(&runs);
    auto a = make_run("a", 0.05), b = make_run("b", 0.05);
    a->summary.weights_digest = b->summary.weights_digest = "00112233aabbccdd";
    runs.addRun(a);
    runs.addRun(b);
    const QTableWidget* diff = view.diffTable();
    QCOMPARE(diff->rowCount(), 1);
    QCOMPARE(diff->item(0, 1)->text(), QStringLiteral("00112233aabbccdd"));
    QVERIFY2(view.findChildren<QLabel*>().size() > 0, "labels");
    auto title = [&] {
      for (QLabel* l : view.findChildren<QLabel*>())
        if (l->text().startsWith(QStringLiteral("<b>Differences"))) return l->text();
      return QString();
    };
    QVERIFY2(title().contains(QStringLiteral("same weights digest")) && title().contains(QStringLiteral("no setting differs")),
             qPrintable(title()));
    // b was resumed and repartitioned, and ended with other weights: the rows say so when the run updates.
    b->summary.weights_digest = "ffffffff00000000";
    b->resumed_from = QStringLiteral("/runs/x.ckpt");
    RunMark mark;
    mark.kind = "repartition";
    mark.step = 7;
    mark.before = {2, 4};
    mark.after = {3, 4};
    b->marks.push_back(mark);
    runs.runUpdated(b.get());
    QCOMPARE(diff->rowCount(), 3);
    QCOMPARE(diff->item(1, 0)->text(), QStringLiteral("resumed from"));
    QCOMPARE(diff->item(1, 1)->text(), QStringLiteral("—"));
    QCOMPARE(diff->item(1, 2)->text(), QStringLiteral("/runs/x.ckpt"));
    QCOMPARE(diff->item(2, 0)->text(), QStringLiteral("repartitions"));
    QCOMPARE(diff->item(2, 1)->text(), QStringLiteral("none"));
    QCOMPARE(diff->item(2, 2)->text(), QStringLiteral("step 7: 2,4 → 3,4"));
    QVERIFY2(title().contains(QStringLiteral("weights digests differ")), qPrintable(title()));
    // The selected run's summary beside the table.
    view.runTable()->selectRow(1);
    QVERIFY2(view.detailsText().contains(QStringLiteral("resumed from: /runs/x.ckpt")) &&
                 view.detailsText().contains(QStringLiteral("ffffffff00000000")) &&
                 view.detailsText().contains(QStringLiteral("repartitions: ")),
             qPrintable(view.detailsText()));
  }

  void exportsWriteFiles() {
    RunListModel runs;
    RunCompareView view(&runs);
    runs.addRun(make_run("a", 0.01));
    view.resize(900, 500);
    QTemporaryDir dir;
    QString error;
    QVERIFY(view.exportCsv(dir.filePath("c.csv"), &error));
    QFile csv(dir.filePath("c.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    QCOMPARE(csv.readAll().count('\n'), 1 + 4);
    QVERIFY(view.exportPng(dir.filePath("p.png")));
    QVERIFY(QFileInfo(dir.filePath("p.png")).size() > 0);
    QVERIFY(view.exportPdf(dir.filePath("p.pdf")));
    QVERIFY(QFileInfo(dir.filePath("p.pdf")).size() > 0);
    QVERIFY(!view.exportTrace(dir.filePath("t.json"), &error));  // no trace recorded
    QVERIFY(!error.isEmpty());
  }

  void aPdfIsTitledAndTheLegendSitsOutsideTheData() {
    RunListModel runs;
    RunCompareView view(&runs);
    runs.addRun(make_run("run 1 · tiny", 0.01));
    runs.addRun(make_run("run 2 · tiny", 0.1));
    view.resize(900, 500);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QVERIFY2(view.pdfTitle().contains(QStringLiteral("run 1 · tiny")) && view.pdfTitle().contains(QStringLiteral("run 2")),
             qPrintable(view.pdfTitle()));
    QTemporaryDir dir;
    QVERIFY(view.exportPdf(dir.filePath("p.pdf")));
    QFile pdf(dir.filePath("p.pdf"));
    QVERIFY(pdf.open(QIODevice::ReadOnly));
    const QByteArray bytes = pdf.readAll();
    QByteArray utf16;  // the document title, as the PDF writer stores it (UTF-16BE)
    for (char c : QByteArray("PipeScope: run 1")) utf16 += QByteArray(1, '\0') + QByteArray(1, c);
    QVERIFY(bytes.contains("/Title"));
    QVERIFY(bytes.contains(utf16) || bytes.contains("PipeScope: run 1"));
    QCOMPARE(view.curves()->plot()->plotLayout()->rowCount(), 3);  // the heading is gone again

    QCustomPlot* plot = view.curves()->plot();
    plot->replot();
    const QRect legend = plot->legend->outerRect();
    QVERIFY(!legend.isEmpty());
    for (int i = 0; i < plot->axisRectCount(); ++i) QVERIFY(!legend.intersects(plot->axisRect(i)->rect()));
  }
};

PS_WIDGET_TEST_MAIN(TestRunCompareView)
#include "tst_run_compare_view.moc"

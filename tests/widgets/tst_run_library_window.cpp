// The run library in the whole dashboard, against the real engine and the real CLI: runs outlive the
// window, a folder written by `pipescope-cli run --out DIR` is imported (File > Open run, drag and
// drop), a dashboard run of the same preset and length has the CLI's weights digest, resumed-from and
// repartition history show in the run's summary and in Compare's diff, a deleted run is gone from disk.
#include <QApplication>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMimeData>
#include <QProcess>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QUrl>
#include <QtTest>

#include "app/gui/main_window.h"
#include "app/gui/run_library_ui.h"
#include "app/gui/session_controller.h"
#include "engine/config/run_config.h"
#include "engine/telemetry/outputs.h"
#include "widget_test_main.h"
#include "widgets/config_diff.h"
#include "widgets/partition_editor.h"
#include "widgets/run_compare_view.h"
#include "widgets/run_list_model.h"

using namespace ps;
using namespace ps::gui;

namespace {

const QString kTiny = QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json");

// Runs the real CLI; "" when it exits 0, else its output.
QString run_cli(const QStringList& args) {
  QProcess p;
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(QStringLiteral(PIPESCOPE_CLI), args);
  if (!p.waitForFinished(300000)) return QStringLiteral("pipescope-cli did not finish");
  const QString out = QString::fromLocal8Bit(p.readAll());
  return p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0 ? QString() : out;
}

int folders(const QString& dir) { return int(QDir(dir).entryList(QDir::Dirs | QDir::NoDotAndDotDot).size()); }

QStringList diff_row(const QTableWidget* diff, int row) {
  QStringList cells;
  for (int c = 0; c < diff->columnCount(); ++c) cells << (diff->item(row, c) ? diff->item(row, c)->text() : QString());
  return cells;
}

}  // namespace

class TestRunLibraryWindow : public QObject {
  Q_OBJECT
 private:
  QTemporaryDir tmp_;
  QString library_;
  int case_ = 0;

  static void open(MainWindow& window, const QStringList& overrides) {
    window.setSaveSettingsOnClose(false);
    window.resize(1280, 720);
    window.show();
    QSignalSpy prepared(window.controller(), &SessionController::prepared);
    QVERIFY2(window.loadPreset(kTiny, overrides), qPrintable(window.noticeText()));
    QTRY_VERIFY_WITH_TIMEOUT(prepared.count() >= 1, 60000);
  }
  static std::shared_ptr<ui::RunRecord> runToEnd(MainWindow& window) {
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    if (!QTest::qWaitFor([&] { return finished.count() == 1; }, 120000)) return nullptr;
    return window.controller()->currentRun();
  }

 private Q_SLOTS:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
  void init() {
    // A fresh library per test, where the window looks for it (what a restart reads).
    library_ = tmp_.filePath(QStringLiteral("library-%1").arg(++case_));
    qputenv("PIPESCOPE_RUNS_DIR", library_.toUtf8());
  }
  void cleanup() { qunsetenv("PIPESCOPE_RUNS_DIR"); }

  void theLibraryOutlivesTheWindow() {
    std::shared_ptr<ui::RunRecord> first;
    RunConfig config;
    {
      MainWindow window;
      QCOMPARE(window.runLibrary()->root(), library_);
      QCOMPARE(window.runList()->rowCount(), 0);
      open(window, {QStringLiteral("steps=4")});
      first = runToEnd(window);
      QVERIFY(first);
      QCOMPARE(first->summary.status, RunStatus::Completed);
      QVERIFY(!first->summary.weights_digest.empty());
      QCOMPARE(first->number, 1);
      config = first->config;
      QCOMPARE(folders(library_), 1);
    }
    MainWindow again;  // the next start
    QCOMPARE(again.runList()->rowCount(), 1);
    const auto back = again.runList()->run(0);
    QCOMPARE(back->summary.weights_digest, first->summary.weights_digest);
    QCOMPARE(back->summary.status, RunStatus::Completed);
    QCOMPARE(back->steps.size(), std::size_t(4));
    QCOMPARE(back->steps.back().train_loss, first->steps.back().train_loss);
    QCOMPARE(back->evals.size(), first->evals.size());
    QVERIFY(!back->partial_config);
    QVERIFY(ui::config_diff(back->config, config).empty());
    QCOMPARE(again.runList()->label(0), QStringLiteral("run 1 · tiny"));
    // The next run takes the next number, and two runs are labelled by what differs.
    open(again, {QStringLiteral("steps=4"), QStringLiteral("strategy.name=stash")});
    const auto second = runToEnd(again);
    QVERIFY(second);
    QCOMPARE(second->number, 2);
    QCOMPARE(again.runList()->rowCount(), 2);
    QCOMPARE(again.runList()->label(0), QStringLiteral("run 1 · latest"));
    QCOMPARE(again.runList()->label(1), QStringLiteral("run 2 · stash"));
    QCOMPARE(folders(library_), 2);
  }

  void aCliFolderIsImportedAndADashboardRunOfTheSamePresetHasItsDigest() {
    const QString cli = tmp_.filePath(QStringLiteral("cli-%1").arg(case_));
    const QString failed = run_cli({QStringLiteral("run"), QStringLiteral("--preset"), kTiny, QStringLiteral("--steps"),
                                    QStringLiteral("6"), QStringLiteral("--out"), cli, QStringLiteral("--quiet")});
    QVERIFY2(failed.isEmpty(), qPrintable(failed));
    for (const char* f : {"summary.json", "metrics.csv", "ledger.csv", "config.json", "run.json"})
      QVERIFY2(QFile::exists(QDir(cli).filePath(f)), f);
    const RunSummary written = read_summary_json(QDir(cli).filePath(QStringLiteral("summary.json")).toStdString());

    MainWindow window;
    open(window, {QStringLiteral("steps=6")});
    QCOMPARE(window.openRuns({cli}), 1);  // File > Open run… does this with the folder chosen
    QCOMPARE(window.pages()->currentIndex(), int(MainWindow::ComparePageIndex));
    const auto imported = window.runList()->run(0);
    QCOMPARE(imported->origin, QDir(cli).absolutePath());
    QVERIFY(!imported->partial_config);
    QCOMPARE(imported->summary.weights_digest, written.weights_digest);
    QCOMPARE(imported->steps.size(), std::size_t(6));
    QCOMPARE(imported->steps.back().step, std::int64_t(6));
    QVERIFY(!imported->evals.empty());
    QCOMPARE(imported->config.strategy.name, std::string("latest"));
    QCOMPARE(folders(library_), 1);  // kept: a copy in the library
    QVERIFY(QFile::exists(QDir(library_).filePath(imported->id + QStringLiteral("/config.json"))));
    QStringList errors;
    QCOMPARE(window.runLibrary()->importRuns({cli}, &errors), 0);  // once is enough
    QVERIFY2(errors.join(QString()).contains(QStringLiteral("already")), qPrintable(errors.join(QString())));

    const auto gui = runToEnd(window);
    QVERIFY(gui);
    QCOMPARE(gui->summary.weights_digest, written.weights_digest);  // same preset, same length: same weights
    auto* compare = window.findChild<ui::RunCompareView*>();
    const QTableWidget* diff = compare->diffTable();
    QVERIFY(diff->rowCount() >= 1);
    QCOMPARE(diff_row(diff, 0), (QStringList{QStringLiteral("weights digest"), QString::fromStdString(written.weights_digest),
                                             QString::fromStdString(written.weights_digest)}));
    QStringList settings;
    for (int r = 1; r < diff->rowCount(); ++r) settings << diff_row(diff, r).join(QLatin1Char('|'));
    QVERIFY2(settings.isEmpty(), qPrintable(settings.join(QStringLiteral("; "))));  // the same settings
    QVERIFY(window.metricsText().contains(QString::fromStdString(written.weights_digest)));
    // For a person to look at: the compare page at 1280x720, and with text at 1.5x (a projector).
    window.pages()->setCurrentIndex(MainWindow::ComparePageIndex);
    QTest::qWait(50);
    const QDir out(QCoreApplication::applicationDirPath());
    QVERIFY(window.saveScreenshot(out.filePath(QStringLiteral("compare-1280x720.png"))));
    window.setFontScale(1.5);
    QTest::qWait(50);
    QVERIFY(window.saveScreenshot(out.filePath(QStringLiteral("compare-1280x720-zoom.png"))));
    window.setFontScale(1.0);
  }

  void aDroppedSummaryIsImportedAndOtherFilesAreRefused() {
    const QString cli = tmp_.filePath(QStringLiteral("cli-%1").arg(case_));
    const QString failed = run_cli({QStringLiteral("run"), QStringLiteral("--preset"), kTiny, QStringLiteral("--steps"),
                                    QStringLiteral("3"), QStringLiteral("--strategy"), QStringLiteral("stash"),
                                    QStringLiteral("--out"), cli, QStringLiteral("--quiet")});
    QVERIFY2(failed.isEmpty(), qPrintable(failed));
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QMimeData other;
    other.setUrls({QUrl::fromLocalFile(kTiny)});  // a preset, not a run
    QDragEnterEvent refused(QPoint(20, 20), Qt::CopyAction, &other, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&window, &refused);
    QVERIFY(!refused.isAccepted());

    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(QDir(cli).filePath(QStringLiteral("summary.json")))});
    QDragEnterEvent enter(QPoint(20, 20), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&window, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(20, 20), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&window, &drop);
    QCOMPARE(window.runList()->rowCount(), 1);
    QCOMPARE(window.runList()->run(0)->config.strategy.name, std::string("stash"));
    QCOMPARE(window.runList()->run(0)->steps.size(), std::size_t(3));
    QVERIFY(window.runList()->isChecked(0));

    // Deleting it from the list deletes its folder: the next start does not bring it back.
    QCOMPARE(folders(library_), 1);
    window.runList()->removeRun(0);
    QCOMPARE(folders(library_), 0);
    MainWindow again;
    QCOMPARE(again.runList()->rowCount(), 0);
  }

  void resumedAndRepartitionedRunsSayItAndMatchTheCli() {
    // The CLI: a checkpoint after 3 steps, that checkpoint resumed to 6 steps, and a 6-step run
    // repartitioned at step 3.
    const QString ckpt = tmp_.filePath(QStringLiteral("tiny-3.ckpt"));
    QString failed = run_cli({QStringLiteral("run"), QStringLiteral("--preset"), kTiny, QStringLiteral("--steps"), QStringLiteral("3"),
                              QStringLiteral("--checkpoint"), ckpt, QStringLiteral("--quiet")});
    QVERIFY2(failed.isEmpty(), qPrintable(failed));
    // The same checkpoint resumed by the CLI to 6 steps (a straight 6-step run differs: the 3-step run
    // drained its pipeline at step 3, and a resume finishes the segment as it was planned).
    const QString straight = tmp_.filePath(QStringLiteral("straight-%1").arg(case_));
    failed = run_cli({QStringLiteral("run"), QStringLiteral("--resume"), ckpt, QStringLiteral("--steps"), QStringLiteral("6"),
                      QStringLiteral("--out"), straight, QStringLiteral("--quiet")});
    QVERIFY2(failed.isEmpty(), qPrintable(failed));
    const std::string straight_digest =
        read_summary_json(QDir(straight).filePath(QStringLiteral("summary.json")).toStdString()).weights_digest;

    MainWindow window;
    open(window, {QStringLiteral("steps=6")});
    const std::vector<int> before = window.partitionEditor()->partition();
    const std::vector<int> after{before[0] > 1 ? before[0] - 1 : before[0] + 1};
    const QString moved = tmp_.filePath(QStringLiteral("moved-%1").arg(case_));
    failed = run_cli({QStringLiteral("run"), QStringLiteral("--preset"), kTiny, QStringLiteral("--steps"), QStringLiteral("6"),
                      QStringLiteral("--repartition"), QStringLiteral("3:%1").arg(after[0]), QStringLiteral("--out"), moved,
                      QStringLiteral("--quiet")});
    QVERIFY2(failed.isEmpty(), qPrintable(failed));

    // Resumed in the dashboard to the same length: the summary says from where, the weights match.
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    QVERIFY(window.resumeFromCheckpoint(ckpt, std::nullopt, 6));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    const auto resumed = window.controller()->currentRun();
    QCOMPARE(resumed->resumed_from, ckpt);
    QCOMPARE(resumed->summary.weights_digest, straight_digest);
    QVERIFY2(window.metricsText().contains(QStringLiteral("resumed from tiny-3.ckpt")), qPrintable(window.metricsText()));

    // Repartitioned live at step 3 in the dashboard: the CLI's history and weights.
    open(window, {QStringLiteral("steps=6")});
    // Started paused, so the request is in before any minibatch runs (a state, not a race with the run).
    QSignalSpy ended(window.controller(), &SessionController::runFinished);
    connect(window.controller(), &SessionController::runStarted, &window, [&] {
      QVERIFY2(window.requestRepartition(after, 3), qPrintable(window.noticeText()));
      window.controller()->resume();
    }, Qt::SingleShotConnection);
    RunConfig cfg = load_preset(kTiny.toStdString());
    cfg.steps = 6;
    window.controller()->start(cfg, /*paused=*/true);
    QVERIFY(QTest::qWaitFor([&] { return ended.count() == 1; }, 120000));
    const auto gui = window.controller()->currentRun();
    QVERIFY(gui);
    QCOMPARE(gui->marks.size(), std::size_t(1));
    QVERIFY2(window.metricsText().contains(QStringLiteral("1 repartition")), qPrintable(window.metricsText()));
    QCOMPARE(window.openRuns({moved}), 1);
    const auto cli = window.runList()->run(window.runList()->rowCount() - 1);
    QCOMPARE(cli->marks.size(), std::size_t(1));
    QCOMPARE(QString::fromStdString(ui::repartition_history(*cli)), QString::fromStdString(ui::repartition_history(*gui)));
    QCOMPARE(cli->summary.weights_digest, gui->summary.weights_digest);
    QVERIFY(ui::run_config_diff(*cli, *gui).empty());

    // Compare: tick the resumed, the repartitioned and the CLI run; the diff shows what they did.
    auto* list = window.runList();
    for (int row = 0; row < list->rowCount(); ++row) list->setChecked(row, true);
    const QTableWidget* diff = window.findChild<ui::RunCompareView*>()->diffTable();
    QStringList fields;
    for (int r = 0; r < diff->rowCount(); ++r) fields << diff->item(r, 0)->text();
    QVERIFY2(fields.mid(0, 3) == (QStringList{QStringLiteral("weights digest"), QStringLiteral("resumed from"),
                                              QStringLiteral("repartitions")}),
             qPrintable(fields.join(QStringLiteral(", "))));
    QCOMPARE(diff->item(1, 1)->text(), ckpt);
    QCOMPARE(diff->item(2, 2)->text(), QString::fromStdString(ui::repartition_history(*gui)));
    QVERIFY(diff->item(2, 2)->text().startsWith(QStringLiteral("step 3: ")));
    QCOMPARE(diff->item(2, 3)->text(), diff->item(2, 2)->text());
    // The run's summary on the compare page, for the selected run.
    auto* compare = window.findChild<ui::RunCompareView*>();
    compare->runTable()->selectRow(0);
    QVERIFY2(compare->detailsText().contains(QStringLiteral("resumed from: ") + ckpt), qPrintable(compare->detailsText()));
    QVERIFY(compare->detailsText().contains(QString::fromStdString(straight_digest)));

    // All of it survives a restart.
    MainWindow again;
    QCOMPARE(again.runList()->rowCount(), 3);
    QCOMPARE(again.runList()->run(0)->resumed_from, ckpt);
    QCOMPARE(again.runList()->run(1)->marks.size(), std::size_t(1));
    QCOMPARE(again.runList()->run(2)->origin, QDir(moved).absolutePath());
  }
};

PS_WIDGET_TEST_MAIN(TestRunLibraryWindow)
#include "tst_run_library_window.moc"

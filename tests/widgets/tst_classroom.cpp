// The dashboard in a lecture hall: the projector layout, a --zoom that stays in its session, and the
// first S from rest that starts the run paused and runs exactly one op, shown in op slots.
#include <QAction>
#include <QDockWidget>
#include <QSettings>
#include <QSignalSpy>
#include <QtTest>

#include "app/gui/main_window.h"
#include "app/gui/pipeline_page.h"
#include "app/gui/session_controller.h"
#include "widgets/timeline_view.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::gui;

namespace {

const QString kTiny = QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json");

QAction* action(QWidget& window, const QString& text) {
  for (QAction* a : window.findChildren<QAction*>())
    if (a->text() == text) return a;
  return nullptr;
}

int visible_docks(QMainWindow& window) {
  int n = 0;
  for (QDockWidget* d : window.findChildren<QDockWidget*>()) n += d->isVisible() ? 1 : 0;
  return n;
}

}  // namespace

class TestClassroom : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("PipeScopeTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_classroom"));
  }

  void theProjectorLayoutHidesTheDocksAndGrowsTheRows() {
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.resize(1280, 720);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.loadPreset(kTiny));
    QCOMPARE(visible_docks(window), 2);
    auto* timeline = window.pipelinePage()->timeline();
    const int row_before = timeline->stageRowRect(0).height();
    QAction* projector = action(window, QStringLiteral("&Projector layout"));
    QVERIFY(projector);
    QCOMPARE(projector->shortcut(), QKeySequence(Qt::Key_F11));
    projector->trigger();
    QVERIFY(window.projectorLayout());
    QTRY_COMPARE(visible_docks(window), 0);
    QTRY_VERIFY(timeline->stageRowRect(0).height() > row_before);
    projector->trigger();  // off: the docks come back as they were
    QVERIFY(!window.projectorLayout());
    QTRY_COMPARE(visible_docks(window), 2);
  }

  void aZoomFromTheCommandLineIsNotSaved() {
    {
      QSettings settings;
      settings.setValue(QStringLiteral("view/font_scale"), 1.0);
    }
    {
      MainWindow window;
      window.show();
      window.setFontScale(1.5, /*remember=*/false);  // main.cpp does this for --zoom 1.5
      QCOMPARE(window.fontScale(), 1.5);
      window.close();  // saves the settings
    }
    QCOMPARE(QSettings().value(QStringLiteral("view/font_scale")).toDouble(), 1.0);
    {
      MainWindow window;
      window.show();
      QCOMPARE(window.fontScale(), 1.0);
      window.setFontScale(1.3);  // View > Larger text: the user's choice is kept
      window.close();
    }
    QCOMPARE(QSettings().value(QStringLiteral("view/font_scale")).toDouble(), 1.3);
    MainWindow reset;
    reset.show();
    reset.setFontScale(1.0);
    reset.close();
  }

  void theFirstStepFromRestRunsOneOpInOpSlots() {
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.resize(1280, 720);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.loadPreset(kTiny));
    QSignalSpy prepared(window.controller(), &SessionController::prepared);
    QTRY_COMPARE_WITH_TIMEOUT(prepared.count(), 1, 60000);
    auto* timeline = window.pipelinePage()->timeline();
    QCOMPARE(timeline->clock(), ui::TimelineClock::Wall);
    QAction* step = action(window, QStringLiteral("Step one op"));
    QVERIFY(step);
    step->trigger();
    QCOMPARE(timeline->clock(), ui::TimelineClock::Slots);
    QTRY_COMPARE_WITH_TIMEOUT(timeline->model().opCount(), std::size_t(1), 60000);
    QCOMPARE(window.controller()->status(), RunStatus::Paused);
    QVERIFY2(timeline->latestText().startsWith(QStringLiteral("just ran: F0")), qPrintable(timeline->latestText()));
    step->trigger();  // the next S runs the next op
    QTRY_COMPARE_WITH_TIMEOUT(timeline->model().opCount(), std::size_t(2), 60000);
    window.controller()->stop();
  }
};

PS_WIDGET_TEST_MAIN(TestClassroom)
#include "tst_classroom.moc"

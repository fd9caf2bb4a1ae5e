// The dashboard's command line: headless hooks parse, bad values are refused with the option's name.
#include <QtTest>

#include "app/gui/command_line.h"
#include "widget_test_main.h"

using namespace ps::gui;

class TestCommandLine : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void headlessHooksParse() {
    QString error;
    const auto o = parse_gui_options({"pipescope", "--preset", "p.json", "--autostart", "--screenshot", "x.png",
                                      "--screenshot-after", "2.5", "--quit-after", "4", "--page", "curves",
                                      "--theme", "dark", "--zoom", "1.5"},
                                     &error);
    QVERIFY2(o.has_value(), qPrintable(error));
    QCOMPARE(o->preset, QStringLiteral("p.json"));
    QVERIFY(o->autostart);
    QCOMPARE(o->screenshot, QStringLiteral("x.png"));
    QCOMPARE(o->screenshot_after, 2.5);
    QCOMPARE(o->quit_after, 4.0);
    QCOMPARE(o->page, 2);
    QCOMPARE(o->theme, QStringLiteral("dark"));
    QCOMPARE(o->zoom, 1.5);
    QVERIFY(!o->bench);
  }

  void resumeAndOverridesParse() {
    QString error;
    const auto o = parse_gui_options({"pipescope", "--resume", "run.ckpt", "--set", "optimizer.lr=0.005", "--set", "steps=80"},
                                     &error);
    QVERIFY2(o.has_value(), qPrintable(error));
    QCOMPARE(o->resume, QStringLiteral("run.ckpt"));
    QCOMPARE(o->overrides, (QStringList{"optimizer.lr=0.005", "steps=80"}));
    QVERIFY(o->preset.isEmpty());
  }

  void repartitionAndProfileParse() {
    QString error;
    const auto o = parse_gui_options({"pipescope", "--autostart", "--profile", "--repartition", "12:2,5,7"}, &error);
    QVERIFY2(o.has_value(), qPrintable(error));
    QVERIFY(o->profile);
    QVERIFY(o->repartition.has_value());
    QCOMPARE(o->repartition->at_step, std::int64_t(12));
    QCOMPARE(o->repartition->boundaries, (std::vector<int>{2, 5, 7}));
    const auto plain = parse_gui_options({"pipescope"}, &error);
    QVERIFY(!plain->repartition.has_value());
    QVERIFY(!plain->profile);
  }

  void badRepartitionsAreRefusedWithTheOption() {
    for (const char* bad : {"12", "0:2,5", "x:2", "12:", "12:5,2", "12:2,,5", "12:0,3"}) {
      QString error;
      QVERIFY2(!parse_gui_options({"pipescope", "--repartition", bad}, &error).has_value(), bad);
      QVERIFY2(error.contains(QStringLiteral("--repartition")) && error.contains(QString::fromLatin1(bad)), qPrintable(error));
    }
  }

  void defaultsStayOpenWithoutScreenshots() {
    QString error;
    const auto o = parse_gui_options({"pipescope"}, &error);
    QVERIFY(o.has_value());
    QVERIFY(o->preset.isEmpty());
    QCOMPARE(o->quit_after, -1.0);
    QCOMPARE(o->page, -1);
  }

  void badValuesNameTheirOption_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("option");
    QTest::newRow("seconds") << QStringList{"pipescope", "--quit-after", "soon"} << "quit-after";
    QTest::newRow("negative") << QStringList{"pipescope", "--screenshot-after", "-1"} << "screenshot-after";
    QTest::newRow("page") << QStringList{"pipescope", "--page", "nope"} << "page";
    QTest::newRow("theme") << QStringList{"pipescope", "--theme", "blue"} << "theme";
    QTest::newRow("zoom") << QStringList{"pipescope", "--zoom", "9"} << "zoom";
    QTest::newRow("unknown") << QStringList{"pipescope", "--frobnicate"} << "frobnicate";
    QTest::newRow("set") << QStringList{"pipescope", "--set", "optimizer.lr"} << "set";
    QTest::newRow("preset and resume") << QStringList{"pipescope", "--preset", "p.json", "--resume", "r.ckpt"} << "resume";
    QTest::newRow("positional") << QStringList{"pipescope", "preset.json"} << "preset.json";
  }
  void badValuesNameTheirOption() {
    QFETCH(QStringList, args);
    QFETCH(QString, option);
    QString error;
    QVERIFY(!parse_gui_options(args, &error).has_value());
    QVERIFY2(error.contains(option), qPrintable(error));
  }

  void findsTheShippedPresets() {
    const QString path = find_preset(QStringLiteral("tiny.json"));
    QVERIFY2(QFileInfo::exists(path), qPrintable(path));
  }
};

PS_WIDGET_TEST_MAIN(TestCommandLine)
#include "tst_command_line.moc"

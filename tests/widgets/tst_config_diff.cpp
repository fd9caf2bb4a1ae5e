// The compare page's configuration diff: exactly the fields that differ.
#include <QtTest>

#include "widgets/config_diff.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

class TestConfigDiff : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void identicalConfigsHaveNoDifferences() {
    RunConfig a;
    QVERIFY(config_diff(a, a).empty());
  }
  void theSourceFileIsNotADifference() {
    RunConfig a, b;
    a.source = "presets/a.json";
    b.source = "presets/b.json";
    QVERIFY(config_diff(a, b).empty());
  }
  void listsExactlyTheChangedFields() {
    RunConfig a, b;
    b.optimizer.lr = a.optimizer.lr * 2;
    b.strategy.name = "stash";
    a.strategy.name = "latest";
    const auto diff = config_diff(a, b);
    QCOMPARE(diff.size(), std::size_t(2));
    std::map<std::string, ConfigDifference> by_path;
    for (const auto& d : diff) by_path[d.path] = d;
    QVERIFY(by_path.count("/optimizer/lr"));
    QVERIFY(by_path.count("/strategy/name"));
    QCOMPARE(by_path["/strategy/name"].a, std::string("latest"));
    QCOMPARE(by_path["/strategy/name"].b, std::string("stash"));
    QCOMPARE(std::stod(by_path["/optimizer/lr"].b), b.optimizer.lr);
  }
  void aFieldPresentOnOneSideOnly() {
    RunConfig a, b;
    b.strategy.name = "spectrain";
    b.strategy.params["distance"] = "paper";
    const auto diff = config_diff(a, b);
    bool found = false;
    for (const auto& d : diff)
      if (d.path == "/strategy/params/distance") {
        found = true;
        QCOMPARE(d.b, std::string("paper"));
        QCOMPARE(d.a, std::string("—"));
      }
    QVERIFY(found);
    // Exactly two rows: the name and the parameter; no "strategy.params: null vs —" for the empty object.
    QCOMPARE(diff.size(), std::size_t(2));
    for (const auto& d : diff) QVERIFY2(d.path != "/strategy/params", d.a.c_str());
  }
};

PS_WIDGET_TEST_MAIN(TestConfigDiff)
#include "tst_config_diff.moc"

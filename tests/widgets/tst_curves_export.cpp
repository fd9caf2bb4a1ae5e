// CSV export of curves and the copy of a run's trace.
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <map>
#include <sstream>

#include "widgets/curves_export.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {
RunRecord make_run(const QString& name, int steps) {
  RunRecord r;
  r.name = name;
  for (int i = 1; i <= steps; ++i) {
    StepMetrics m;
    m.step = i;
    m.samples = 32 * i;
    m.train_loss = 1.0 / i;
    r.steps.push_back(m);
  }
  EvalMetrics e;
  e.step = steps;
  e.test_accuracy = 0.875;
  e.test_loss = 0.5;
  r.evals.push_back(e);
  return r;
}

std::vector<std::vector<std::string>> parse(const std::string& csv) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) fields.push_back(field), field.clear();
      else field += c;
    }
    fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}
}  // namespace

class TestCurvesExport : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void oneRowPerStepWithTestFiguresWhereEvaluated() {
    const RunRecord a = make_run("a", 3), b = make_run("b, with a comma", 2);
    const auto rows = parse(curves_csv({&a, &b}));
    QCOMPARE(rows.size(), std::size_t(1 + 3 + 2));
    const auto& header = rows[0];
    QCOMPARE(header.front(), std::string("run"));
    QCOMPARE(header.back(), std::string("test_accuracy"));
    for (const auto& row : rows) QCOMPARE(row.size(), header.size());
    QCOMPARE(rows[1][0], std::string("a"));
    QCOMPARE(rows[1].back(), std::string(""));           // step 1: no evaluation
    QCOMPARE(std::stod(rows[3].back()), 0.875);          // step 3: evaluated
    QCOMPARE(rows[4][0], std::string("b, with a comma"));  // quoted, not split
    const auto loss = std::find(header.begin(), header.end(), "train_loss") - header.begin();
    QCOMPARE(std::stod(rows[2][std::size_t(loss)]), 0.5);  // train_loss of step 2
  }

  void everyRowCarriesItsRunsSettingsSoPandasCanGroupByThem() {
    RunRecord a = make_run("a", 3), b = make_run("b", 2), c = make_run("c", 4);
    a.config.strategy.name = "stash";
    b.config.strategy.name = "latest";
    c.config.strategy.name = "stash";
    c.config.seed = 7;
    c.config.partition = {2, 5};
    c.config.schedule = "gpipe";
    a.summary.weights_digest = "00112233aabbccdd";
    const auto rows = parse(curves_csv({&a, &b, &c}, {QStringLiteral("run 1 · stash"), QString(), QStringLiteral("run 3")}));
    const auto& header = rows[0];
    auto col = [&](const char* name) {
      const auto it = std::find(header.begin(), header.end(), name);
      if (it == header.end()) qFatal("no column %s", name);
      return std::size_t(it - header.begin());
    };
    for (const std::string& name : curves_csv_config_columns()) QVERIFY2(col(name.c_str()) > 0, name.c_str());
    for (const char* metric : {"step", "train_loss", "samples_per_second", "test_accuracy"}) QVERIFY(col(metric) > col("weights_digest"));
    // groupby("strategy").size(): one row per step per run
    std::map<std::string, int> per_strategy;
    for (std::size_t i = 1; i < rows.size(); ++i) {
      QCOMPARE(rows[i].size(), header.size());
      ++per_strategy[rows[i][col("strategy")]];
    }
    QCOMPARE(per_strategy["stash"], 3 + 4);
    QCOMPARE(per_strategy["latest"], 2);
    QCOMPARE(rows[1][0], std::string("run 1 · stash"));  // the label given
    QCOMPARE(rows[4][0], std::string("b"));              // none given: the name
    QCOMPARE(rows[1][col("weights_digest")], std::string("00112233aabbccdd"));
    QCOMPARE(rows[6][col("seed")], std::string("7"));
    QCOMPARE(rows[6][col("schedule")], std::string("gpipe"));
    QCOMPARE(rows[6][col("stages")], std::string("3"));
    QCOMPARE(rows[6][col("partition")], std::string("2 5"));
    QCOMPARE(rows[1][col("seed")], std::string("1"));
  }

  void exportFileNamesSayWhichRunAndWhat() {
    RunRecord r;
    r.name = QStringLiteral("run 3 · tiny");
    r.config.name = "tiny";
    r.config.schedule = "1f1b-async";
    r.config.strategy.name = "stash";
    QCOMPARE(export_file_name(&r, r.config, QStringLiteral("curves"), QStringLiteral(".csv")),
             QStringLiteral("tiny-run-3-1f1b-async-stash-curves.csv"));
    RunConfig odd;
    odd.name = "my preset/with: odd chars";
    QCOMPARE(export_file_name(nullptr, odd, QStringLiteral("plot"), QStringLiteral(".pdf")),
             QStringLiteral("my-preset-with-odd-chars-1f1b-async-latest-plot.pdf"));
  }

  void traceIsCopiedOrTheErrorSaysWhy() {
    QTemporaryDir dir;
    RunRecord r = make_run("traced", 1);
    QString error;
    QVERIFY(!copy_trace(r, dir.filePath("out.json"), &error));
    QVERIFY(error.contains(QStringLiteral("traced")));
    r.trace_path = dir.filePath("trace.json");
    QVERIFY(write_text_file(r.trace_path, "{\"traceEvents\":[]}", &error));
    QVERIFY(copy_trace(r, dir.filePath("out.json"), &error));
    QFile out(dir.filePath("out.json"));
    QVERIFY(out.open(QIODevice::ReadOnly));
    QCOMPARE(out.readAll(), QByteArray("{\"traceEvents\":[]}"));
    QVERIFY(!write_text_file(dir.filePath("no/such/dir/x.csv"), "x", &error));
    QVERIFY(error.contains(QStringLiteral("no/such/dir")));
  }
};

PS_WIDGET_TEST_MAIN(TestCurvesExport)
#include "tst_curves_export.moc"

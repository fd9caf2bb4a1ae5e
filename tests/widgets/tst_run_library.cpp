// The run library on disk (widgets/run_library.h) and the labels by difference (widgets/run_labels.h):
// a run folder reads back as written, the library keeps, numbers, reopens and deletes runs, a CLI
// folder without config.json compares on what summary.json records, bad files name the file and field.
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include "engine/telemetry/outputs.h"
#include "widget_test_main.h"
#include "widgets/config_diff.h"
#include "widgets/run_labels.h"
#include "widgets/run_library.h"
#include "widgets/run_list_model.h"

using namespace ps;
using namespace ps::ui;

namespace {

std::shared_ptr<RunRecord> make_run(const std::string& strategy, int steps) {
  auto r = std::make_shared<RunRecord>();
  r->config.name = "tiny";
  r->config.model.name = "mlp";
  r->config.dataset.name = "spirals";
  r->config.strategy.name = strategy;
  r->config.partition = {2};
  r->config.stages = 2;
  r->config.steps = steps;
  r->summary.status = RunStatus::Completed;
  r->summary.model = "mlp";
  r->summary.dataset = "spirals";
  r->summary.strategy = strategy;
  r->summary.schedule = r->config.schedule;
  r->summary.stages = 2;
  r->summary.steps = steps;
  r->summary.samples = 64 * steps;
  r->summary.final_train_loss = 0.25;
  r->summary.test_accuracy = 0.75;
  r->summary.samples_per_second = 1234.4;
  r->summary.weights_digest = "0123456789abcdef";
  for (int i = 1; i <= steps; ++i) {
    StepMetrics m;
    m.step = i;
    m.samples = 64 * i;
    m.train_loss = 1.0 / i;
    m.train_acc = 0.5;
    m.lr = 0.05;
    m.samples_per_second = 1000 + i;
    m.wall_seconds = 0.01 * i;
    r->steps.push_back(m);
  }
  EvalMetrics e;
  e.step = steps;
  e.test_loss = 0.5;
  e.test_accuracy = 0.75;
  e.wall_seconds = 0.5;
  r->evals.push_back(e);
  return r;
}

void write(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write(bytes);
}

std::vector<const RunRecord*> raw(const std::vector<std::shared_ptr<RunRecord>>& runs) {
  std::vector<const RunRecord*> out;
  for (const auto& r : runs) out.push_back(r.get());
  return out;
}

}  // namespace

class TestRunLibrary : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void aRunFolderReadsBackAsWritten() {
    QTemporaryDir dir;
    auto run = make_run("stash", 5);
    run->number = 4;
    run->name = QStringLiteral("run 4 · tiny");
    run->resumed_from = QStringLiteral("/tmp/x.ckpt");
    RunMark mark;
    mark.kind = "repartition";
    mark.step = 3;
    mark.t_ns = 1500000000;
    mark.before = {2};
    mark.after = {3};
    mark.text = "partition 2 -> 3 at step 3";
    run->marks.push_back(mark);
    QString error;
    QVERIFY2(write_run_folder(*run, dir.path(), &error), qPrintable(error));
    for (const char* f : {"summary.json", "metrics.csv", "config.json", "run.json"}) QVERIFY(QFile::exists(dir.filePath(f)));

    const auto back = read_run_folder(dir.path(), &error);
    QVERIFY2(back, qPrintable(error));
    QCOMPARE(back->number, 4);
    QCOMPARE(back->name, run->name);
    QCOMPARE(back->resumed_from, run->resumed_from);
    QCOMPARE(back->summary.weights_digest, run->summary.weights_digest);
    QCOMPARE(back->summary.final_train_loss, 0.25);
    QVERIFY(!back->partial_config);
    QVERIFY(config_diff(back->config, run->config).empty());
    QCOMPARE(back->steps.size(), std::size_t(5));
    QCOMPARE(back->steps[2].train_loss, 1.0 / 3);
    QCOMPARE(back->steps[4].wall_seconds, 0.05);
    QCOMPARE(back->steps[4].samples_per_second, 1005.0);
    QCOMPARE(back->evals.size(), std::size_t(1));
    QCOMPARE(back->evals[0].test_accuracy, 0.75);
    QCOMPARE(back->marks.size(), std::size_t(1));
    QCOMPARE(back->marks[0].after, std::vector<int>{3});
    QCOMPARE(back->marks[0].step, std::int64_t(3));
    QCOMPARE(QString::fromStdString(repartition_history(*back)), QStringLiteral("step 3: 2 → 3"));
    // The summary.json path reads the same folder (what a drop of the file gives).
    QVERIFY(read_run_folder(dir.filePath("summary.json"), &error));
  }

  void theLibraryKeepsNumbersReopensAndDeletes() {
    QTemporaryDir dir;
    QString error;
    {
      RunLibrary lib(dir.path());
      QVERIFY(lib.load().empty());
      auto a = make_run("stash", 3), b = make_run("latest", 4);
      b->summary.status = RunStatus::Running;  // the dashboard closed while it ran
      QVERIFY(lib.store(*a, &error));
      QVERIFY(lib.store(*b, &error));
      QCOMPARE(a->number, 1);
      QCOMPARE(b->number, 2);
      QVERIFY(!a->id.isEmpty() && a->id != b->id);
      QVERIFY(!a->created.isEmpty());
    }
    RunLibrary again(dir.path());
    auto runs = again.load();
    QCOMPARE(runs.size(), std::size_t(2));
    QCOMPARE(runs[0]->config.strategy.name, std::string("stash"));
    QCOMPARE(runs[1]->summary.status, RunStatus::Stopped);
    QCOMPARE(runs[1]->steps.size(), std::size_t(4));
    QCOMPARE(again.nextNumber(), 3);
    QVERIFY(again.remove(*runs[0], &error));
    QVERIFY(!QDir(dir.filePath(runs[0]->id)).exists());
    QCOMPARE(RunLibrary(dir.path()).load().size(), std::size_t(1));
    RunRecord gone = *runs[1];
    gone.discarded = true;  // deleted while it ran: its end does not bring it back
    QVERIFY(again.remove(gone, &error));
    QVERIFY(again.store(gone, &error));
    QCOMPARE(RunLibrary(dir.path()).load().size(), std::size_t(0));
    QVERIFY(!RunLibrary().enabled());  // "" = off
    auto c = make_run("stash", 1);
    QVERIFY(RunLibrary().store(*c, &error));
    QVERIFY(c->id.isEmpty());
  }

  void aCliFolderWithoutConfigComparesOnWhatTheSummaryRecords() {
    QTemporaryDir dir;
    auto run = make_run("stash", 3);
    run->summary.per_stage.resize(2);
    run->summary.per_stage[0].first_layer = 0;
    run->summary.per_stage[1].first_layer = 2;
    write(dir.filePath("summary.json"), QByteArray::fromStdString(summary_to_json(run->summary)));
    write(dir.filePath("metrics.csv"), QByteArray::fromStdString(metrics_csv_text(*run)));
    QString error;
    const auto back = read_run_folder(dir.path(), &error);
    QVERIFY2(back, qPrintable(error));
    QVERIFY(back->partial_config);
    QCOMPARE(back->config.strategy.name, std::string("stash"));
    QCOMPARE(back->config.partition, std::vector<int>{2});
    QCOMPARE(back->config.batch_size, 64);
    QCOMPARE(back->steps.size(), std::size_t(3));
    // Against a full config that differs in seed (not recorded) and strategy (recorded): strategy only.
    auto full = make_run("latest", 3);
    full->config.seed = 9;
    const auto diff = run_config_diff(*back, *full);
    QCOMPARE(diff.size(), std::size_t(1));
    QCOMPARE(diff[0].path, std::string("/strategy/name"));
  }

  void badFilesNameTheFileAndTheField() {
    QTemporaryDir dir;
    QString error;
    QVERIFY(!read_run_folder(dir.path(), &error));
    QVERIFY2(error.contains(QStringLiteral("no summary.json")), qPrintable(error));
    write(dir.filePath("summary.json"), "{\"status\": \"completed\"}");
    QVERIFY(!read_run_folder(dir.path(), &error));
    QVERIFY2(error.contains(QStringLiteral("summary.json")) && error.contains(QStringLiteral("model")), qPrintable(error));
    auto run = make_run("stash", 2);
    write(dir.filePath("summary.json"), QByteArray::fromStdString(summary_to_json(run->summary)));
    write(dir.filePath("metrics.csv"), QByteArray(MetricsCsvWriter::header()) + "\n1,0,64,0.5,0.5,0.05,100,0.1,,\n2,0,128,zero,0.5,0.05,100,0.2,,\n");
    QVERIFY(!read_run_folder(dir.path(), &error));
    QVERIFY2(error.contains(QStringLiteral("metrics.csv")) && error.contains(QStringLiteral("line 3")) &&
                 error.contains(QStringLiteral("train_loss")),
             qPrintable(error));
    write(dir.filePath("metrics.csv"), "a,b\n1,2\n");
    QVERIFY(!read_run_folder(dir.path(), &error));
    QVERIFY2(error.contains(QStringLiteral("no column 'step'")), qPrintable(error));
  }

  void labelsSayWhatDiffers() {
    auto a = make_run("stash", 3), b = make_run("latest", 3), c = make_run("pipedream", 3);
    a->number = 1, b->number = 2, c->number = 3;
    c->config.schedule = "gpipe";
    auto labels = difference_labels(raw({a, b, c}));
    QCOMPARE(labels[0], QStringLiteral("run 1 · stash · 1f1b-async"));
    QCOMPARE(labels[2], QStringLiteral("run 3 · pipedream · gpipe"));
    // Seeds and stages: stages say it, the partition that follows from them is not repeated.
    b->config.strategy.name = "stash";
    c->config = a->config;
    b->config.seed = 2;
    c->config.partition = {1, 2};
    c->config.stages = 3;
    labels = difference_labels(raw({a, b, c}));
    QCOMPARE(labels[0], QStringLiteral("run 1 · 2 stages · seed 1"));
    QCOMPARE(labels[2], QStringLiteral("run 3 · 3 stages · seed 1"));
    QCOMPARE(labels[1], QStringLiteral("run 2 · 2 stages · seed 2"));
    // Nothing differs: the preset's name; renamed by the user: its name.
    labels = difference_labels(raw({a, make_run("stash", 3)}));
    QCOMPARE(labels[0], QStringLiteral("run 1 · tiny"));
    b->custom_name = true;
    b->name = QStringLiteral("my baseline");
    QCOMPARE(difference_labels(raw({a, b}))[1], QStringLiteral("my baseline"));
    // Strategy parameters by their own name; more than four fields: "+N".
    auto d = make_run("stash", 3), e = make_run("spectrain", 3);
    e->config.strategy.params["distance"] = "paper";
    e->config.seed = 5;
    e->config.optimizer.lr = 0.1;
    e->config.microbatches = 4;
    labels = difference_labels(raw({d, e}));
    QVERIFY2(labels[1].contains(QStringLiteral("spectrain")) && labels[1].contains(QStringLiteral("seed 5")) &&
                 labels[1].contains(QStringLiteral("lr 0.1")) && labels[1].endsWith(QStringLiteral("+1")),
             qPrintable(labels[1]));
    QVERIFY(differing_fields(raw({d, e})).back() == "/strategy/params/distance");
  }

  void theRunListShowsFiguresDigestAndLabels() {
    RunListModel model;
    auto a = make_run("stash", 3), b = make_run("latest", 3);
    a->number = 1, b->number = 2;
    b->summary.weights_digest.clear();
    model.addRun(a);
    model.addRun(b);
    auto text = [&](int row, int col) { return model.data(model.index(row, col)).toString(); };
    QCOMPARE(text(0, RunListModel::Name), QStringLiteral("run 1 · stash"));
    QCOMPARE(text(0, RunListModel::FinalLoss), QStringLiteral("0.2500"));
    QCOMPARE(text(0, RunListModel::TestAccuracy), QStringLiteral("75.00%"));
    QCOMPARE(text(0, RunListModel::Throughput), QStringLiteral("1234"));
    QCOMPARE(text(0, RunListModel::Digest), QStringLiteral("0123456789abcdef"));
    QCOMPARE(text(1, RunListModel::Digest), QStringLiteral("–"));
    model.removeRun(1);
    QCOMPARE(text(0, RunListModel::Name), QStringLiteral("run 1 · tiny"));  // alone: nothing differs
    const QString details = RunListModel::details(*a);
    QVERIFY2(details.contains(QStringLiteral("weights digest: 0123456789abcdef")) && details.contains(QStringLiteral("resumed from: —")) &&
                 details.contains(QStringLiteral("repartitions: none")),
             qPrintable(details));
  }
};

PS_WIDGET_TEST_MAIN(TestRunLibrary)
#include "tst_run_library.moc"

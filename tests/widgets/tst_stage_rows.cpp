// A run's summary on the timeline's rows: which row each chunk is on, the rows' labels, and the memory
// peaks in the gutter label's tooltip (the CPU figures for every stage, the GPU allocator's only on a GPU).
#include <QRegularExpression>
#include <QtTest>

#include "widgets/format.h"
#include "widgets/stage_rows.h"
#include "widgets/timeline_view.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {

constexpr std::int64_t kMiB = 1024 * 1024;
constexpr std::int64_t kGiB = 1024 * kMiB;

StageSummary stage(int k, const std::string& device, std::int64_t weights, std::int64_t activations, int copies) {
  StageSummary s;
  s.stage = k;
  s.device = device;
  s.weight_bytes_max = weights;
  s.activation_bytes_max = activations;
  s.weight_copies_max = copies;
  return s;
}

// As a CUDA run reports it: stages 0 and 1 share cuda:0 (the same allocator peaks), stage 2 has
// cuda:1 to itself, stage 3 runs on the CPU (its GPU figures stay -1).
RunSummary mixed_run() {
  RunSummary r;
  r.schedule = "1f1b";
  r.stages = 4;
  for (int k = 0; k < 2; ++k) {
    StageSummary s = stage(k, "cuda:0 (NVIDIA H200)", 3 * kMiB / 2, 640 * 1024, 3);
    s.gpu_allocated_max = 3 * kGiB / 2;
    s.gpu_reserved_max = 2 * kGiB;
    s.gpu_shared_by = 2;
    r.per_stage.push_back(s);
  }
  StageSummary alone = stage(2, "cuda:1 (NVIDIA H200)", 2 * kMiB, 5 * kMiB, 2);
  alone.gpu_allocated_max = 300 * kMiB;
  alone.gpu_reserved_max = 512 * kMiB;
  alone.gpu_shared_by = 1;
  r.per_stage.push_back(alone);
  r.per_stage.push_back(stage(3, "cpu:3", 700 * 1024, 96 * 1024, 1));
  return r;
}

}  // namespace

class TestStageRows : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void oneChunkPerDeviceIsOneRowEach() {
    QCOMPARE(summary_rows(mixed_run()), (std::vector<int>{0, 1, 2, 3}));
  }

  void severalChunksFollowTheSchedulesPlacement() {
    RunSummary r;
    r.stages = 2;
    r.chunks = 2;
    for (int k = 0; k < 4; ++k) r.per_stage.push_back(stage(k, "cpu:" + std::to_string(k), 0, 0, 1));
    r.schedule = "interleaved-1f1b";  // loop: chunk c on device c mod S
    QCOMPARE(summary_rows(r), (std::vector<int>{0, 1, 0, 1}));
    r.schedule = "zbv";  // V: device d holds chunks d and 2S-1-d
    QCOMPARE(summary_rows(r), (std::vector<int>{0, 1, 1, 0}));
    r.replicas = 2;  // two replicas of one device each: the second replica's chunks on row 1
    QCOMPARE(summary_rows(r), (std::vector<int>{0, 0, 1, 1}));
  }

  void aRowIsLabelledByItsFirstChunksDevice() {
    RunSummary r;
    r.schedule = "zbv";
    r.stages = 2;
    r.chunks = 2;
    for (int k = 0; k < 4; ++k) r.per_stage.push_back(stage(k, k == 0 || k == 3 ? "cuda:0" : "cuda:1", 0, 0, 1));
    r.per_stage[2].process = "rank 1, pid 4711 on node7";
    QCOMPARE(summary_row_labels(r), (QStringList{QStringLiteral("cuda:0"), QStringLiteral("cuda:1")}));
    r.per_stage[1].process = "rank 1, pid 4711 on node7";
    QCOMPARE(summary_row_labels(r)[1], QStringLiteral("cuda:1 · pid 4711 on node7"));
  }

  void theCpuPeaksForEveryStageTheGpuOnlyOnAGpu() {
    const RunSummary r = mixed_run();
    const QString shared = stage_memory_text(r, 0);
    QVERIFY2(shared.contains(QStringLiteral("weights <b>1.5 MiB</b> (3 copies)")), qPrintable(shared));
    QVERIFY2(shared.contains(QStringLiteral("activations <b>640.0 KiB</b>")), qPrintable(shared));
    QVERIFY2(shared.contains(QStringLiteral("GPU allocator peaks: allocated <b>1.50 GiB</b> · reserved <b>2.00 GiB</b>")),
             qPrintable(shared));
    QVERIFY2(shared.contains(QStringLiteral("shared by 2 stages")), qPrintable(shared));

    const QString alone = stage_memory_text(r, 2);
    QVERIFY2(alone.contains(QStringLiteral("allocated <b>300.0 MiB</b> · reserved <b>512.0 MiB</b>")), qPrintable(alone));
    QVERIFY2(!alone.contains(QStringLiteral("shared")), qPrintable(alone));  // a GPU of its own

    const QString cpu = stage_memory_text(r, 3);
    QVERIFY2(cpu.contains(QStringLiteral("weights <b>700.0 KiB</b> (1 copy)")), qPrintable(cpu));
    QVERIFY2(cpu.contains(QStringLiteral("activations <b>96.0 KiB</b>")), qPrintable(cpu));
    QVERIFY2(!cpu.contains(QStringLiteral("GPU")), qPrintable(cpu));  // never a made-up figure from the -1
    QVERIFY2(!cpu.contains(format_bytes(-1)), qPrintable(cpu));
    QVERIFY(stage_memory_text(r, 4).isEmpty());  // no such row
  }

  void aDevicesChunksEachShowTheirPeaksAndTheGpuOnce() {
    RunSummary r;
    r.schedule = "interleaved-1f1b";
    r.stages = 2;
    r.chunks = 2;
    for (int k = 0; k < 4; ++k) {
      StageSummary s = stage(k, "cuda:0", (k + 1) * kMiB, kMiB, 2);
      s.gpu_allocated_max = kGiB;
      s.gpu_reserved_max = 2 * kGiB;
      s.gpu_shared_by = 2;
      s.device_activation_bytes_max = (k % 2 == 0 ? 3 : 5) * kMiB / 2;  // the device's, on each of its chunks
      r.per_stage.push_back(s);
    }
    const QString text = stage_memory_text(r, 1);  // chunks 1 and 3
    QVERIFY2(text.contains(QStringLiteral("chunk 1: weights <b>2.0 MiB</b>")), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("chunk 3: weights <b>4.0 MiB</b>")), qPrintable(text));
    QVERIFY2(!text.contains(QStringLiteral("chunk 0")) && !text.contains(QStringLiteral("chunk 2")), qPrintable(text));
    QCOMPARE(text.count(QStringLiteral("GPU allocator")), 1);
    QVERIFY2(text.contains(QStringLiteral("activations held by the device at once: <b>2.5 MiB</b>")), qPrintable(text));
  }

  // The dashboard: hovering a row's gutter label shows its device and memory peaks.
  void theGutterLabelsTooltipShowsTheRowsMemory() {
    TimelineView view;
    view.resize(1000, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const RunSummary r = mixed_run();
    view.setStageCount(r.stages);
    view.setStageLabels(summary_row_labels(r));
    auto gutter_tip = [&](int row) {
      const auto hit = view.hitTest(QPoint(view.plotRect().left() / 2, view.stageRowRect(row).center().y()));
      if (!hit || hit->kind != TimelineHit::Kind::Stage || hit->row != row) return QStringLiteral("(no stage hit)");
      return view.toolTipText(*hit);
    };
    auto unwrapped = [](const QString& tip) {  // the tooltip's text inside its unwrapped paragraph
      QRegularExpressionMatch m = QRegularExpression(QStringLiteral("^<p style='white-space:pre'>(.*)</p>$")).match(tip);
      return m.hasMatch() ? m.captured(1) : QStringLiteral("(not one paragraph) ") + tip;
    };
    QCOMPARE(unwrapped(gutter_tip(0)), QStringLiteral("<b>Stage 0</b> · cuda:0 (NVIDIA H200)"));  // no summary yet: no figures

    view.setStageMemory(&r);
    for (int row = 0; row < r.stages; ++row) {
      const QString tip = unwrapped(gutter_tip(row));
      QVERIFY2(tip.startsWith(QStringLiteral("<b>Stage %1</b> · %2").arg(row).arg(QString::fromStdString(r.per_stage[row].device))),
               qPrintable(tip));
      QVERIFY2(tip.contains(stage_memory_text(r, row)), qPrintable(tip));
      QVERIFY2(tip.contains(QStringLiteral("weights <b>")) && tip.contains(QStringLiteral("activations <b>")), qPrintable(tip));
      QCOMPARE(tip.contains(QStringLiteral("GPU allocator peaks")), row < 3);
      QCOMPARE(tip.contains(QStringLiteral("shared by 2 stages")), row < 2);
    }
    // The plot itself still answers for boxes, not stages.
    const auto plot = view.hitTest(QPoint(view.plotRect().center().x(), view.stageRowRect(0).center().y()));
    QVERIFY(!plot || plot->kind != TimelineHit::Kind::Stage);

    view.setStageMemory(nullptr);  // a new run: the old figures go
    QCOMPARE(unwrapped(gutter_tip(3)), QStringLiteral("<b>Stage 3</b> · cpu:3"));
    view.setStageMemory(&r);
    view.clear();
    QVERIFY(view.stageMemoryText(0).isEmpty());
  }
};

PS_WIDGET_TEST_MAIN(TestStageRows)
#include "tst_stage_rows.moc"

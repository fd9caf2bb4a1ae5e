// Drag, double-click, undo/redo and devices on the partition editor, driven through the mouse.
#include <QComboBox>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QUndoStack>
#include <QtTest>

#include "fixtures.h"
#include "engine/planner/balance.h"
#include "widgets/partition_editor.h"
#include "widgets/partition_strip.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

Q_DECLARE_METATYPE(std::vector<int>)

class TestPartitionEditor : public QObject {
  Q_OBJECT
  std::unique_ptr<PartitionEditor> editor_;

  PartitionStrip* strip() { return editor_->strip(); }
  QPoint handlePoint(int index) {
    return QPoint(qRound(strip()->handleX(index)), qRound(strip()->unitRect(0).center().y()));
  }
  QPoint edgePoint(int unit) { return QPoint(qRound(strip()->unitRect(unit).left()), qRound(strip()->unitRect(0).center().y())); }
  QPoint unitPoint(int unit) { return strip()->unitRect(unit).center().toPoint(); }

 private Q_SLOTS:
  void init() {
    editor_ = std::make_unique<PartitionEditor>();
    editor_->setModelInfo(test::make_model(8), {4});
    editor_->resize(1000, 420);
    editor_->show();
    QVERIFY(QTest::qWaitForWindowExposed(editor_.get()));
  }
  void cleanup() { editor_.reset(); }

  void dragMovesLayersBetweenStagesAsOneUndoStep() {
    QSignalSpy changed(editor_.get(), &PartitionEditor::partitionChanged);
    QTest::mousePress(strip(), Qt::LeftButton, {}, handlePoint(0));
    QVERIFY(strip()->dragging());
    QTest::mouseMove(strip(), edgePoint(5));
    QTest::mouseMove(strip(), edgePoint(6));
    // While dragging: totals follow the preview, the committed partition does not move yet.
    QCOMPARE(editor_->stats().stages.at(0).last_unit, 5);
    QCOMPARE(editor_->partition(), (std::vector<int>{4}));
    QCOMPARE(changed.count(), 0);
    QTest::mouseRelease(strip(), Qt::LeftButton, {}, edgePoint(6));
    QCOMPARE(editor_->partition(), (std::vector<int>{6}));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.at(0).at(0).value<std::vector<int>>(), (std::vector<int>{6}));
    QCOMPARE(editor_->undoStack()->count(), 1);

    editor_->undoStack()->undo();
    QCOMPARE(editor_->partition(), (std::vector<int>{4}));
    QCOMPARE(strip()->boundaries(), (std::vector<int>{4}));
    QCOMPARE(editor_->stats().stages.at(0).last_unit, 3);
    editor_->undoStack()->redo();
    QCOMPARE(editor_->partition(), (std::vector<int>{6}));
    QCOMPARE(changed.count(), 3);
  }

  void dragPastTheEndKeepsTheLastStageNonEmpty() {
    QTest::mousePress(strip(), Qt::LeftButton, {}, handlePoint(0));
    QTest::mouseMove(strip(), QPoint(strip()->width() - 1, handlePoint(0).y()));
    QTest::mouseRelease(strip(), Qt::LeftButton, {}, QPoint(strip()->width() - 1, handlePoint(0).y()));
    QCOMPARE(editor_->partition(), (std::vector<int>{7}));
  }

  void ctrlZRightAfterADragUndoesIt() {
    editor_->activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(editor_.get()));
    QTest::mousePress(strip(), Qt::LeftButton, {}, handlePoint(0));
    QTest::mouseMove(strip(), edgePoint(6));
    QTest::mouseRelease(strip(), Qt::LeftButton, {}, edgePoint(6));
    QCOMPARE(editor_->partition(), (std::vector<int>{6}));
    QVERIFY(strip()->hasFocus());  // the drag gave the strip the keyboard
    QTest::keyClick(strip(), Qt::Key_Z, Qt::ControlModifier);
    QCOMPARE(editor_->partition(), (std::vector<int>{4}));
  }

  void aHandleThatCannotMoveSaysWhy() {
    editor_->setPartition({2, 4}, true);
    QVERIFY(editor_->blockedReason().isEmpty());
    QTest::mousePress(strip(), Qt::LeftButton, {}, handlePoint(0));
    QTest::mouseMove(strip(), edgePoint(6));  // past the next boundary: stage 1 would vanish
    QTest::mouseRelease(strip(), Qt::LeftButton, {}, edgePoint(6));
    QCOMPARE(editor_->partition(), (std::vector<int>{3, 4}));
    QVERIFY2(editor_->blockedReason().contains(QStringLiteral("Stage 1 keeps at least one layer unit")),
             qPrintable(editor_->blockedReason()));
    // A move that can be made clears it.
    QTest::mousePress(strip(), Qt::LeftButton, {}, handlePoint(1));
    QTest::mouseMove(strip(), edgePoint(6));
    QTest::mouseRelease(strip(), Qt::LeftButton, {}, edgePoint(6));
    QVERIFY(editor_->blockedReason().isEmpty());
    // During a run the stage count is fixed: adding a stage is refused with the reason.
    editor_->setLive(true);
    QTest::mouseDClick(strip(), Qt::LeftButton, {}, unitPoint(1));
    QCOMPARE(editor_->partition(), (std::vector<int>{3, 6}));
    QVERIFY2(editor_->blockedReason().contains(QStringLiteral("stage count is fixed")), qPrintable(editor_->blockedReason()));
  }

  void pressAwayFromAHandleDoesNothing() {
    QTest::mousePress(strip(), Qt::LeftButton, {}, unitPoint(1));
    QVERIFY(!strip()->dragging());
    QTest::mouseMove(strip(), unitPoint(3));
    QTest::mouseRelease(strip(), Qt::LeftButton, {}, unitPoint(3));
    QCOMPARE(editor_->partition(), (std::vector<int>{4}));
    QCOMPARE(editor_->undoStack()->count(), 0);
  }

  void autoBalanceAppliesTheDynamicProgrammingSplit() {
    const ModelInfo model = test::make_model(8, {1e6, 9e6, 1e6, 1e6, 2e6, 1e6, 6e6, 1e6});
    editor_->setModelInfo(model, {2, 4});
    auto* button = editor_->findChild<QPushButton*>(QStringLiteral("autoBalance"));
    QVERIFY(button);
    BalanceOptions opts;
    opts.stages = 3;
    const std::vector<int> expected = balance_partition(estimate_profile(model, 1, 1), opts).boundaries;
    QVERIFY(expected != (std::vector<int>{2, 4}));
    QTest::mouseClick(button, Qt::LeftButton);
    QCOMPARE(editor_->partition(), expected);
    QCOMPARE(editor_->undoStack()->count(), 1);
    editor_->undoStack()->undo();
    QCOMPARE(editor_->partition(), (std::vector<int>{2, 4}));

    // A measured profile wins over the estimate: here the first unit is by far the slowest.
    ModelProfile measured = estimate_profile(model, 1, 1);
    for (auto& u : measured.units) u.forward_micro_s = u.forward_batch_s = u.backward_micro_s = u.backward_batch_s = 1e-3;
    measured.units[0].forward_micro_s = measured.units[0].forward_batch_s = 1.0;
    editor_->setProfile(measured);
    QVERIFY(editor_->hasProfile());
    QTest::mouseClick(button, Qt::LeftButton);
    QCOMPARE(editor_->partition().front(), 1);
    opts.stages = 3;
    QCOMPARE(editor_->partition(), balance_partition(measured, opts).boundaries);
  }

  void oneBalanceButtonThatSaysWhichProfileItUses() {
    const auto buttons = editor_->findChildren<QPushButton*>();
    int balancing = 0;
    for (auto* b : buttons)
      if (b->text().contains(QStringLiteral("alance"))) ++balancing;
    QCOMPARE(balancing, 1);  // "Balance" and "Auto-balance" were one too many
    auto* button = editor_->findChild<QPushButton*>(QStringLiteral("autoBalance"));
    QVERIFY2(button->toolTip().contains(QStringLiteral("estimated from flops")), qPrintable(button->toolTip()));
    ModelProfile measured = estimate_profile(editor_->modelInfo(), 32, 1);
    measured.measured = true;
    measured.device = "cpu";
    editor_->setProfile(measured);
    QVERIFY2(button->toolTip().contains(QStringLiteral("measured on cpu at batch 32")), qPrintable(button->toolTip()));
    editor_->setProfile(estimate_profile(test::make_model(3), 32, 1));  // another model's: not used
    QVERIFY(!editor_->hasProfile());
    QVERIFY(button->toolTip().contains(QStringLiteral("estimated from flops")));
  }

  void profileIsRequestedAndShowsBusyAndErrors() {
    auto* button = editor_->findChild<QPushButton*>(QStringLiteral("profile"));
    QVERIFY(button);
    QSignalSpy requested(editor_.get(), &PartitionEditor::profileRequested);
    QTest::mouseClick(button, Qt::LeftButton);
    QCOMPARE(requested.count(), 1);
    editor_->setProfileBusy(true);
    QVERIFY(!button->isEnabled());
    QTest::mouseClick(button, Qt::LeftButton);
    QCOMPARE(requested.count(), 1);  // one profile at a time
    editor_->setProfileBusy(false);
    editor_->setProfileError(QStringLiteral("cuda:0 is not available"));
    QVERIFY(button->isEnabled());
    bool shown = false;
    for (auto* label : editor_->findChildren<QLabel*>())
      shown = shown || label->toolTip().contains(QStringLiteral("cuda:0 is not available"));
    QVERIFY(shown);
  }

  void liveModeMovesBoundariesOnlyOnItsOwnHistory() {
    editor_->setDeviceChoices({"cpu", "cuda:0"});
    editor_->setPartition({2, 5}, /*undoable=*/true);
    QCOMPARE(editor_->undoStack()->count(), 1);
    editor_->setLive(true);
    QCOMPARE(editor_->undoStack()->count(), 0);  // a fresh history for the run
    auto* table = editor_->findChild<QTableWidget*>();
    for (int k = 0; k < 3; ++k) QVERIFY(!table->cellWidget(k, 2)->isEnabled());  // devices fixed
    QTest::mouseDClick(strip(), Qt::LeftButton, {}, unitPoint(3));  // would add a stage
    QCOMPARE(editor_->partition(), (std::vector<int>{2, 5}));
    QTest::mouseDClick(strip(), Qt::LeftButton, {}, handlePoint(0));  // would remove one
    QCOMPARE(editor_->partition(), (std::vector<int>{2, 5}));
    QSignalSpy changed(editor_.get(), &PartitionEditor::partitionChanged);
    QTest::mousePress(strip(), Qt::LeftButton, {}, handlePoint(0));
    QTest::mouseMove(strip(), edgePoint(3));
    QTest::mouseRelease(strip(), Qt::LeftButton, {}, edgePoint(3));
    QCOMPARE(editor_->partition(), (std::vector<int>{3, 5}));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(editor_->undoStack()->count(), 1);
    editor_->setPendingPartition(std::vector<int>{3, 5}, {2, 5});
    QVERIFY2(editor_->pendingText().contains(QStringLiteral("3,5")) && editor_->pendingText().contains(QStringLiteral("2,5")),
             qPrintable(editor_->pendingText()));
    editor_->setPendingPartition(std::nullopt);
    QVERIFY(editor_->pendingText().isEmpty());
    editor_->setLive(false);
    for (int k = 0; k < 3; ++k) QVERIFY(table->cellWidget(k, 2)->isEnabled());
    // The history from before the run, plus the run's repartitions as one step.
    QCOMPARE(editor_->undoStack()->count(), 2);
    editor_->undoStack()->undo();
    QCOMPARE(editor_->partition(), (std::vector<int>{2, 5}));
    QTest::mouseDClick(strip(), Qt::LeftButton, {}, unitPoint(3));  // adding works again
    QCOMPARE(editor_->stageCount(), 4);
  }

  void bottleneckAndEfficiencyFollowTheDrag() {
    const double before = editor_->stats().efficiency;
    QTest::mousePress(strip(), Qt::LeftButton, {}, handlePoint(0));
    QTest::mouseMove(strip(), edgePoint(1));  // stage 1 now holds 7 of 8 equal units
    QCOMPARE(editor_->stats().bottleneck_stage, 1);
    QVERIFY(editor_->stats().efficiency < before);
    QVERIFY(editor_->summaryText().contains(QStringLiteral("stage 1")));
    QTest::mouseRelease(strip(), Qt::LeftButton, {}, edgePoint(1));
  }

  void doubleClickOnAUnitAddsAStageThere() {
    QTest::mouseDClick(strip(), Qt::LeftButton, {}, unitPoint(2));
    QCOMPARE(editor_->partition(), (std::vector<int>{2, 4}));
    QCOMPARE(editor_->stageCount(), 3);
    QCOMPARE(editor_->stats().stages.size(), std::size_t(3));
    editor_->undoStack()->undo();
    QCOMPARE(editor_->partition(), (std::vector<int>{4}));
  }

  void doubleClickOnAHandleRemovesIt() {
    editor_->setPartition({2, 4});
    QTest::mouseDClick(strip(), Qt::LeftButton, {}, handlePoint(1));
    QCOMPARE(editor_->partition(), (std::vector<int>{2}));
    QCOMPARE(editor_->undoStack()->count(), 1);
  }

  void weightMemoryFollowsTheStrategy() {
    editor_->setPartition({2, 4, 6});
    editor_->setStrategy("stash");
    QCOMPARE(editor_->stats().stages.at(0).weight_copies, 4);
    QCOMPARE(editor_->stats().stages.at(3).weight_copies, 1);
    editor_->setStrategy("latest");
    QCOMPARE(editor_->stats().stages.at(0).weight_copies, 1);
  }

  void eachStageGetsADeviceCombo() {
    editor_->setDeviceChoices({"cpu:0", "cpu:1", "cuda:0"});
    editor_->setPartition({2, 5});
    auto* table = editor_->findChild<QTableWidget*>();
    QVERIFY(table);
    QCOMPARE(table->rowCount(), 3);
    QSignalSpy devices(editor_.get(), &PartitionEditor::stageDevicesChanged);
    auto* combo = qobject_cast<QComboBox*>(table->cellWidget(2, 2));
    QVERIFY(combo);
    QCOMPARE(combo->count(), 3);
    combo->setCurrentText("cuda:0");
    QCOMPARE(devices.count(), 1);
    QCOMPARE(editor_->stageDevices().at(2), std::string("cuda:0"));
    QCOMPARE(editor_->stageDevices().size(), std::size_t(3));
  }

  // Several chunks per device (#14 item 1): S*v segments, each coloured, labelled and placed by the
  // device that holds it; boundaries drag as for stages; the chunk count is not the editor's to change.
  void chunksAreSegmentsOfTheirDevices() {
    editor_->setDeviceChoices({"cpu:0", "cpu:1"});
    editor_->setChunkLayout("interleaved-1f1b", 2, std::vector<int>{2, 4, 6});  // loop: chunk c on c mod 2
    editor_->setStageDevices({"cpu:0", "cpu:0"});
    QCOMPARE(editor_->chunkCount(), 4);
    QCOMPARE(editor_->stageCount(), 2);
    QCOMPARE(strip()->chunkDevices(), (std::vector<int>{0, 1, 0, 1}));
    QCOMPARE(strip()->segmentTitle(2), QStringLiteral("chunk 2 · dev 0"));
    QCOMPARE(strip()->segmentTitle(3), QStringLiteral("chunk 3 · dev 1 · loss"));
    QVERIFY2(editor_->summaryText().contains(QStringLiteral("4 chunks on 2 devices")), qPrintable(editor_->summaryText()));
    QVERIFY2(editor_->summaryText().contains(QStringLiteral("loss on <b>device 1</b>")), qPrintable(editor_->summaryText()));
    auto* table = editor_->findChild<QTableWidget*>();
    QCOMPARE(table->rowCount(), 4);
    QVERIFY2(table->item(2, 0)->text().startsWith(QStringLiteral("2 · dev 0")), qPrintable(table->item(2, 0)->text()));
    QVERIFY2(table->item(3, 0)->text().startsWith(QStringLiteral("3 · dev 1 · loss")), qPrintable(table->item(3, 0)->text()));
    QCOMPARE(editor_->stageDevices().size(), std::size_t(2));  // one device per stage, not per chunk

    // A drag moves a chunk boundary as it moves a stage boundary, one undo step.
    QTest::mousePress(strip(), Qt::LeftButton, {}, handlePoint(1));
    QTest::mouseMove(strip(), edgePoint(5));
    QTest::mouseRelease(strip(), Qt::LeftButton, {}, edgePoint(5));
    QCOMPARE(editor_->partition(), (std::vector<int>{2, 5, 6}));
    QCOMPARE(editor_->undoStack()->count(), 1);
    QCOMPARE(editor_->stats().stages.at(1).last_unit, 4);
    // Neither adds nor removes a chunk: their number is Stages x Chunks per device.
    QTest::mouseDClick(strip(), Qt::LeftButton, {}, unitPoint(1));
    QCOMPARE(editor_->partition(), (std::vector<int>{2, 5, 6}));
    QVERIFY2(editor_->blockedReason().contains(QStringLiteral("Chunks per device")), qPrintable(editor_->blockedReason()));
    // Auto-balance balances the 4 chunks.
    QCOMPARE(editor_->autoBalance().size(), std::size_t(3));
    QCOMPARE(editor_->chunkCount(), 4);

    // V placement (zbv): device d holds chunks d and 2S-1-d, so the last chunk and the loss are on device 0.
    editor_->setChunkLayout("zbv", 2);
    QCOMPARE(strip()->chunkDevices(), (std::vector<int>{0, 1, 1, 0}));
    QCOMPARE(strip()->segmentTitle(3), QStringLiteral("chunk 3 · dev 0 · loss"));
    QVERIFY2(editor_->summaryText().contains(QStringLiteral("V placement; the loss on <b>device 0</b>")),
             qPrintable(editor_->summaryText()));
    QVERIFY2(table->item(3, 0)->text().startsWith(QStringLiteral("3 · dev 0 · loss")), qPrintable(table->item(3, 0)->text()));
    // A device is picked once for all its chunks: chunk 3's picker follows chunk 0's.
    QSignalSpy devices(editor_.get(), &PartitionEditor::stageDevicesChanged);
    qobject_cast<QComboBox*>(table->cellWidget(0, 2))->setCurrentIndex(1);
    QCOMPARE(devices.count(), 1);
    QCOMPARE(editor_->stageDevices(), (std::vector<std::string>{"cpu:1", "cpu:0"}));
    QCOMPARE(qobject_cast<QComboBox*>(table->cellWidget(3, 2))->currentData().toString(), QStringLiteral("cpu:1"));
    QCOMPARE(qobject_cast<QComboBox*>(table->cellWidget(1, 2))->currentData().toString(), QStringLiteral("cpu:0"));

    // Back to one chunk per device: the segments are stages again, and a new v clears the history.
    editor_->setChunkLayout("1f1b-flush", 1, std::vector<int>{4});
    QVERIFY(strip()->chunkDevices().empty());
    QCOMPARE(strip()->segmentTitle(1), QStringLiteral("Stage 1 · cpu:0"));
    QCOMPARE(editor_->undoStack()->count(), 0);
    QCOMPARE(editor_->stageCount(), 2);
  }

  void aNewModelClearsTheHistory() {
    QTest::mouseDClick(strip(), Qt::LeftButton, {}, unitPoint(2));
    QCOMPARE(editor_->undoStack()->count(), 1);
    editor_->setModelInfo(test::make_model(5), {3});
    QCOMPARE(editor_->undoStack()->count(), 0);
    QCOMPARE(editor_->partition(), (std::vector<int>{3}));
  }
};

PS_WIDGET_TEST_MAIN(TestPartitionEditor)
#include "tst_partition_editor.moc"

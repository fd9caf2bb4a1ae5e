// The timeline widget: culling, merging of sub-pixel boxes, hover hit tests, click-to-highlight,
// pan and zoom, fed with a synthetic event stream.
#include <QSignalSpy>
#include <QWheelEvent>
#include <QtTest>

#include "fixtures.h"
#include "widgets/timeline_view.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {

std::size_t overlapping(const TimelineModel& m, std::int64_t t0, std::int64_t t1) {
  std::size_t n = 0;
  for (int k = 0; k < m.stageCount(); ++k)
    for (const auto& e : m.ops(k))
      if (e.t_start_ns < t1 && (e.t_end_ns > t0 || e.t_start_ns >= t0)) ++n;
  return n;
}

}  // namespace

class TestTimelineView : public QObject {
  Q_OBJECT
  std::unique_ptr<TimelineView> view_;

 private Q_SLOTS:
  void init() {
    view_ = std::make_unique<TimelineView>();
    view_->resize(1000, 320);
    view_->show();
    QVERIFY(QTest::qWaitForWindowExposed(view_.get()));
  }
  void cleanup() { view_.reset(); }

  // ---- the schedule clock, labels, colours ---------------------------------------------------------

  void opSlotsKeepEveryBoxWideEnoughForItsLabel() {
    view_->appendBatch(test::make_stream(3, 300, 1000));  // 2700 ops: at full width they would be hairlines
    QSignalSpy spy(view_.get(), &TimelineView::clockChanged);
    view_->setClock(TimelineClock::Slots);
    QCOMPARE(spy.count(), 1);
    QVERIFY(view_->followLive());
    auto slot_px = [&] { return static_cast<double>(kSlotUnits) / view_->nsPerPx(); };
    QVERIFY2(slot_px() >= view_->labelWidthPx(), qPrintable(QStringLiteral("%1 < %2").arg(slot_px()).arg(view_->labelWidthPx())));
    for (int i = 0; i < 20; ++i) view_->zoomOut();
    QVERIFY(slot_px() >= view_->labelWidthPx() - 0.5);
    view_->fit();  // the whole run does not fit with labels: its newest part is shown
    QVERIFY(slot_px() >= view_->labelWidthPx() - 0.5);
    QVERIFY(view_->visibleEnd() >= view_->model().endNs());
    view_->grab();  // paint: the boxes are drawn one by one, none merged into pixel columns
    QCOMPARE(view_->lastPaintStats().merged, std::size_t(0));
    QVERIFY(view_->lastPaintStats().drawn > 0);
  }

  // The rows' labels decide the gutter (and so where the plot starts); its width is kept between paints,
  // and follows the labels, the font and the view's width when they change.
  void theGutterFollowsTheLabelsTheFontAndTheWidth() {
    const int plain = view_->plotRect().left();
    QCOMPARE(view_->xForTime(view_->timeForX(plain + 100)), double(plain + 100));
    view_->setStageLabels({QStringLiteral("cpu:0 · pid 4711 on a-long-host-name")});
    const int labelled = view_->plotRect().left();
    QVERIFY2(labelled > plain, qPrintable(QStringLiteral("%1 <= %2").arg(labelled).arg(plain)));
    QFont big = view_->font();
    big.setPointSizeF(big.pointSizeF() * 1.5);
    view_->setFont(big);
    const int bigger = view_->plotRect().left();
    QVERIFY2(bigger > labelled, qPrintable(QStringLiteral("%1 <= %2").arg(bigger).arg(labelled)));
    view_->resize(400, 320);  // capped at a quarter of the view
    QCOMPARE(view_->plotRect().left(), std::max(QFontMetrics(big).horizontalAdvance(QStringLiteral("Stage 00  ")), 100) + 12);
    view_->setStageLabels({});
    view_->setFont(QFont());
    view_->resize(1000, 320);
    QCOMPARE(view_->plotRect().left(), plain);
  }

  void theComputeClockLeavesPausesOut() {
    TelemetryBatch b;
    b.ops.push_back(test::make_op(0, OpKind::Forward, 0, 0, 1'000'000));
    b.ops.push_back(test::make_op(0, OpKind::Forward, 1, 5'000'000'000, 5'001'000'000));  // after a 5 s pause
    view_->appendBatch(b);
    QCOMPARE(view_->model().endNs(), std::int64_t(5'001'000'000));
    view_->setClock(TimelineClock::Compute);
    QCOMPARE(view_->model().endNs(), std::int64_t(2'000'000));
    view_->grab();
    QCOMPARE(view_->lastPaintStats().visible, std::size_t(2));
    // Both boxes carry their label: the scale is capped by the shortest op.
    QVERIFY(1'000'000 / view_->nsPerPx() >= view_->labelWidthPx() - 0.5);
  }

  void boxLabelsNameMinibatchChunkAndTheVersionRead() {
    OpEvent f = test::make_op(0, OpKind::Forward, 61, 0, 100, 61, 58, 61);
    OpEvent b = test::make_op(0, OpKind::Backward, 61, 100, 300, 61, 61, 61);
    QCOMPARE(view_->opLabel(f), QStringLiteral("F61"));  // no run yet: versions do not vary
    TelemetryBatch batch;
    batch.ops = {f, b};
    view_->appendBatch(batch);
    QCOMPARE(view_->opLabel(f), QStringLiteral("F61 · v58"));
    QCOMPARE(view_->opLabel(b), QStringLiteral("B61 · v61"));
    QCOMPARE(view_->opLabel(f, /*two_lines=*/true), QStringLiteral("F61\nv58"));
    // Several chunks per device: the chunk joins the name, as SCHEDULES.md writes it.
    view_->clear();
    TelemetryBatch chunks;
    for (int c = 0; c < 4; ++c) {
      OpEvent e = test::make_op(c, OpKind::Forward, 3, c * 100, c * 100 + 100);
      e.micro = 1;
      e.device = c % 2;
      chunks.ops.push_back(e);
    }
    view_->appendBatch(chunks);
    QCOMPARE(view_->opLabel(chunks.ops[2]), QStringLiteral("F3.1@2"));
  }

  void theOpThatJustRanIsOutlinedWhileStepping() {
    view_->appendBatch(test::make_stream(2, 3, 1000));
    view_->setClock(TimelineClock::Slots);
    view_->setMarkLatest(true);
    TelemetryBatch step;
    step.ops.push_back(test::make_op(0, OpKind::Forward, 7, 100'000, 101'000));
    view_->appendBatch(step);
    QCOMPARE(view_->latestText(), QStringLiteral("just ran: F7 on device 0"));
    const QImage image = view_->grab().toImage();
    const auto& ops = view_->model().ops(0);
    const ClockSpan sp = view_->model().span(0, ops.size() - 1);
    const QRect row = view_->stageRowRect(0);
    const int x = qRound(view_->xForTime(sp.t_start_ns) + static_cast<double>(sp.t_end_ns - sp.t_start_ns) / view_->nsPerPx() / 2);
    const QColor outline = image.pixelColor(x, row.top() + 1);
    QVERIFY2(outline.red() > 180 && outline.green() < 90 && outline.blue() < 90, qPrintable(outline.name()));
    view_->setMarkLatest(false);
    QVERIFY(view_->latestText().isEmpty());
  }

  void kindsHaveTheVisualizersColours() {
    const QColor f = minibatch_color(0, OpKind::Forward), b = minibatch_color(0, OpKind::Backward),
                 i = minibatch_color(0, OpKind::InputGrad), w = minibatch_color(0, OpKind::WeightGrad), o = overlap_color(0);
    QVERIFY(f.blue() > f.red() && f.blue() > f.green());     // F blue
    QVERIFY(b.red() > b.green() && b.green() > b.blue());    // B orange
    QVERIFY(i.green() > i.red() && i.blue() > i.red());      // I teal
    QVERIFY(w.green() > w.red() && w.green() > w.blue());    // W green
    QVERIFY(o.red() > o.green() && o.blue() > o.green());    // overlapped pair purple
    QVERIFY(minibatch_color(0, OpKind::Forward) != minibatch_color(1, OpKind::Forward));  // neighbours differ
    QCOMPARE(minibatch_color(0, OpKind::Forward), minibatch_color(3, OpKind::Forward));
    QCOMPARE(minibatch_color(0, OpKind::Forward).hue(), minibatch_color(1, OpKind::Forward).hue());  // same kind, same hue
  }

  void changingTheClockFollowsTheLiveEdgeAgain() {
    view_->appendBatch(test::make_stream(2, 50, 1000000));
    view_->setVisibleRange(10000000, 20000000);
    QVERIFY(!view_->followLive());
    view_->setClock(TimelineClock::Slots);
    QVERIFY(view_->followLive());
    QVERIFY(view_->visibleEnd() >= view_->model().endNs());
    QCOMPARE(view_->model().transfers(0).size(), std::size_t(0));
    view_->setClock(TimelineClock::Wall);
    QVERIFY(view_->visibleEnd() >= view_->model().endNs());
  }

  void followsTheWholeRunUntilTheUserZooms() {
    view_->appendBatch(test::make_stream(2, 20, 1000000));
    QVERIFY(view_->followLive());
    QVERIFY(view_->visibleStart() <= view_->model().startNs());
    QVERIFY(view_->visibleEnd() >= view_->model().endNs());
    const std::int64_t end_before = view_->model().endNs();
    TelemetryBatch more;
    more.ops.push_back(test::make_op(0, OpKind::Forward, 21, end_before, end_before + 5000000));
    view_->appendBatch(more);
    QVERIFY(view_->visibleEnd() >= end_before + 5000000);
  }

  void aLongRunSlidesWithALiveWindow() {
    view_->setLiveWindow(10000000);                          // 10 ms
    view_->appendBatch(test::make_stream(2, 20, 1000000));  // ~60 ms
    QVERIFY(view_->followLive());
    const std::int64_t span = view_->visibleEnd() - view_->visibleStart();
    QVERIFY2(qAbs(span - 10000000) < 100000, qPrintable(QString::number(span)));
    QVERIFY(view_->visibleEnd() >= view_->model().endNs());
    QVERIFY(view_->visibleStart() > view_->model().startNs());
    view_->fit();  // F: the whole run, and it stays whole as the run grows
    QVERIFY(view_->visibleStart() <= view_->model().startNs());
    const std::int64_t end = view_->model().endNs();
    TelemetryBatch more;
    more.ops.push_back(test::make_op(0, OpKind::Forward, 30, end, end + 30000000));
    view_->appendBatch(more);
    QVERIFY(view_->visibleStart() <= view_->model().startNs());
    QVERIFY(view_->visibleEnd() >= end + 30000000);
  }

  void paintsOnlyTheVisibleBoxes() {
    view_->appendBatch(test::make_stream(3, 200, 1000000));
    const std::int64_t t0 = 50000000, t1 = 60000000;
    view_->setVisibleRange(t0, t1);
    view_->grab();
    const TimelinePaintStats& stats = view_->lastPaintStats();
    // The view asks for its whole pixel width, which may reach a little past t1.
    QCOMPARE(stats.visible, overlapping(view_->model(), view_->visibleStart(), view_->visibleEnd()));
    QVERIFY(stats.visible < view_->model().opCount() / 10);
    QCOMPARE(stats.drawn + stats.merged, stats.visible);  // wide boxes: nothing to merge, each drawn once
  }

  void mergesSubPixelBoxesPerPixelColumn() {
    view_->appendBatch(test::make_stream(2, 20000, 1000));  // 120k ops, far narrower than a pixel
    view_->fit();
    view_->grab();
    const TimelinePaintStats& stats = view_->lastPaintStats();
    QCOMPARE(stats.visible, view_->model().opCount());
    const std::size_t columns = std::size_t(view_->plotRect().width()) + 2;
    // Per stage row at most one F/B rectangle and one U tick per pixel column.
    QVERIFY2(stats.drawn <= 2 * 2 * columns, qPrintable(QString::number(stats.drawn)));
    QCOMPARE(stats.drawn + stats.merged, stats.visible);
  }

  void hoverFindsTheOpUnderTheMouse() {
    TelemetryBatch b;
    b.ops.push_back(test::make_op(0, OpKind::Forward, 3, 0, 1000000, 1, 1, 4));
    b.ops.push_back(test::make_op(1, OpKind::Backward, 2, 2000000, 3000000, 5, 2, 2));
    view_->appendBatch(b);
    view_->setVisibleRange(0, 4000000);
    const int y1 = view_->stageRowRect(1).center().y();
    auto hit = view_->hitTest(QPoint(qRound(view_->xForTime(2500000)), y1));
    QVERIFY(hit.has_value());
    QCOMPARE(hit->row, 1);
    QCOMPARE(view_->model().ops(1)[hit->index].minibatch, 2);
    QVERIFY(!view_->hitTest(QPoint(qRound(view_->xForTime(500000)), y1)).has_value());  // stage 1 idle there
    const QString tip = view_->toolTipText(*view_->hitTest(QPoint(qRound(view_->xForTime(500000)), view_->stageRowRect(0).center().y())));
    QVERIFY2(tip.contains(QStringLiteral("staleness <b>3</b>")), qPrintable(tip));
    QVERIFY(tip.contains(QStringLiteral("basis 1")));
    QVERIFY(tip.contains(QStringLiteral("minibatch 3")));
  }

  void transfersShowOnTheLaneBetweenStagesWithBytesAndDuration() {
    TelemetryBatch b;
    b.ops.push_back(test::make_op(0, OpKind::Forward, 2, 0, 1000000));
    b.ops.push_back(test::make_op(1, OpKind::Forward, 2, 1600000, 2600000));
    b.transfers.push_back(TransferEvent{0, 1, false, 2, -1, 1000000, 1500000, 3 * 1024});  // activation 0 -> 1
    b.transfers.push_back(TransferEvent{1, 0, true, 1, -1, 1100000, 1700000, 512});       // gradient 1 -> 0
    view_->appendBatch(b);
    view_->setVisibleRange(0, 3000000);
    QCOMPARE(view_->model().laneCount(), 1);
    QCOMPARE(view_->model().transfers(0).size(), std::size_t(2));
    view_->grab();
    QCOMPARE(view_->lastPaintStats().visible, std::size_t(2 + 2));  // two ops, two transfers
    const QRect lane = view_->laneRect(0);
    const int x = qRound(view_->xForTime(1300000));  // both transfers are in flight here
    const auto top = view_->hitTest(QPoint(x, lane.top() + 1));
    QVERIFY(top.has_value());
    QCOMPARE(int(top->kind), int(TimelineHit::Kind::Transfer));
    QVERIFY(!view_->model().transfers(0)[top->index].gradient);  // activations on the upper half
    const QString tip = view_->toolTipText(*top);
    QVERIFY2(tip.contains(QStringLiteral("3.0 KiB")) && tip.contains(QStringLiteral("500.0 µs")), qPrintable(tip));
    QVERIFY(tip.contains(QStringLiteral("stage 0 → 1")));
    const auto bottom = view_->hitTest(QPoint(x, lane.bottom()));
    QVERIFY(bottom.has_value());
    QVERIFY(view_->model().transfers(0)[bottom->index].gradient);
    QVERIFY(view_->toolTipText(*bottom).contains(QStringLiteral("512 B")));
  }

  void subPixelTransfersAreMergedPerPixelColumn() {
    TelemetryBatch b = test::make_stream(2, 20000, 1000);
    for (int i = 0; i < 100000; ++i)
      b.transfers.push_back(TransferEvent{0, 1, i % 2 == 1, i / 2, -1, i * 400LL, i * 400LL + 100, 4096});  // within the ops
    view_->appendBatch(b);
    view_->setVisibleRange(0, 2 * 20000 * 2100);  // the whole run (fit() may follow a live window)
    view_->grab();
    const TimelinePaintStats& stats = view_->lastPaintStats();
    QCOMPARE(stats.visible, view_->model().opCount() + 100000);
    const std::size_t columns = std::size_t(view_->plotRect().width()) + 2;
    // Two stage rows (a box and a tick per column) and the lane's two halves (one bar per column each).
    QVERIFY2(stats.drawn <= 2 * 2 * columns + 2 * columns, qPrintable(QString::number(stats.drawn)));
    QCOMPARE(stats.drawn + stats.merged, stats.visible);
  }

  void clickHighlightsAMinibatchAcrossStages() {
    view_->appendBatch(test::make_stream(3, 10, 1000000));
    view_->setVisibleRange(0, 8000000);
    QSignalSpy spy(view_.get(), &TimelineView::minibatchHighlighted);
    const OpEvent& target = view_->model().ops(1).at(3);  // stage 1's fourth op
    const QPoint at(qRound(view_->xForTime((target.t_start_ns + target.t_end_ns) / 2)), view_->stageRowRect(1).center().y());
    QTest::mouseClick(view_.get(), Qt::LeftButton, {}, at);
    QCOMPARE(view_->highlightedMinibatch(), target.minibatch);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), target.minibatch);
    QTest::mouseClick(view_.get(), Qt::LeftButton, {}, at);  // again: clears
    QCOMPARE(view_->highlightedMinibatch(), -1);
  }

  void dragPansAndStopsFollowing() {
    view_->appendBatch(test::make_stream(2, 50, 1000000));
    view_->setVisibleRange(10000000, 20000000);
    const std::int64_t start = view_->visibleStart();
    const double ns_per_px = double(view_->visibleEnd() - view_->visibleStart()) / view_->plotRect().width();
    const QPoint from = view_->stageRowRect(0).center();
    QTest::mousePress(view_.get(), Qt::LeftButton, {}, from);
    QTest::mouseMove(view_.get(), from + QPoint(100, 0));
    QTest::mouseRelease(view_.get(), Qt::LeftButton, {}, from + QPoint(100, 0));
    QVERIFY(qAbs(double(start - view_->visibleStart()) - 100 * ns_per_px) <= 2 * ns_per_px);
    QVERIFY(!view_->followLive());
    QCOMPARE(view_->highlightedMinibatch(), -1);  // a drag is not a click
  }

  void wheelZoomsAroundTheCursor() {
    view_->appendBatch(test::make_stream(2, 50, 1000000));
    view_->setVisibleRange(0, 100000000);
    const double x = view_->plotRect().left() + 300;
    const std::int64_t anchor = view_->timeForX(x);
    const std::int64_t span = view_->visibleEnd() - view_->visibleStart();
    QWheelEvent wheel(QPointF(x, 50), view_->mapToGlobal(QPointF(x, 50)), {}, QPoint(0, 240), Qt::NoButton, {},
                      Qt::NoScrollPhase, false);
    QApplication::sendEvent(view_.get(), &wheel);
    QVERIFY(view_->visibleEnd() - view_->visibleStart() < span * 3 / 4);
    QVERIFY(qAbs(view_->timeForX(x) - anchor) < span / 1000);
  }

  void aRepartitionMarkIsDrawnAcrossEveryRowWithItsLabel() {
    view_->appendBatch(test::make_stream(3, 10, 1000000));
    TelemetryBatch mark;
    mark.marks.push_back(RunMark{12500000, 4, "repartition", "partition 2,4 -> 3,5 at step 4", {2, 4}, {3, 5}});
    view_->appendBatch(mark);  // a batch with a mark only still lands
    view_->setVisibleRange(0, 30000000);
    QCOMPARE(view_->model().marks().size(), std::size_t(1));
    const QImage image = view_->grab().toImage();
    QCOMPARE(view_->lastPaintStats().marks_drawn, std::size_t(1));
    const int x = qRound(view_->xForTime(12500000));
    // The line crosses every stage row in the mark's colour.
    for (int k = 0; k < 3; ++k) {
      bool purple = false;
      for (int dx = -1; dx <= 1 && !purple; ++dx)
        for (int y = view_->stageRowRect(k).top(); y <= view_->stageRowRect(k).bottom() && !purple; ++y) {
          const QColor c = image.pixelColor(x + dx, y);
          purple = c.red() == 142 && c.green() == 36 && c.blue() == 170;
        }
      QVERIFY2(purple, qPrintable(QStringLiteral("no mark line on stage %1").arg(k)));
    }
    const auto hit = view_->hitTest(QPoint(x + 1, view_->stageRowRect(1).center().y()));
    QVERIFY(hit.has_value());
    QCOMPARE(int(hit->kind), int(TimelineHit::Kind::Mark));
    const QString tip = view_->toolTipText(*hit);
    QVERIFY2(tip.contains(QStringLiteral("repartition 3,5")) && tip.contains(QStringLiteral("step 4")) &&
                 tip.contains(QStringLiteral("partition 2,4 -&gt; 3,5")),
             qPrintable(tip));
    // Away from the line the boxes answer as before.
    const auto op = view_->hitTest(QPoint(qRound(view_->xForTime(20500000)), view_->stageRowRect(1).center().y()));
    QVERIFY(op.has_value());
    QCOMPARE(int(op->kind), int(TimelineHit::Kind::Op));
    // Scrolled away the mark is not drawn, and it is still there when it comes back.
    view_->setVisibleRange(20000000, 30000000);
    view_->grab();
    QCOMPARE(view_->lastPaintStats().marks_drawn, std::size_t(0));
    view_->setVisibleRange(10000000, 15000000);
    view_->grab();
    QCOMPARE(view_->lastPaintStats().marks_drawn, std::size_t(1));
  }

  void ghostOpsAreDrawnInTheirOwnRowsAndCanBeHidden() {
    view_->appendBatch(test::make_stream(2, 10, 1000000));
    QSignalSpy shown(view_.get(), &TimelineView::showGhostChanged);
    const QRect row_before = view_->stageRowRect(0);
    QVERIFY(view_->ghostRowRect(0).isEmpty());  // no ghost yet: no ghost rows
    TelemetryBatch predicted = test::make_stream(2, 10, 800000);  // the prediction: 20% faster
    view_->setGhostOps(predicted.ops);
    view_->setVisibleRange(0, 12000000);
    QVERIFY(view_->ghostRowsVisible());
    const QRect ghost = view_->ghostRowRect(1);
    QVERIFY(!ghost.isEmpty());
    QVERIFY(ghost.top() > view_->stageRowRect(1).bottom());
    QVERIFY(view_->ghostRowRect(0).bottom() < view_->laneRect(0).top());  // stage band, then the lane
    QVERIFY(ghost.top() > view_->laneRect(0).bottom());
    QVERIFY(view_->stageRowRect(0).height() < row_before.height());  // the band is shared
    view_->grab();
    TimelinePaintStats stats = view_->lastPaintStats();
    std::size_t expected = 0;
    for (const auto& e : predicted.ops)
      if (e.t_start_ns < view_->visibleEnd()) ++expected;
    QCOMPARE(stats.ghost_visible, expected);
    QVERIFY(stats.ghost_drawn > 0);
    QCOMPARE(stats.visible, overlapping(view_->model(), view_->visibleStart(), view_->visibleEnd()));  // measured unchanged

    // The ghost's op under the mouse, in the ghost row; the measured one in the stage row above it.
    const OpEvent& target = view_->model().ghostOps(1).at(4);
    const int x = qRound(view_->xForTime((target.t_start_ns + target.t_end_ns) / 2));
    const auto hit = view_->hitTest(QPoint(x, ghost.center().y()));
    QVERIFY(hit.has_value());
    QCOMPARE(int(hit->kind), int(TimelineHit::Kind::Ghost));
    QCOMPARE(hit->row, 1);
    QCOMPARE(hit->index, std::size_t(4));
    QVERIFY(view_->toolTipText(*hit).contains(QStringLiteral("predicted")));
    const auto measured = view_->hitTest(QPoint(x, view_->stageRowRect(1).center().y()));
    QVERIFY(measured.has_value());
    QCOMPARE(int(measured->kind), int(TimelineHit::Kind::Op));

    view_->setShowGhost(false);
    QCOMPARE(shown.count(), 1);
    QVERIFY(!view_->ghostRowsVisible());
    QVERIFY(view_->ghostRowRect(1).isEmpty());
    QCOMPARE(view_->stageRowRect(0), row_before);
    view_->grab();
    QCOMPARE(view_->lastPaintStats().ghost_visible, std::size_t(0));
    QCOMPARE(view_->lastPaintStats().ghost_drawn, std::size_t(0));
    const auto none = view_->hitTest(QPoint(x, ghost.center().y()));
    QVERIFY(!none || none->kind != TimelineHit::Kind::Ghost);
    view_->setShowGhost(true);
    view_->grab();
    QVERIFY(view_->lastPaintStats().ghost_drawn > 0);
  }

  void aGhostAloneIsFittedBeforeTheRunStarts() {
    view_->setStageCount(2);
    const TelemetryBatch predicted = test::make_stream(2, 50, 1000000);
    view_->setGhostOps(predicted.ops);
    QVERIFY(view_->visibleStart() <= 0);
    QVERIFY(view_->visibleEnd() >= view_->model().ghostEndNs());
    view_->grab();
    QCOMPARE(view_->lastPaintStats().ghost_visible, predicted.ops.size());
  }

  void theGhostsHintIsWrittenUnderTheRowsNeverOnThem() {
    for (int stages : {1, 2, 4, 8}) {
      view_->clear();
      view_->setStageCount(stages);
      view_->setGhostOps(test::make_stream(stages, 5, 1000000).ops);
      const QRect hint = view_->hintRect();
      QVERIFY(!hint.isEmpty());
      QVERIFY2(view_->rect().contains(hint), qPrintable(QStringLiteral("%1 stages").arg(stages)));
      for (int k = 0; k < stages; ++k) {
        QVERIFY(!hint.intersects(view_->ghostRowRect(k)));
        QVERIFY(!hint.intersects(view_->stageRowRect(k)));
      }
      QVERIFY(hint.height() >= view_->fontMetrics().height());
    }
    view_->appendBatch(test::make_stream(1, 1, 1000));  // measured ops: no hint
    QVERIFY(view_->hintRect().isEmpty());
  }

  void clearForgetsEverything() {
    view_->appendBatch(test::make_stream(2, 5, 1000));
    view_->setHighlightedMinibatch(2);
    view_->setGhostOps(test::make_stream(2, 5, 1000).ops);
    view_->clear();
    QVERIFY(view_->model().empty());
    QVERIFY(!view_->model().hasGhost());
    QCOMPARE(view_->highlightedMinibatch(), -1);
    QVERIFY(view_->followLive());
  }
};

PS_WIDGET_TEST_MAIN(TestTimelineView)
#include "tst_timeline_view.moc"

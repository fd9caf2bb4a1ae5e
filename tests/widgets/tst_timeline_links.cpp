// A clicked box's links: to the update that made the weights the pass read and to its partner passes.
// The model side is checked on hand-made op streams whose versions are known; the view side on where
// the arrows start and land (box geometry, not pixels), and on what clears them.
#include <QtTest>

#include "fixtures.h"
#include "widgets/timeline_links.h"
#include "widgets/timeline_view.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {

// Asynchronous 1F1B on 2 stages with 'latest', as the engine records it: stage 0 runs F0 F1 B0 U0 F2 B1
// U1 F3 B2 U2; an update's live version is the one before it, so U0 makes v1, U1 v2, U2 v3. Stage 1
// runs F0 B0 U0 F1 B1 U1 F2 B2 U2. Each op is 1 us; the stages' times interleave like a real run.
TelemetryBatch async_two_stages() {
  TelemetryBatch b;
  auto add = [&](int stage, OpKind kind, int mb, std::int64_t slot, std::int64_t live) {
    const std::int64_t t = slot * 1000;
    b.ops.push_back(test::make_op(stage, kind, mb, t, t + (kind == OpKind::Update ? 100 : 1000), live, live, mb));
  };
  // stage 0
  add(0, OpKind::Forward, 0, 0, 0);
  add(0, OpKind::Forward, 1, 1, 0);   // reads v0, target 1: stale
  add(0, OpKind::Backward, 0, 4, 0);
  add(0, OpKind::Update, 0, 5, 0);    // makes v1
  add(0, OpKind::Forward, 2, 6, 1);   // reads v1 (made by U0), target 2
  add(0, OpKind::Backward, 1, 9, 1);  // 'latest': reads v1, not the v0 its forward read
  add(0, OpKind::Update, 1, 10, 1);   // makes v2
  add(0, OpKind::Forward, 3, 11, 2);
  add(0, OpKind::Backward, 2, 14, 2);
  add(0, OpKind::Update, 2, 15, 2);   // makes v3
  // stage 1
  add(1, OpKind::Forward, 0, 1, 0);
  add(1, OpKind::Backward, 0, 2, 0);
  add(1, OpKind::Update, 0, 3, 0);
  add(1, OpKind::Forward, 1, 7, 1);
  add(1, OpKind::Backward, 1, 8, 1);
  add(1, OpKind::Update, 1, 9, 1);
  add(1, OpKind::Forward, 2, 12, 2);
  add(1, OpKind::Backward, 2, 13, 2);
  add(1, OpKind::Update, 2, 14, 2);
  return b;
}

// The index in `row` of the op with this kind and minibatch (and microbatch, chunk when given).
std::size_t index_of(const TimelineModel& m, int row, OpKind kind, int mb, int micro = -1, int chunk = -1) {
  const auto& ops = m.ops(row);
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (ops[i].kind == kind && ops[i].minibatch == mb && ops[i].micro == micro && (chunk < 0 || ops[i].stage == chunk))
      return i;
  qFatal("no such op");
  return 0;
}

// What a link points at, in words: "U0", "B2", "W1.0@2".
QString target(const TimelineModel& m, const TimelineLink& l) {
  const OpEvent& e = m.ops(l.to.row)[l.to.index];
  QString s = QString::fromStdString(op_name({e.kind, e.minibatch, e.micro}));
  if (e.stage != l.to.row) s += QStringLiteral("@%1").arg(e.stage);
  return (l.kind == TimelineLink::Kind::Weights ? QStringLiteral("weights ") : QStringLiteral("partner ")) + s;
}

QStringList targets(const TimelineModel& m, const std::vector<TimelineLink>& links) {
  QStringList out;
  for (const auto& l : links) out << target(m, l);
  return out;
}

}  // namespace

class TestTimelineLinks : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // ---- which ops are linked ------------------------------------------------------------------------

  void aPassLinksToTheUpdateThatMadeItsWeightsAndToItsPartner() {
    TimelineModel m;
    m.append(async_two_stages());
    // F2 on stage 0 read v1: made by stage 0's first update (U0), not stage 1's U0 (another chunk).
    QCOMPARE(targets(m, op_links(m, {0, index_of(m, 0, OpKind::Forward, 2)})),
             (QStringList{QStringLiteral("weights U0"), QStringLiteral("partner B2")}));
    const auto f2 = op_links(m, {0, index_of(m, 0, OpKind::Forward, 2)});
    QCOMPARE(f2[0].to, (OpRef{0, index_of(m, 0, OpKind::Update, 0)}));
    // Latest's inconsistency, visible: F1 read the initial weights (no update link), B1 read v1 (U0).
    QCOMPARE(targets(m, op_links(m, {0, index_of(m, 0, OpKind::Forward, 1)})), (QStringList{QStringLiteral("partner B1")}));
    QCOMPARE(targets(m, op_links(m, {0, index_of(m, 0, OpKind::Backward, 1)})),
             (QStringList{QStringLiteral("weights U0"), QStringLiteral("partner F1")}));
    // F3 read v2: the second update (U1).
    QCOMPARE(targets(m, op_links(m, {0, index_of(m, 0, OpKind::Forward, 3)})), (QStringList{QStringLiteral("weights U1")}));
    // Stage 1's F2 read v2 of stage 1: its own U1.
    const auto s1 = op_links(m, {1, index_of(m, 1, OpKind::Forward, 2)});
    QCOMPARE(targets(m, s1), (QStringList{QStringLiteral("weights U1"), QStringLiteral("partner B2")}));
    QCOMPARE(s1[0].to.row, 1);
    // An update has no links.
    QVERIFY(op_links(m, {0, index_of(m, 0, OpKind::Update, 1)}).empty());
    QVERIFY(op_links(m, {0, 999}).empty());
  }

  void aSplitBackwardLinksFIAndWOfTheSameMicrobatchAndChunk() {
    // One device holding chunks 0 and 2 (loop placement), two microbatches, version 3 everywhere:
    // each chunk's update of minibatch 2 (live 2) made it. The other chunk's update has the same
    // live version and must not be picked.
    TimelineModel m;
    TelemetryBatch b;
    std::int64_t t = 0;
    auto add = [&](int chunk, OpKind kind, int mb, int micro, std::int64_t live) {
      OpEvent e = test::make_op(chunk, kind, mb, t, t + (kind == OpKind::Update ? 10 : 100), live, live, mb);
      e.micro = micro;
      e.device = 0;
      b.ops.push_back(e);
      t += 100;
    };
    add(0, OpKind::Update, 2, -1, 2);
    add(2, OpKind::Update, 2, -1, 2);
    for (int micro = 0; micro < 2; ++micro) add(0, OpKind::Forward, 3, micro, 3);
    for (int micro = 0; micro < 2; ++micro) add(2, OpKind::Forward, 3, micro, 3);
    for (int micro = 0; micro < 2; ++micro) add(2, OpKind::InputGrad, 3, micro, 3);
    for (int micro = 0; micro < 2; ++micro) add(0, OpKind::InputGrad, 3, micro, 3);
    for (int micro = 0; micro < 2; ++micro) add(2, OpKind::WeightGrad, 3, micro, 3);
    for (int micro = 0; micro < 2; ++micro) add(0, OpKind::WeightGrad, 3, micro, 3);
    m.append(b);
    QCOMPARE(m.stageCount(), 1);
    QCOMPARE(targets(m, op_links(m, {0, index_of(m, 0, OpKind::Forward, 3, 1, 2)})),
             (QStringList{QStringLiteral("weights U2@2"), QStringLiteral("partner I3.1@2"), QStringLiteral("partner W3.1@2")}));
    QCOMPARE(targets(m, op_links(m, {0, index_of(m, 0, OpKind::WeightGrad, 3, 0, 0)})),
             (QStringList{QStringLiteral("weights U2"), QStringLiteral("partner F3.0"), QStringLiteral("partner I3.0")}));
    QCOMPARE(op_links(m, {0, index_of(m, 0, OpKind::InputGrad, 3, 0, 0)})[0].to, (OpRef{0, 0}));  // chunk 0's update
    QCOMPARE(op_links(m, {0, index_of(m, 0, OpKind::InputGrad, 3, 0, 2)})[0].to, (OpRef{0, 1}));  // chunk 2's
  }

  void theUpdateMakingAVersionIsTheChunksNthUpdate() {
    TimelineModel m;
    m.append(async_two_stages());
    QCOMPARE(update_making(m, 0, 3, 0), (std::optional<OpRef>{OpRef{0, index_of(m, 0, OpKind::Update, 2)}}));
    QVERIFY(!update_making(m, 0, 0, 0));  // the initial weights
    QVERIFY(!update_making(m, 0, 4, 0));  // not made yet
  }

  // ---- the view: click, arrows, clearing ------------------------------------------------------------

  void clickingABoxDrawsArrowsFromItToTheLinkedBoxes() {
    TimelineView view;
    view.resize(1000, 320);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.appendBatch(async_two_stages());
    view.setClock(TimelineClock::Slots);
    view.fit();
    const TimelineModel& m = view.model();
    const OpRef f2{0, index_of(m, 0, OpKind::Forward, 2)};
    const auto box = view.opBoxRect(f2);
    QVERIFY(box);
    QTest::mouseClick(&view, Qt::LeftButton, {}, box->center().toPoint());
    QCOMPARE(view.selectedOp(), std::optional<OpRef>(f2));
    QCOMPARE(targets(m, view.links()), (QStringList{QStringLiteral("weights U0"), QStringLiteral("partner B2")}));
    QCOMPARE(view.highlightedMinibatch(), 2);
    QCOMPARE(view.linksText(), QStringLiteral("F2: read v1, made by the update after minibatch 0 · partner B2"));
    // Every arrow leaves the clicked box and lands on the box of the op it names.
    const auto arrows = view.linkArrows();
    QCOMPARE(arrows.size(), std::size_t(2));
    for (const TimelineArrow& a : arrows) {
      const QRectF to = *view.opBoxRect(a.link.to);
      QVERIFY(box->adjusted(-0.5, -0.5, 0.5, 0.5).contains(a.from));
      QVERIFY2(to.adjusted(-0.5, -0.5, 0.5, 0.5).contains(a.to), qPrintable(target(m, a.link)));
    }
    // The weights arrow goes back in time (the update ran before the pass), the partner's forward.
    QVERIFY(arrows[0].to.x() < arrows[0].from.x());
    QVERIFY(arrows[1].to.x() > arrows[1].from.x());
    view.grab();  // paints with the arrows

    // A second click on the same box clears them.
    QTest::mouseClick(&view, Qt::LeftButton, {}, box->center().toPoint());
    QVERIFY(!view.selectedOp());
    QVERIFY(view.links().empty());
    QVERIFY(view.linkArrows().empty());
    QCOMPARE(view.highlightedMinibatch(), -1);

    // Esc clears them too, and says so to the window's shortcut guard while there is something to clear.
    QTest::mouseClick(&view, Qt::LeftButton, {}, box->center().toPoint());
    QVERIFY(view.selectedOp());
    QVERIFY(view.property("escapeClears").toBool());
    QTest::keyClick(&view, Qt::Key_Escape);
    QVERIFY(!view.selectedOp());
    QVERIFY(!view.property("escapeClears").toBool());

    // Clicking another box moves the selection; an update's tick selects nothing.
    const OpRef b1{0, index_of(m, 0, OpKind::Backward, 1)};
    QTest::mouseClick(&view, Qt::LeftButton, {}, view.opBoxRect(b1)->center().toPoint());
    QCOMPARE(view.selectedOp(), std::optional<OpRef>(b1));
    QCOMPARE(targets(m, view.links()), (QStringList{QStringLiteral("weights U0"), QStringLiteral("partner F1")}));
    view.selectOp(OpRef{0, index_of(m, 0, OpKind::Update, 0)});
    QVERIFY(!view.selectedOp());
  }

  void aPartnerThatRunsLaterJoinsTheLinksAndTheSelectionFollowsItsOp() {
    TimelineView view;
    view.resize(800, 240);
    TelemetryBatch first;
    first.ops.push_back(test::make_op(0, OpKind::Forward, 0, 0, 1000));
    first.ops.push_back(test::make_op(0, OpKind::Forward, 1, 1000, 2000));
    view.appendBatch(first);
    const OpRef f1{0, 1};
    view.selectOp(f1);
    QVERIFY(view.links().empty());  // read v0, no backward yet
    QCOMPARE(view.linksText(), QStringLiteral("F1: read the initial weights v0"));
    TelemetryBatch later;
    later.ops.push_back(test::make_op(0, OpKind::Backward, 1, 5000, 6000));
    view.appendBatch(later);
    QCOMPARE(targets(view.model(), view.links()), (QStringList{QStringLiteral("partner B1")}));
    // An op that started earlier arrives late (another thread's batch): the row's indices move by one.
    TelemetryBatch earlier;
    earlier.ops.push_back(test::make_op(0, OpKind::Backward, 0, 500, 900));
    view.appendBatch(earlier);
    QCOMPARE(view.selectedOp(), std::optional<OpRef>(OpRef{0, 2}));
    QCOMPARE(view.model().ops(0)[2].minibatch, 1);
    QCOMPARE(targets(view.model(), view.links()), (QStringList{QStringLiteral("partner B1")}));
    view.clear();
    QVERIFY(!view.selectedOp());
    QVERIFY(view.links().empty());
  }
};

PS_WIDGET_TEST_MAIN(TestTimelineLinks)
#include "tst_timeline_links.moc"

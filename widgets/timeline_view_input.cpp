// TimelineView's interaction: what is under the mouse (a box, a ghost box, a transfer, a mark), its
// tooltip, and wheel zoom, drag to pan and click to highlight a minibatch.
#include <QHelpEvent>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "widgets/format.h"
#include "widgets/timeline_text.h"
#include "widgets/timeline_view.h"

namespace ps::ui {
namespace {
constexpr double kMarkTolerancePx = 4;  // how near the mouse must be to a mark's line
}  // namespace

// --- interaction ------------------------------------------------------------------------------------

std::optional<TimelineHit> TimelineView::hitTest(const QPoint& pos) const {
  if (pos.x() >= 0 && pos.x() < plotRect().left()) {  // a stage's label (its band: the row and its ghost)
    for (int k = 0; k < model_.stageCount(); ++k)
      if (pos.y() >= bandRect(k).top() && pos.y() <= bandRect(k).bottom()) return TimelineHit{TimelineHit::Kind::Stage, k, 0};
    return std::nullopt;
  }
  if (!plotRect().contains(pos)) return std::nullopt;
  const std::int64_t t = timeForX(pos.x());
  const auto tolerance = static_cast<std::int64_t>(3 * ns_per_px_);
  // A mark's line wins over the boxes it crosses (they stay reachable a few pixels aside).
  if (auto m = model_.markAt(t, static_cast<std::int64_t>(kMarkTolerancePx * ns_per_px_)))
    return TimelineHit{TimelineHit::Kind::Mark, 0, *m};
  for (int k = 0; k < model_.stageCount(); ++k) {
    if (stageRowRect(k).contains(pos)) {
      if (auto i = model_.opAt(k, t, tolerance)) return TimelineHit{TimelineHit::Kind::Op, k, *i};
      return std::nullopt;
    }
    if (ghostRowsVisible() && ghostRowRect(k).contains(pos)) {
      if (auto i = model_.ghostOpAt(k, t, tolerance)) return TimelineHit{TimelineHit::Kind::Ghost, k, *i};
      return std::nullopt;
    }
  }
  for (int lane = 0; lane < model_.laneCount(); ++lane) {
    if (!laneRect(lane).contains(pos)) continue;
    // The nearest transfer of the half under the mouse (activations on top, gradients below).
    const bool gradient_half = pos.y() >= laneRect(lane).center().y();
    const IndexRange r = model_.visibleTransfers(lane, t - tolerance, t + tolerance + 1);
    std::optional<std::size_t> best;
    std::int64_t best_distance = std::numeric_limits<std::int64_t>::max();
    for (std::size_t i = r.first; i < r.last; ++i) {
      const TransferEvent& e = model_.transfers(lane)[i];
      const std::int64_t d = t < e.t_start_ns ? e.t_start_ns - t : (t >= e.t_end_ns ? t - e.t_end_ns + 1 : 0);
      const std::int64_t score = d + (e.gradient == gradient_half ? 0 : tolerance + 1);  // the other half only if alone
      if (score < best_distance) best_distance = score, best = i;
    }
    if (best) return TimelineHit{TimelineHit::Kind::Transfer, lane, *best};
  }
  return std::nullopt;
}

QString TimelineView::toolTipText(const TimelineHit& hit) const {
  static const char* const kKindNames[] = {"forward", "backward", "update", "input gradient", "weight gradient"};
  if (hit.kind == TimelineHit::Kind::Mark) {
    const RunMark& m = model_.marks()[hit.index];
    return tr("<b>%1</b> at %2, step %3<br>%4")
        .arg(mark_label(m).toHtmlEscaped(), time_label(static_cast<double>(m.t_ns), 1e6))
        .arg(m.step)
        .arg(QString::fromStdString(m.text).toHtmlEscaped());
  }
  if (hit.kind == TimelineHit::Kind::Stage) {  // "Stage 1 · cuda:0 (NVIDIA H200)", then its memory peaks
    QString text = tr("<b>Stage %1</b>").arg(hit.row);
    if (hit.row < stage_labels_.size()) text += QStringLiteral(" · ") + stage_labels_[hit.row].toHtmlEscaped();
    const QString memory = stageMemoryText(hit.row);
    if (!memory.isEmpty()) text += QStringLiteral("<br>") + memory;
    return QStringLiteral("<p style='white-space:pre'>%1</p>").arg(text);  // a line per figure, never wrapped
  }
  // "F3.1 · forward of minibatch 3, microbatch 1 · stage 2 / duration, start": measured and predicted ops.
  auto op_text = [&](const OpEvent& e, const QString& tag) {
    return tr("<b>%1</b>%2 · %3 of minibatch %4%5 · stage %6<br>duration %7, starts at %8")
        .arg(QString::fromStdString(op_name({e.kind, e.minibatch, e.micro})), tag)
        .arg(tr(kKindNames[static_cast<int>(e.kind)]))
        .arg(e.minibatch)
        .arg(e.micro >= 0 ? tr(", microbatch %1").arg(e.micro) : QString())
        .arg(hit.row)
        .arg(format_duration_ns(e.t_end_ns - e.t_start_ns), time_label(static_cast<double>(e.t_start_ns), 1e6));
  };
  if (hit.kind == TimelineHit::Kind::Ghost)
    return op_text(model_.ghostOps(hit.row)[hit.index], tr(" predicted")) +
           tr("<br><i>simulated from the model's profile</i>");
  if (hit.kind == TimelineHit::Kind::Transfer) {
    const TransferEvent& e = model_.transfers(hit.row)[hit.index];
    return tr("<b>%1</b> of minibatch %2%3<br>stage %4 → %5<br>%6 in %7")
        .arg(e.gradient ? tr("Gradient") : tr("Activation"))
        .arg(e.minibatch)
        .arg(e.micro >= 0 ? QStringLiteral(".%1").arg(e.micro) : QString())
        .arg(e.from_stage)
        .arg(e.to_stage)
        .arg(format_bytes(e.bytes), format_duration_ns(e.t_end_ns - e.t_start_ns));
  }
  const OpEvent& e = model_.ops(hit.row)[hit.index];
  QString text = op_text(e, QString());
  if (e.kind != OpKind::Update) {
    text += tr("<br>live version %1 · basis %2 · target %3<br>staleness <b>%4</b>")
                .arg(e.live_version)
                .arg(e.basis_version)
                .arg(e.target_version)
                .arg(e.staleness());
    if (e.divergence >= 0) text += tr(" · divergence %1").arg(e.divergence, 0, 'g', 3);
    if (e.prediction_gain >= 0) text += tr(" · prediction gain %1").arg(e.prediction_gain, 0, 'g', 3);
  }
  if (e.loss >= 0) text += tr("<br>loss %1").arg(e.loss, 0, 'g', 4);
  return text;
}

bool TimelineView::event(QEvent* event) {
  if (event->type() == QEvent::PaletteChange) rebuildColors();
  if (event->type() == QEvent::ShortcutOverride && selected_ && static_cast<QKeyEvent*>(event)->key() == Qt::Key_Escape) {
    event->accept();  // Esc clears the links first (keyPressEvent); the next Esc is the window's again
    return true;
  }
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    if (auto hit = hitTest(help->pos()))
      QToolTip::showText(help->globalPos(), toolTipText(*hit), this);
    else
      QToolTip::hideText();
    return true;
  }
  return QWidget::event(event);
}

void TimelineView::wheelEvent(QWheelEvent* event) {
  const double steps = event->angleDelta().y() / 120.0;
  if (steps == 0) return;
  zoomBy(std::pow(1.25, steps), event->position().x());
  event->accept();
}

void TimelineView::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return QWidget::mousePressEvent(event);
  press_pos_ = event->position().toPoint();
  press_t0_ = t0_;
  panned_ = false;
}

void TimelineView::mouseMoveEvent(QMouseEvent* event) {
  if (!press_pos_) return;
  const int dx = event->position().toPoint().x() - press_pos_->x();
  if (!panned_ && std::abs(dx) < 4) return;
  if (!panned_) {
    panned_ = true;
    mode_ = LiveMode::Window;
    setFollowLive(false);
    setCursor(Qt::ClosedHandCursor);
  }
  t0_ = press_t0_ - static_cast<std::int64_t>(std::llround(dx * ns_per_px_));
  update();
}

void TimelineView::mouseReleaseEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton || !press_pos_) return QWidget::mouseReleaseEvent(event);
  const bool was_click = !panned_;
  press_pos_.reset();
  unsetCursor();
  if (!was_click) return;
  const auto hit = hitTest(event->position().toPoint());
  int minibatch = -1;
  // A box: its links (a second click on it clears them, like the minibatch's highlight).
  std::optional<OpRef> op;
  if (hit && hit->kind == TimelineHit::Kind::Op) op = OpRef{hit->row, hit->index};
  selectOp(op && selected_ && *op == *selected_ ? std::nullopt : op);
  if (hit && hit->kind == TimelineHit::Kind::Op) minibatch = model_.ops(hit->row)[hit->index].minibatch;
  if (hit && hit->kind == TimelineHit::Kind::Transfer) minibatch = model_.transfers(hit->row)[hit->index].minibatch;
  if (hit && hit->kind == TimelineHit::Kind::Ghost) minibatch = model_.ghostOps(hit->row)[hit->index].minibatch;
  setHighlightedMinibatch(minibatch == highlight_ ? -1 : minibatch);
}

}  // namespace ps::ui

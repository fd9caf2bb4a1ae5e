// A clicked box's links: which ops they join (free functions over the model) and how the view selects,
// keeps, draws and clears them (TimelineView's members for the links live here, apart from the clock
// layout and the boxes in timeline_view.cpp).
#include "widgets/timeline_links.h"

#include <QKeyEvent>
#include <QPainter>
#include <QPainterPath>
#include <algorithm>
#include <cmath>

#include "widgets/timeline_view.h"

namespace ps::ui {
namespace {

bool same_op(const OpEvent& a, const OpEvent& b) {
  return a.kind == b.kind && a.stage == b.stage && a.minibatch == b.minibatch && a.micro == b.micro;
}

// Passes of one microbatch on one chunk (nf1b's group backward, microbatch -1, partners each forward).
bool same_pass(const OpEvent& a, const OpEvent& b) {
  return a.stage == b.stage && a.minibatch == b.minibatch && (a.micro == b.micro || a.micro < 0 || b.micro < 0);
}

// The row holding `from` first (a chunk lives on one device), then the others.
std::vector<int> rows_from(const TimelineModel& model, int first) {
  std::vector<int> rows{first};
  for (int k = 0; k < model.stageCount(); ++k)
    if (k != first) rows.push_back(k);
  return rows;
}

const QColor kWeightsColor(33, 33, 33);     // to the update: near black, solid
const QColor kPartnerColor(106, 27, 154);   // to the partner passes: deep purple, dashed

}  // namespace

std::optional<OpRef> update_making(const TimelineModel& model, int stage, std::int64_t version, int near_row) {
  if (version <= 0) return std::nullopt;  // the initial weights: no update made them
  for (int row : rows_from(model, std::clamp(near_row, 0, std::max(0, model.stageCount() - 1)))) {
    if (row >= model.stageCount()) continue;
    const std::vector<OpEvent>& ops = model.ops(row);
    for (std::size_t n = ops.size(); n-- > 0;)  // recent updates are the likely ones
      if (ops[n].kind == OpKind::Update && ops[n].stage == stage && ops[n].live_version == version - 1)
        return OpRef{row, n};
  }
  return std::nullopt;
}

std::optional<OpRef> find_op(const TimelineModel& model, const OpEvent& like, OpRef hint) {
  if (hint.row >= 0 && hint.row < model.stageCount() && hint.index < model.ops(hint.row).size() &&
      same_op(model.ops(hint.row)[hint.index], like))
    return hint;
  for (int row : rows_from(model, std::clamp(hint.row, 0, std::max(0, model.stageCount() - 1)))) {
    if (row >= model.stageCount()) continue;
    const std::vector<OpEvent>& ops = model.ops(row);
    for (std::size_t i = 0; i < ops.size(); ++i)
      if (same_op(ops[i], like)) return OpRef{row, i};
  }
  return std::nullopt;
}

std::vector<TimelineLink> op_links(const TimelineModel& model, OpRef from) {
  std::vector<TimelineLink> links;
  if (from.row < 0 || from.row >= model.stageCount() || from.index >= model.ops(from.row).size()) return links;
  const OpEvent& pass = model.ops(from.row)[from.index];
  if (pass.kind == OpKind::Update) return links;
  if (auto u = update_making(model, pass.stage, pass.basis_version, from.row))
    links.push_back({TimelineLink::Kind::Weights, *u});
  for (int row : rows_from(model, from.row)) {
    const std::vector<OpEvent>& ops = model.ops(row);
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const OpEvent& e = ops[i];
      if (e.kind == OpKind::Update || !same_pass(e, pass) || e.kind == pass.kind) continue;
      links.push_back({TimelineLink::Kind::Partner, {row, i}});
    }
  }
  return links;
}

// --- the view's side ----------------------------------------------------------------------------------

void TimelineView::selectOp(std::optional<OpRef> op) {
  if (op && (op->row < 0 || op->row >= model_.stageCount() || op->index >= model_.ops(op->row).size() ||
             model_.ops(op->row)[op->index].kind == OpKind::Update))
    op.reset();
  selected_ = op;
  if (op) selected_event_ = model_.ops(op->row)[op->index];
  refreshLinks();
  update();
}

void TimelineView::refreshLinks() {
  if (selected_) selected_ = find_op(model_, selected_event_, *selected_);  // indices move as rows change
  links_ = selected_ ? op_links(model_, *selected_) : std::vector<TimelineLink>{};
  // While links are shown, Esc over the timeline clears them before it stops the run (ShortcutGuard).
  setProperty("escapeClears", selected_.has_value());
}

std::optional<QRectF> TimelineView::opBoxRect(OpRef op) const {
  if (op.row < 0 || op.row >= model_.stageCount() || op.index >= model_.laidOut(op.row)) return std::nullopt;
  const QRect row = stageRowRect(op.row);
  const ClockSpan sp = model_.span(op.row, op.index);
  const double x0 = xForTime(sp.t_start_ns);
  const double w = static_cast<double>(sp.t_end_ns - sp.t_start_ns) / ns_per_px_;
  const double h = std::max(1, row.height() - 2);
  if (model_.ops(op.row)[op.index].kind == OpKind::Update)  // the tick in the lower part of the row
    return QRectF(x0 - 1, row.top() + 1 + h * 0.6, std::max(2.0, w), h * 0.4);
  return QRectF(x0, row.top() + 1, std::max(1.0, w), h);
}

std::vector<TimelineArrow> TimelineView::linkArrows() const {
  std::vector<TimelineArrow> arrows;
  if (!selected_) return arrows;
  const auto from = opBoxRect(*selected_);
  if (!from) return arrows;
  const double bulge = std::clamp(stageRowHeight() * 0.6, 10.0, 48.0);
  for (const TimelineLink& link : links_) {
    const auto to = opBoxRect(link.to);
    if (!to) continue;
    TimelineArrow a;
    a.link = link;
    if (link.to.row != selected_->row) {  // another row: centre to centre
      a.from = from->center();
      a.to = to->center();
      a.c1 = a.from + QPointF(0, (a.to.y() - a.from.y()) / 2);
      a.c2 = a.to - QPointF(0, (a.to.y() - a.from.y()) / 2);
    } else if (link.kind == TimelineLink::Kind::Weights) {  // over the row, down onto the update's tick
      a.from = QPointF(from->center().x(), from->top());
      a.to = QPointF(to->center().x(), to->top());
      a.c1 = a.from - QPointF(0, bulge);
      a.c2 = QPointF(a.to.x(), from->top() - bulge);
    } else {  // under the row
      a.from = QPointF(from->center().x(), from->bottom());
      a.to = QPointF(to->center().x(), to->bottom());
      a.c1 = a.from + QPointF(0, bulge);
      a.c2 = a.to + QPointF(0, bulge);
    }
    arrows.push_back(a);
  }
  return arrows;
}

QString TimelineView::linksText() const {
  if (!selected_) return {};
  const auto name = [this](const OpEvent& e) { return opLabel(e).section(QStringLiteral(" · "), 0, 0); };  // no version
  const OpEvent& e = model_.ops(selected_->row)[selected_->index];
  QStringList parts;
  bool weights = false;
  for (const TimelineLink& link : links_) {
    const OpEvent& t = model_.ops(link.to.row)[link.to.index];
    if (link.kind == TimelineLink::Kind::Weights) {
      parts << tr("read v%1, made by the update after minibatch %2").arg(e.basis_version).arg(t.minibatch);
      weights = true;
    } else {
      parts << tr("partner %1").arg(name(t));
    }
  }
  if (!weights)
    parts.prepend(e.basis_version == 0 ? tr("read the initial weights v0") : tr("read v%1 (its update is no longer shown)").arg(e.basis_version));
  return tr("%1: %2").arg(name(e), parts.join(QStringLiteral(" · ")));
}

void TimelineView::paintLinks(QPainter& p) {
  if (!selected_) return;
  const auto from = opBoxRect(*selected_);
  if (!from) return;
  const QRect plot = plotRect();
  p.save();
  p.setClipRect(QRect(plot.left(), 0, plot.width(), height()));  // arcs may rise over the axis
  p.setRenderHint(QPainter::Antialiasing, true);
  p.setPen(QPen(palette().color(QPalette::WindowText), 2.5));
  p.setBrush(Qt::NoBrush);
  p.drawRect(from->adjusted(0.5, 0.5, -0.5, -0.5));
  const QFontMetrics fm = fontMetrics();
  for (const TimelineArrow& a : linkArrows()) {
    const bool weights = a.link.kind == TimelineLink::Kind::Weights;
    const QColor color = weights ? kWeightsColor : kPartnerColor;
    QPainterPath path(a.from);
    path.cubicTo(a.c1, a.c2, a.to);
    p.setPen(QPen(color, 2, weights ? Qt::SolidLine : Qt::DashLine, Qt::RoundCap));
    p.setBrush(Qt::NoBrush);
    p.drawPath(path);
    // The head, along the curve's last tangent.
    const QPointF dir = a.to - a.c2;
    const double len = std::hypot(dir.x(), dir.y());
    const QPointF u = len > 0 ? dir / len : QPointF(0, 1);
    const QPointF n(-u.y(), u.x());
    const double size = 9;
    QPolygonF head;
    head << a.to << a.to - u * size + n * size * 0.45 << a.to - u * size - n * size * 0.45;
    p.setPen(Qt::NoPen);
    p.setBrush(color);
    p.drawPolygon(head);
    if (weights) {  // the version the update made, where the arrow lands
      const OpEvent& pass = model_.ops(selected_->row)[selected_->index];
      const QString label = tr("made v%1").arg(pass.basis_version);
      const QRectF box(a.c2.x() + 4, a.c2.y() + (a.to.y() - a.c2.y()) * 0.25 - fm.height() / 2.0,
                       fm.horizontalAdvance(label) + 6, fm.height());
      p.fillRect(box, palette().color(QPalette::Base));
      p.setPen(color);
      p.drawText(box, Qt::AlignCenter, label);
    }
  }
  p.restore();
  // What the arrows say, in words, at the left of the axis strip (what just ran is at its right).
  const QString text = linksText();
  const int w = std::min(plot.width() / 2, fm.horizontalAdvance(text) + 12);
  const QRect box(plot.left(), 1, w, plot.top() - 3);
  p.fillRect(box, palette().color(QPalette::Window));
  p.setPen(palette().color(QPalette::WindowText));
  p.drawText(box.adjusted(4, 0, 0, 0), Qt::AlignLeft | Qt::AlignVCenter, fm.elidedText(text, Qt::ElideRight, w - 6));
}

void TimelineView::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Escape && selected_) {
    selectOp(std::nullopt);
    event->accept();
    return;
  }
  QWidget::keyPressEvent(event);
}

}  // namespace ps::ui

#include "widgets/partition_strip.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <algorithm>
#include <cmath>

#include "engine/partition/partition.h"
#include "widgets/colors.h"
#include "widgets/format.h"

namespace ps::ui {
namespace {

constexpr double kMinUnitPx = 28;   // tiny units stay visible, clickable and labelled
constexpr double kHandleGrabPx = 6; // how close a press must be to grab a handle
constexpr int kMargin = 8;

QString shape_text(const std::vector<std::int64_t>& shape) {
  QStringList parts;
  for (auto d : shape) parts << QString::number(d);
  return parts.join(QStringLiteral("×"));
}

}  // namespace

PartitionStrip::PartitionStrip(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  setFocusPolicy(Qt::ClickFocus);
}

QSize PartitionStrip::sizeHint() const {
  return {600, fontMetrics().height() * 5 + 2 * kMargin};
}
QSize PartitionStrip::minimumSizeHint() const { return {200, sizeHint().height()}; }

void PartitionStrip::setModelInfo(const ModelInfo* model) {
  model_ = model;
  drag_index_ = -1;
  relayout();
}

void PartitionStrip::setBoundaries(const std::vector<int>& boundaries) {
  boundaries_ = boundaries;
  update();
}

void PartitionStrip::setMetric(UnitMetric metric) {
  metric_ = metric;
  relayout();
}

void PartitionStrip::setBottleneckStage(int stage) {
  bottleneck_ = stage;
  update();
}

void PartitionStrip::setStageLabels(const QStringList& labels) {
  stage_labels_ = labels;
  update();
}

void PartitionStrip::setChunkDevices(const std::vector<int>& devices) {
  chunk_devices_ = devices;
  update();
}

QColor PartitionStrip::segmentColor(int segment) const {
  if (segment >= 0 && segment < static_cast<int>(chunk_devices_.size()))
    return stage_color(chunk_devices_[static_cast<std::size_t>(segment)]);
  return stage_color(segment);
}

QString PartitionStrip::segmentWord() const { return chunk_devices_.empty() ? tr("Stage") : tr("Chunk"); }

QString PartitionStrip::segmentTitle(int segment) const {
  const QString device = segment < stage_labels_.size() ? stage_labels_[segment] : QString();
  if (chunk_devices_.empty() || segment >= static_cast<int>(chunk_devices_.size()))
    return device.isEmpty() ? tr("Stage %1").arg(segment) : tr("Stage %1 · %2").arg(segment).arg(device);
  QString title = tr("chunk %1 · dev %2").arg(segment).arg(chunk_devices_[static_cast<std::size_t>(segment)]);
  if (segment == static_cast<int>(chunk_devices_.size()) - 1) title += tr(" · loss");
  return title;
}

QRectF PartitionStrip::stripArea() const {
  const int label_h = fontMetrics().height() + 6;
  return QRectF(kMargin, kMargin + label_h, width() - 2 * kMargin, height() - 2 * kMargin - label_h);
}

void PartitionStrip::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  relayout();
}

// Widths: a floor per unit, the rest shared in proportion to the chosen measure.
void PartitionStrip::relayout() {
  edges_.clear();
  if (!model_ || model_->units.empty()) {
    update();
    return;
  }
  const auto n = model_->units.size();
  std::vector<double> measure(n);
  double total = 0;
  for (std::size_t u = 0; u < n; ++u) total += measure[u] = std::max(0.0, unit_measure(model_->units[u], metric_));
  const QRectF area = stripArea();
  const double floor_px = std::min(kMinUnitPx, area.width() / static_cast<double>(n));
  const double spare = std::max(0.0, area.width() - floor_px * static_cast<double>(n));
  edges_.resize(n + 1);
  edges_[0] = area.left();
  for (std::size_t u = 0; u < n; ++u) {
    const double share = total > 0 ? measure[u] / total : 1.0 / static_cast<double>(n);
    edges_[u + 1] = edges_[u] + floor_px + spare * share;
  }
  edges_[n] = area.right();
  update();
}

QRectF PartitionStrip::unitRect(int unit) const {
  if (unit < 0 || unit + 1 >= static_cast<int>(edges_.size())) return {};
  const QRectF area = stripArea();
  return QRectF(edges_[static_cast<std::size_t>(unit)], area.top(),
                edges_[static_cast<std::size_t>(unit) + 1] - edges_[static_cast<std::size_t>(unit)], area.height());
}

double PartitionStrip::handleX(int boundary_index) const {
  if (boundary_index < 0 || boundary_index >= static_cast<int>(boundaries_.size())) return -1;
  const int unit = boundaries_[static_cast<std::size_t>(boundary_index)];
  if (unit < 0 || unit >= static_cast<int>(edges_.size())) return -1;
  return edges_[static_cast<std::size_t>(unit)];
}

int PartitionStrip::handleAt(const QPoint& pos) const {
  int best = -1;
  double best_d = kHandleGrabPx + 1;
  for (int i = 0; i < static_cast<int>(boundaries_.size()); ++i) {
    const double d = std::abs(handleX(i) - pos.x());
    if (d < best_d) best_d = d, best = i;
  }
  return best_d <= kHandleGrabPx && pos.y() >= kMargin && pos.y() <= height() - kMargin ? best : -1;
}

int PartitionStrip::unitAt(const QPoint& pos) const {
  if (edges_.size() < 2 || !stripArea().contains(pos)) return -1;
  auto it = std::upper_bound(edges_.begin(), edges_.end(), static_cast<double>(pos.x()));
  const int unit = static_cast<int>(it - edges_.begin()) - 1;
  return unit >= 0 && unit + 1 < static_cast<int>(edges_.size()) ? unit : -1;
}

int PartitionStrip::nearestEdge(double x) const {
  const int n = static_cast<int>(edges_.size()) - 1;
  int best = 1;
  for (int e = 1; e < n; ++e)
    if (std::abs(edges_[static_cast<std::size_t>(e)] - x) < std::abs(edges_[static_cast<std::size_t>(best)] - x)) best = e;
  return best;
}

int PartitionStrip::stageOfUnit(int unit) const {
  return static_cast<int>(std::upper_bound(boundaries_.begin(), boundaries_.end(), unit) - boundaries_.begin());
}

void PartitionStrip::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing, false);
  const QRectF area = stripArea();
  if (!model_ || edges_.size() < 2) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(rect(), Qt::AlignCenter, tr("No model loaded"));
    return;
  }
  const QFontMetrics fm = fontMetrics();
  const int n = static_cast<int>(model_->units.size());
  // Units, shaded alternately inside a stage so unit borders stay visible.
  for (int u = 0; u < n; ++u) {
    const QRectF r = unitRect(u);
    const int segment = stageOfUnit(u);
    QColor fill = segmentColor(segment);
    fill = (u % 2) ? fill.lighter(118) : fill.lighter(104);
    p.fillRect(r.adjusted(0, 0, -1, 0), fill);
    // A device's later chunks are hatched: two chunks of one device side by side (V placement's middle)
    // stay two segments.
    if (!chunk_devices_.empty() && segment < static_cast<int>(chunk_devices_.size()) &&
        std::count(chunk_devices_.begin(), chunk_devices_.begin() + segment, chunk_devices_[static_cast<std::size_t>(segment)]) > 0)
      p.fillRect(r.adjusted(0, 0, -1, 0), QBrush(segmentColor(segment).darker(115), Qt::BDiagPattern));
    const QString& name = QString::fromStdString(model_->units[static_cast<std::size_t>(u)].name);
    if (r.width() > fm.horizontalAdvance(QStringLiteral("ab")) + 4) {
      p.setPen(QColor(20, 20, 20));
      const QString kind = QString::fromStdString(model_->units[static_cast<std::size_t>(u)].kind);
      const QRectF text_r = r.adjusted(3, 2, -3, -2);
      const bool two_lines = text_r.height() > 2.2 * fm.height();
      p.drawText(text_r, Qt::AlignHCenter | (two_lines ? Qt::AlignTop : Qt::AlignVCenter),
                 fm.elidedText(name, Qt::ElideRight, static_cast<int>(text_r.width())));
      if (two_lines) {
        p.setPen(QColor(60, 60, 60));
        p.drawText(text_r, Qt::AlignHCenter | Qt::AlignBottom,
                   fm.elidedText(kind, Qt::ElideRight, static_cast<int>(text_r.width())));
      }
    }
  }
  // Stage labels above the strip; the bottleneck gets a warm underline.
  const int stages = static_cast<int>(boundaries_.size()) + 1;
  for (int k = 0; k < stages; ++k) {
    const int first = k == 0 ? 0 : boundaries_[static_cast<std::size_t>(k - 1)];
    const int last_edge = k == stages - 1 ? n : boundaries_[static_cast<std::size_t>(k)];
    const double x0 = edges_[static_cast<std::size_t>(std::clamp(first, 0, n))];
    const double x1 = edges_[static_cast<std::size_t>(std::clamp(last_edge, 0, n))];
    const QRectF label_r(x0, kMargin, x1 - x0, area.top() - kMargin - 2);
    // The longest title that fits: with the device's name, without it, then short ("c3·d1").
    QStringList titles{segmentTitle(k)};
    if (!chunk_devices_.empty() && k < static_cast<int>(chunk_devices_.size())) {
      const int dev = chunk_devices_[static_cast<std::size_t>(k)];
      const bool loss = k == static_cast<int>(chunk_devices_.size()) - 1;
      if (k < stage_labels_.size() && !stage_labels_[k].isEmpty())
        titles.prepend(titles.front() + QStringLiteral(" (") + stage_labels_[k] + QLatin1Char(')'));
      if (loss)  // the loss's device matters most (V placement puts it on device 0): it stays the longest
        titles << tr("c%1·d%2·loss").arg(k).arg(dev) << tr("d%1·loss").arg(dev) << tr("d%1").arg(dev);
      else
        titles << tr("c%1·d%2").arg(k).arg(dev) << tr("d%1").arg(dev);
    }
    QString label = titles.back();
    for (const QString& t : titles)
      if (fm.horizontalAdvance(t) <= label_r.width()) {
        label = t;
        break;
      }
    p.setPen(palette().color(QPalette::WindowText));
    p.drawText(label_r, Qt::AlignCenter, fm.elidedText(label, Qt::ElideRight, static_cast<int>(label_r.width())));
    p.fillRect(QRectF(x0 + 1, area.top() - 3, x1 - x0 - 2, 3),
               k == bottleneck_ && stages > 1 ? QColor(214, 39, 40) : segmentColor(k).darker(120));
  }
  // Handles: a bar over the boundary and a grip in the middle.
  p.setRenderHint(QPainter::Antialiasing, true);
  for (int i = 0; i < static_cast<int>(boundaries_.size()); ++i) {
    const double x = handleX(i);
    const bool hot = i == hover_handle_ || i == drag_index_;
    const QColor bar = hot ? palette().color(QPalette::Highlight) : palette().color(QPalette::WindowText);
    p.fillRect(QRectF(x - 1.5, kMargin, 3, height() - 2 * kMargin), bar);
    const QRectF grip(x - 5, area.center().y() - 12, 10, 24);
    p.setPen(QPen(bar, 1));
    p.setBrush(hot ? bar.lighter(130) : palette().color(QPalette::Base));
    p.drawRoundedRect(grip, 3, 3);
  }
}

void PartitionStrip::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return QWidget::mousePressEvent(event);
  // Focus on the strip: the editor's Ctrl+Z (a shortcut of the editor and its children) works at once.
  setFocus(Qt::MouseFocusReason);
  drag_index_ = handleAt(event->position().toPoint());
  blocked_.clear();
  if (drag_index_ >= 0) {
    drag_start_ = boundaries_;
    update();
  }
}

void PartitionStrip::mouseMoveEvent(QMouseEvent* event) {
  const QPoint pos = event->position().toPoint();
  if (drag_index_ < 0) {
    const int h = handleAt(pos);
    if (h != hover_handle_) {
      hover_handle_ = h;
      setCursor(h >= 0 ? Qt::SplitHCursor : Qt::ArrowCursor);
      update();
    }
    return;
  }
  const int n = static_cast<int>(edges_.size()) - 1;
  const int target = nearestEdge(pos.x());
  auto moved = move_boundary(boundaries_, drag_index_, target, n);
  if (moved != boundaries_) {
    boundaries_ = std::move(moved);
    blocked_.clear();
    update();
    Q_EMIT boundariesPreview(boundaries_);
  }
  // After the preview (which clears an old reason): the handle stopped short of the mouse.
  const int at = boundaries_[static_cast<std::size_t>(drag_index_)];
  if (target != at) {
    // The handle stops one unit short of its neighbour (or of the strip's end): say so once.
    const int stage = target < at ? drag_index_ : drag_index_ + 1;
    const bool last = stage == static_cast<int>(boundaries_.size());
    const QString word = segmentWord();
    const QString reason =
        target < at ? (drag_index_ == 0 ? tr("%1 0 keeps at least one layer unit: this boundary cannot move further left").arg(word)
                                        : tr("%1 %2 keeps at least one layer unit: this boundary cannot pass the one "
                                             "before it%3")
                                              .arg(word)
                                              .arg(stage)
                                              .arg(chunk_devices_.empty() ? tr(" (remove a boundary with a double-click to merge stages)")
                                                                          : QString()))
                    : (last ? tr("The last %1 (%2) keeps at least one layer unit: this boundary cannot move further right")
                                  .arg(word.toLower())
                                  .arg(stage)
                            : tr("%1 %2 keeps at least one layer unit: this boundary cannot pass the one after it%3")
                                  .arg(word)
                                  .arg(stage)
                                  .arg(chunk_devices_.empty() ? tr(" (remove a boundary with a double-click to merge stages)")
                                                              : QString()));
    if (reason != blocked_) {
      blocked_ = reason;
      Q_EMIT dragBlocked(reason);
    }
  }
}

void PartitionStrip::mouseReleaseEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton || drag_index_ < 0) return QWidget::mouseReleaseEvent(event);
  drag_index_ = -1;
  update();
  if (drag_start_ != boundaries_) Q_EMIT dragFinished(drag_start_, boundaries_);
}

void PartitionStrip::mouseDoubleClickEvent(QMouseEvent* event) {
  const QPoint pos = event->position().toPoint();
  drag_index_ = -1;
  const int handle = handleAt(pos);
  if (handle >= 0) {
    Q_EMIT removeBoundaryRequested(handle);
    return;
  }
  const int unit = unitAt(pos);
  if (unit > 0) Q_EMIT addBoundaryRequested(unit);
}

bool PartitionStrip::event(QEvent* event) {
  if (event->type() == QEvent::ToolTip && model_) {
    auto* help = static_cast<QHelpEvent*>(event);
    const int u = unitAt(help->pos());
    if (u < 0) {
      QToolTip::hideText();
      return true;
    }
    const UnitInfo& unit = model_->units[static_cast<std::size_t>(u)];
    QToolTip::showText(help->globalPos(),
                       tr("<b>%1</b> (%2), unit %3<br>%4<br>parameters: %5<br>output: %6 (%7/sample)<br>"
                          "forward: %8 FLOP/sample<br>relative cost: %9<br><i>%10</i>")
                           .arg(QString::fromStdString(unit.name), QString::fromStdString(unit.kind))
                           .arg(u)
                           .arg(chunk_devices_.empty() ? tr("stage %1").arg(stageOfUnit(u))
                                                       : segmentTitle(stageOfUnit(u)) +
                                                             (stageOfUnit(u) < stage_labels_.size()
                                                                  ? QStringLiteral(" (") + stage_labels_[stageOfUnit(u)] + QLatin1Char(')')
                                                                  : QString()))
                           .arg(format_count(static_cast<double>(unit.params)), shape_text(unit.output_shape),
                                format_bytes(unit.activation_bytes), format_count(unit.forward_flops),
                                format_count(unit_cost(unit)),
                                chunk_devices_.empty() ? tr("double-click: new stage starts here")
                                                       : tr("drag a handle to move layers between chunks")),
                       this);
    return true;
  }
  return QWidget::event(event);
}

}  // namespace ps::ui

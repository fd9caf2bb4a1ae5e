#include "widgets/in_flight_model.h"

#include <QColor>

#include "widgets/colors.h"

namespace ps::ui {

InFlightModel::InFlightModel(QObject* parent) : QAbstractTableModel(parent) {}

void InFlightModel::setEntries(std::vector<InFlightEntry> entries, double now_s) {
  now_s_ = now_s;
  if (entries.size() == entries_.size()) {  // same shape: update in place, keeps the view's scroll position
    entries_ = std::move(entries);
    if (!entries_.empty()) Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
    return;
  }
  beginResetModel();
  entries_ = std::move(entries);
  endResetModel();
}

int InFlightModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(entries_.size());
}
int InFlightModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant InFlightModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const InFlightEntry& e = entries_[static_cast<std::size_t>(index.row())];
  if (role == Qt::DecorationRole && index.column() == Stage) return stage_color(e.stage);
  if (role == Qt::TextAlignmentRole) return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  if (role == Qt::ForegroundRole && index.column() == Staleness && e.staleness() > 0) return QColor(214, 39, 40);
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case Stage: return e.stage;
    case Minibatch: return e.micro >= 0 ? QStringLiteral("%1.%2").arg(e.minibatch).arg(e.micro) : QString::number(e.minibatch);
    case Basis: return QString::number(e.basis_version);
    case LiveAtForward: return QString::number(e.live_version);
    case Target: return QString::number(e.target_version);
    case Staleness: return QString::number(e.staleness());
    case Since: return QStringLiteral("%1 s").arg(std::max(0.0, now_s_ - e.forward_time_s), 0, 'f', 2);
  }
  return {};
}

QVariant InFlightModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal) return {};
  if (role == Qt::ToolTipRole) {
    switch (section) {
      case Basis: return tr("Version of the weights the forward pass used (what the backward should reuse)");
      case LiveAtForward: return tr("Updates applied at this stage when the forward ran");
      case Target: return tr("Staleness-free version for this minibatch");
      case Staleness: return tr("target − basis: updates the minibatch's weights are behind");
      case Since: return tr("Time since the forward pass");
    }
    return {};
  }
  if (role != Qt::DisplayRole) return {};
  switch (section) {
    case Stage: return tr("Stage");
    case Minibatch: return tr("Minibatch");
    case Basis: return tr("Weights used");
    case LiveAtForward: return tr("Live at F");
    case Target: return tr("Target");
    case Staleness: return tr("Staleness");
    case Since: return tr("In flight");
  }
  return {};
}

}  // namespace ps::ui

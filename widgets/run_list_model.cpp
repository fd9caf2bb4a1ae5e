#include "widgets/run_list_model.h"

#include <QColor>
#include <QFont>

#include "widgets/colors.h"
#include "widgets/config_diff.h"
#include "widgets/run_labels.h"

namespace ps::ui {

RunListModel::RunListModel(QObject* parent) : QAbstractTableModel(parent) {}

int RunListModel::addRun(std::shared_ptr<RunRecord> run, bool checked) {
  const int row = rowCount();
  beginInsertRows({}, row, row);
  rows_.push_back({std::move(run), checked});
  endInsertRows();
  relabelAll();  // the new run may change what the others differ by
  if (checked) Q_EMIT checkedRunsChanged();
  return row;
}

void RunListModel::runUpdated(const RunRecord* run) {
  const int row = rowOf(run);
  if (row < 0) return;
  relabelAll();  // a live repartition changes the run's partition
  Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

void RunListModel::relabelAll() {
  const std::vector<QString> before = labels_;
  relabel();
  if (labels_ != before && rowCount() > 0) Q_EMIT dataChanged(index(0, Name), index(rowCount() - 1, Name), {Qt::DisplayRole});
}

void RunListModel::relabel() {
  std::vector<const RunRecord*> runs;
  for (const Row& r : rows_) runs.push_back(r.run.get());
  labels_ = difference_labels(runs);
}

QString RunListModel::label(int row) const {
  if (row < 0 || row >= rowCount()) return {};
  return row < int(labels_.size()) ? labels_[std::size_t(row)] : rows_[std::size_t(row)].run->name;
}

QString RunListModel::details(const RunRecord& r) {
  const RunSummary& s = r.summary;
  QStringList lines;
  QString first = tr("%1: %2 after %3 steps").arg(r.name, QString::fromStdString(to_string(s.status))).arg(s.steps);
  first += tr(" · final loss %1 · test accuracy %2 · %3 samples/s")
               .arg(s.steps > 0 ? QString::number(s.final_train_loss, 'f', 4) : QStringLiteral("–"))
               .arg(s.test_accuracy ? QStringLiteral("%1%").arg(*s.test_accuracy * 100, 0, 'f', 2) : QStringLiteral("–"))
               .arg(s.samples_per_second > 0 ? QString::number(s.samples_per_second, 'f', 0) : QStringLiteral("–"));
  lines << first;
  if (!s.error.empty()) lines << QString::fromStdString(s.error);
  lines << tr("weights digest: %1 · resumed from: %2 · repartitions: %3")
               .arg(s.weights_digest.empty() ? tr("none yet (written when the run ends)") : QString::fromStdString(s.weights_digest))
               .arg(r.resumed_from.isEmpty() ? tr("— (a fresh run)") : r.resumed_from)
               .arg(QString::fromStdString(repartition_history(r)));
  // How it ran: the processes of a run as processes, the replicas of pipeline x data parallel.
  QStringList procs;
  for (const StageSummary& st : s.per_stage)
    if (!st.process.empty()) procs << tr("stage %1: %2").arg(st.stage).arg(QString::fromStdString(st.process));
  if (!procs.isEmpty()) lines << tr("processes (c10d): %1").arg(procs.join(QStringLiteral("; ")));
  if (s.replicas > 1) lines << tr("replicas per stage: %1").arg(s.replicas);
  QStringList where;
  if (!r.origin.isEmpty()) where << tr("imported from %1").arg(r.origin);
  if (r.partial_config) where << tr("no config.json: only the settings summary.json records are compared");
  if (!r.created.isEmpty()) where << tr("started %1").arg(r.created);
  if (!where.isEmpty()) lines << where.join(QStringLiteral(" · "));
  return lines.join(QLatin1Char('\n'));
}

void RunListModel::removeRun(int row) {
  if (row < 0 || row >= rowCount()) return;
  const bool was_checked = rows_[static_cast<std::size_t>(row)].checked;
  beginRemoveRows({}, row, row);
  rows_.erase(rows_.begin() + row);
  labels_.erase(labels_.begin() + row);
  endRemoveRows();
  relabelAll();
  if (was_checked) Q_EMIT checkedRunsChanged();
}

std::shared_ptr<RunRecord> RunListModel::run(int row) const {
  return row >= 0 && row < rowCount() ? rows_[static_cast<std::size_t>(row)].run : nullptr;
}

int RunListModel::rowOf(const RunRecord* run) const {
  for (std::size_t i = 0; i < rows_.size(); ++i)
    if (rows_[i].run.get() == run) return static_cast<int>(i);
  return -1;
}

bool RunListModel::isChecked(int row) const { return row >= 0 && row < rowCount() && rows_[static_cast<std::size_t>(row)].checked; }

void RunListModel::setChecked(int row, bool checked) {
  if (row < 0 || row >= rowCount() || rows_[static_cast<std::size_t>(row)].checked == checked) return;
  rows_[static_cast<std::size_t>(row)].checked = checked;
  Q_EMIT dataChanged(index(row, Name), index(row, Name), {Qt::CheckStateRole});
  Q_EMIT checkedRunsChanged();
}

std::vector<std::shared_ptr<RunRecord>> RunListModel::checkedRuns() const {
  std::vector<std::shared_ptr<RunRecord>> out;
  for (const Row& r : rows_)
    if (r.checked) out.push_back(r.run);
  return out;
}

int RunListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int RunListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunListModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const Row& row = rows_[static_cast<std::size_t>(index.row())];
  const RunRecord& r = *row.run;
  if (index.column() == Name) {
    if (role == Qt::CheckStateRole) return row.checked ? Qt::Checked : Qt::Unchecked;
    if (role == Qt::DecorationRole) return run_color(index.row());
    if (role == Qt::ToolTipRole) return details(r);
  }
  if (role == Qt::ToolTipRole && index.column() == Digest)
    return tr("FNV-1a of the final weights: the same preset and length give the same digest in the dashboard and "
              "in pipescope-cli run (summary.json)");
  if (role == Qt::ForegroundRole && index.column() == Status &&
      (r.summary.status == RunStatus::Failed || r.summary.status == RunStatus::Diverged))
    return QColor(214, 39, 40);
  if (role == Qt::ToolTipRole && index.column() == Status && !r.summary.error.empty())
    return QString::fromStdString(r.summary.error);
  if (role == Qt::FontRole && index.column() == Digest) return QFont(QStringLiteral("monospace"));
  if (role == Qt::TextAlignmentRole && index.column() >= Stages && index.column() <= Throughput)
    return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  if (role == Qt::EditRole && index.column() == Name) return r.name;
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case Name: return label(index.row());
    case Schedule: return QString::fromStdString(r.config.schedule);
    case Strategy: return QString::fromStdString(r.config.strategy.name);
    case Stages: return r.config.num_stages();
    case Steps: return QString::number(r.summary.steps);
    case FinalLoss: return r.summary.steps > 0 ? QString::number(r.summary.final_train_loss, 'f', 4) : QStringLiteral("–");
    case Digest: return r.summary.weights_digest.empty() ? QStringLiteral("–") : QString::fromStdString(r.summary.weights_digest);
    case TestAccuracy:
      return r.summary.test_accuracy ? QStringLiteral("%1%").arg(*r.summary.test_accuracy * 100, 0, 'f', 2) : QStringLiteral("–");
    case Throughput: return r.summary.samples_per_second > 0 ? QString::number(r.summary.samples_per_second, 'f', 0) : QStringLiteral("–");
    case Status: return QString::fromStdString(to_string(r.summary.status));
  }
  return {};
}

bool RunListModel::setData(const QModelIndex& index, const QVariant& value, int role) {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return false;
  if (index.column() == Name && role == Qt::CheckStateRole) {
    setChecked(index.row(), value.toInt() == Qt::Checked);
    return true;
  }
  if (index.column() == Name && role == Qt::EditRole && !value.toString().trimmed().isEmpty()) {
    const auto& run = rows_[static_cast<std::size_t>(index.row())].run;
    run->name = value.toString().trimmed();
    run->custom_name = true;
    relabel();
    Q_EMIT dataChanged(index, index, {Qt::DisplayRole, Qt::EditRole});
    Q_EMIT runRenamed(run);
    Q_EMIT checkedRunsChanged();  // legends show the name
    return true;
  }
  return false;
}

Qt::ItemFlags RunListModel::flags(const QModelIndex& index) const {
  if (!index.isValid()) return Qt::NoItemFlags;
  Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
  if (index.column() == Name) f |= Qt::ItemIsUserCheckable | Qt::ItemIsEditable;
  return f;
}

QVariant RunListModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case Name: return tr("Run");
    case Schedule: return tr("Schedule");
    case Strategy: return tr("Strategy");
    case Stages: return tr("Stages");
    case Steps: return tr("Steps");
    case FinalLoss: return tr("Final loss");
    case TestAccuracy: return tr("Test acc.");
    case Throughput: return tr("Samples/s");
    case Digest: return tr("Weights digest");
    case Status: return tr("Status");
  }
  return {};
}

}  // namespace ps::ui

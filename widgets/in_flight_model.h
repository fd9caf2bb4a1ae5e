// Table model: the weight versions each in-flight minibatch holds right now (one row per stage and
// minibatch whose forward ran and whose backward has not).
#pragma once
#include <QAbstractTableModel>
#include <vector>

#include "widgets/version_history.h"

namespace ps::ui {

class InFlightModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { Stage, Minibatch, Basis, LiveAtForward, Target, Staleness, Since, ColumnCount };
  explicit InFlightModel(QObject* parent = nullptr);

  void setEntries(std::vector<InFlightEntry> entries, double now_s);
  const std::vector<InFlightEntry>& entries() const { return entries_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  std::vector<InFlightEntry> entries_;
  double now_s_ = 0;
};

}  // namespace ps::ui

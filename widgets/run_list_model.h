// The list of runs of this session (the live one included): name, schedule, strategy, stages, test
// accuracy, samples/s, status; the check box picks the runs the compare page overlays.
#pragma once
#include <QAbstractTableModel>
#include <memory>
#include <vector>

#include "widgets/run_record.h"

namespace ps::ui {

class RunListModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { Name, Schedule, Strategy, Stages, TestAccuracy, Throughput, Status, ColumnCount };
  explicit RunListModel(QObject* parent = nullptr);

  int addRun(std::shared_ptr<RunRecord> run, bool checked = true);  // returns the row
  void runUpdated(const RunRecord* run);                             // its summary changed
  void removeRun(int row);
  std::shared_ptr<RunRecord> run(int row) const;
  int rowOf(const RunRecord* run) const;
  bool isChecked(int row) const;
  void setChecked(int row, bool checked);
  std::vector<std::shared_ptr<RunRecord>> checkedRuns() const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 Q_SIGNALS:
  void checkedRunsChanged();

 private:
  struct Row {
    std::shared_ptr<RunRecord> run;
    bool checked = true;
  };
  std::vector<Row> rows_;
};

}  // namespace ps::ui

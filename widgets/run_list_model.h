// The list of runs (the run library's and the live one): each run labelled by what differs between
// the runs listed (run_labels.h), schedule, strategy, stages, steps, final loss, test accuracy,
// samples/s, weights digest and status; the check box picks the runs the compare page overlays.
#pragma once
#include <QAbstractTableModel>
#include <memory>
#include <vector>

#include "widgets/run_record.h"

namespace ps::ui {

class RunListModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column {
    Name, Schedule, Strategy, Stages, Steps, FinalLoss, TestAccuracy, Throughput, Digest, Status, ColumnCount
  };
  explicit RunListModel(QObject* parent = nullptr);

  int addRun(std::shared_ptr<RunRecord> run, bool checked = true);  // returns the row
  void runUpdated(const RunRecord* run);                             // its summary changed
  void removeRun(int row);
  std::shared_ptr<RunRecord> run(int row) const;
  int rowOf(const RunRecord* run) const;
  bool isChecked(int row) const;
  void setChecked(int row, bool checked);
  std::vector<std::shared_ptr<RunRecord>> checkedRuns() const;
  QString label(int row) const;  // "run 3 · stash · gpipe": what differs between the runs listed
  // A run's summary as text: status, steps, figures, weights digest, resumed from, repartitions, origin.
  static QString details(const RunRecord& run);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 Q_SIGNALS:
  void checkedRunsChanged();
  void runRenamed(std::shared_ptr<ps::ui::RunRecord> run);  // by the user, in the Run column

 private:
  struct Row {
    std::shared_ptr<RunRecord> run;
    bool checked = true;
  };
  void relabel();
  void relabelAll();  // relabel, and tell the views when a label changed
  std::vector<Row> rows_;
  std::vector<QString> labels_;
};

}  // namespace ps::ui

// The compare page: the run list with check boxes, the ticked runs' curves overlaid (one colour per
// run), the configuration fields where the ticked runs differ, and exports (CSV, PNG, PDF, trace).
#pragma once
#include <QWidget>
#include <functional>
#include <memory>

#include "widgets/run_record.h"

class QTableView;
class QTableWidget;
class QLabel;

namespace ps::ui {

class CurvesView;
class RunListModel;

class RunCompareView : public QWidget {
  Q_OBJECT
 public:
  explicit RunCompareView(RunListModel* runs, QWidget* parent = nullptr);

  CurvesView* curves() const { return curves_; }
  QTableWidget* diffTable() const { return diff_; }
  void refresh();  // the checked runs' data changed

  // Export helpers used by the buttons (and by tests, with a path).
  bool exportCsv(const QString& path, QString* error);
  bool exportPng(const QString& path);
  bool exportPdf(const QString& path);
  bool exportTrace(const QString& path, QString* error);  // the selected run, else the last checked

 Q_SIGNALS:
  void message(const QString& text);

 private:
  void checkedChanged();
  void rebuildDiff();
  std::shared_ptr<RunRecord> currentRun() const;
  void askAndExport(const QString& title, const QString& filter, const QString& suffix,
                    const std::function<bool(const QString&, QString*)>& save);

  RunListModel* runs_;
  QTableView* table_;
  QTableWidget* diff_;
  QLabel* diff_title_;
  CurvesView* curves_;
};

}  // namespace ps::ui

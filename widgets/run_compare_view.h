// The compare page: the run list with check boxes (the run library: every run, kept across restarts),
// the selected run's summary, the ticked runs' curves overlaid (one colour per run, labelled by what
// differs), the weights digests and the settings where the ticked runs differ, and exports (CSV, PNG,
// PDF, trace). Delete removes the selected run from the list, and the library with it.
#pragma once
#include <QWidget>
#include <functional>
#include <memory>
#include <vector>

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
  QTableView* runTable() const { return table_; }
  QString detailsText() const;  // the selected run's summary
  std::vector<QString> checkedLabels() const;  // the ticked runs, labelled by what differs between them
  void refresh();  // the checked runs' data changed

  // Export helpers used by the buttons (and by tests, with a path).
  bool exportCsv(const QString& path, QString* error);
  bool exportPng(const QString& path);
  bool exportPdf(const QString& path);  // titled by the runs it shows
  QString pdfTitle() const;
  // Where the export dialogs open (with a file name naming the run); follows the last export.
  void setExportFolder(const QString& dir) { export_dir_ = dir; }
  QString exportFolder() const { return export_dir_; }
  QString defaultExportPath(const QString& what, const QString& suffix) const;
  bool exportTrace(const QString& path, QString* error);  // the selected run, else the last checked

 Q_SIGNALS:
  void message(const QString& text);

 protected:
  void changeEvent(QEvent* event) override;

 private:
  void checkedChanged();
  void rebuildDiff();
  void showDetails();
  void fitTable();
  std::shared_ptr<RunRecord> currentRun() const;
  void askAndExport(const QString& title, const QString& filter, const QString& suffix, const QString& what,
                    const std::function<bool(const QString&, QString*)>& save);

  RunListModel* runs_;
  QTableView* table_;
  QTableWidget* diff_;
  QLabel* diff_title_;
  QLabel* details_;
  CurvesView* curves_;
  QString export_dir_;
};

}  // namespace ps::ui

// The dashboard's side of the run library (widgets/run_library.h): reopens the kept runs into the run
// list at start-up, keeps every run the dashboard starts (at its start, its end, a rename, the window's
// close), imports CLI output folders (File > Open run…, drag and drop) and deletes a run's folder when
// it leaves the run list.
#pragma once
#include <QObject>
#include <QString>
#include <QStringList>
#include <memory>

#include "widgets/run_library.h"

namespace ps::ui {
class RunListModel;
}

namespace ps::gui {

class SessionController;

class RunLibraryBinder : public QObject {
  Q_OBJECT
 public:
  RunLibraryBinder(ui::RunListModel* runs, SessionController* controller, QObject* parent = nullptr);

  // Opens the library in `root` ("" = off: runs are not kept): the runs of the previous root leave the
  // list and those kept in `root` join it (unticked). Returns how many were reopened.
  int open(const QString& root);
  QString root() const { return library_.root(); }

  // Imports CLI output folders (or their summary.json); each joins the run list ticked. A folder that
  // cannot be read, or one already imported, is named in `errors`. Returns how many were imported.
  int importRuns(const QStringList& paths, QStringList* errors = nullptr);
  static bool looksLikeRun(const QString& path);  // a folder with a summary.json, or a summary.json

  void storeLiveRun();  // the current run as it stands (the window closes)

 Q_SIGNALS:
  void message(const QString& text);

 private:
  void store(const std::shared_ptr<ui::RunRecord>& run);

  ui::RunListModel* runs_;
  SessionController* controller_;
  ui::RunLibrary library_;
};

}  // namespace ps::gui

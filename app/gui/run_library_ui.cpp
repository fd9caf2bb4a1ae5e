#include "app/gui/run_library_ui.h"

#include <QDir>
#include <QFileInfo>

#include "app/gui/session_controller.h"
#include "widgets/run_list_model.h"

namespace ps::gui {

RunLibraryBinder::RunLibraryBinder(ui::RunListModel* runs, SessionController* controller, QObject* parent)
    : QObject(parent), runs_(runs), controller_(controller) {
  controller_->setRunNumbering([this] { return library_.nextNumber(); });
  connect(controller_, &SessionController::runStarted, this, [this](const std::shared_ptr<ui::RunRecord>& run) { store(run); });
  connect(controller_, &SessionController::runFinished, this, [this](const std::shared_ptr<ui::RunRecord>& run) { store(run); });
  connect(controller_, &SessionController::repartitioned, this, [this] { store(controller_->currentRun()); });
  connect(runs_, &ui::RunListModel::runRenamed, this, [this](const std::shared_ptr<ui::RunRecord>& run) { store(run); });
  connect(runs_, &QAbstractItemModel::rowsAboutToBeRemoved, this, [this](const QModelIndex&, int first, int last) {
    for (int row = first; row <= last; ++row) {
      const auto run = runs_->run(row);
      if (!run) continue;
      run->discarded = true;  // a live run is not stored again when it ends
      QString error;
      if (!library_.remove(*run, &error)) Q_EMIT message(error);
    }
  });
}

int RunLibraryBinder::open(const QString& root) {
  for (int row = runs_->rowCount() - 1; row >= 0; --row) {
    const auto run = runs_->run(row);
    if (run && !run->id.isEmpty() && run != controller_->currentRun()) {
      // Leaves the list, not the disk: the folder belongs to the library being closed.
      run->id.clear();
      runs_->removeRun(row);
    }
  }
  library_ = ui::RunLibrary(root);
  QStringList errors;
  const auto kept = library_.load(&errors);
  for (const auto& run : kept) runs_->addRun(run, /*checked=*/false);
  if (!errors.isEmpty())
    Q_EMIT message(tr("Run library: %1 folder(s) could not be read: %2").arg(errors.size()).arg(errors.join(QStringLiteral("; "))));
  return static_cast<int>(kept.size());
}

bool RunLibraryBinder::looksLikeRun(const QString& path) {
  const QFileInfo info(path);
  if (info.isDir()) return QFileInfo::exists(QDir(path).filePath(QStringLiteral("summary.json")));
  return info.fileName() == QStringLiteral("summary.json") && info.isFile();
}

int RunLibraryBinder::importRuns(const QStringList& paths, QStringList* errors) {
  int imported = 0;
  QStringList problems;
  for (const QString& path : paths) {
    const QFileInfo info(path);
    const QString folder = info.isDir() ? info.absoluteFilePath() : info.absolutePath();
    bool already = false;
    for (int row = 0; row < runs_->rowCount() && !already; ++row)
      if (runs_->run(row)->origin == folder) {
        problems << tr("%1: already in the run list as %2").arg(QDir::toNativeSeparators(folder), runs_->label(row));
        already = true;
      }
    if (already) continue;
    QString error;
    const auto run = library_.import(path, &error);
    if (!run) {
      problems << error;
      continue;
    }
    runs_->addRun(run, /*checked=*/true);
    ++imported;
  }
  if (errors) *errors << problems;
  if (!problems.isEmpty()) Q_EMIT message(problems.join(QStringLiteral("\n")));
  else if (imported > 0) Q_EMIT message(tr("Imported %n run(s) into the run library", nullptr, imported));
  return imported;
}

void RunLibraryBinder::store(const std::shared_ptr<ui::RunRecord>& run) {
  if (!run) return;
  QString error;
  if (!library_.store(*run, &error)) Q_EMIT message(tr("Run library: %1").arg(error));
}

void RunLibraryBinder::storeLiveRun() {
  if (controller_->phase() == SessionController::Phase::Running || controller_->phase() == SessionController::Phase::Stopping)
    store(controller_->currentRun());
}

}  // namespace ps::gui

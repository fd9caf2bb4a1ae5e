// MainWindow's presets: loading one (the setup docks, the run prepared from it), the Open and Save
// dialogs, and the preset a save writes (its name, and a description of what differs from its source).
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QStandardPaths>
#include <QStatusBar>

#include "app/gui/main_window.h"
#include "app/gui/session_controller.h"
#include "engine/config/run_config.h"
#include "widgets/config_diff.h"
#include "widgets/partition_editor.h"
#include "widgets/strategy_panel.h"
#include "widgets/curves_export.h"

namespace ps::gui {

bool MainWindow::loadPreset(const QString& path, const QStringList& overrides) {
  RunConfig config;
  try {
    config = load_preset(path.toStdString());
    for (const QString& kv : overrides) apply_override(config, kv.toStdString());
  } catch (const std::exception& e) {
    showNotice(QString::fromStdString(e.what()));
    return false;
  }
  clearNotice();
  base_config_ = config;
  preset_path_ = path;
  preset_title_->setText(QString::fromStdString(config.name.empty() ? QFileInfo(path).baseName().toStdString() : config.name));
  preset_description_->setText(QString::fromStdString(config.description));
  setWindowTitle(tr("PipeScope — %1").arg(QFileInfo(path).fileName()));
  strategy_->setConfig(config);
  partition_->setStrategy(config.strategy.name);
  controller_->prepare(config);  // a live run ends here (stopped, kept in the run list)
  clearRunViews();  // the previous run's timeline, versions and status belong to the previous preset
  return true;
}

void MainWindow::openPresetDialog() {
  const QString dir = preset_path_.isEmpty() ? QString() : QFileInfo(preset_path_).absolutePath();
  const QString path = QFileDialog::getOpenFileName(this, tr("Open preset"), dir, tr("Presets (*.json)"));
  if (!path.isEmpty()) loadPreset(path);
}

void MainWindow::savePresetDialog() {
  const QString dir = preset_path_.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation)
                                             : QFileInfo(preset_path_).absolutePath();
  const RunConfig config = currentConfig();
  const QString name = QString::fromStdString(config.name.empty() ? std::string("settings") : config.name) +
                       QStringLiteral("-") + QString::fromStdString(config.strategy.name);
  const QString path = QFileDialog::getSaveFileName(this, tr("Save settings as preset"),
                                                    QDir(dir).filePath(name + QStringLiteral(".json")), tr("Presets (*.json)"));
  if (!path.isEmpty()) savePresetTo(path);
}

bool MainWindow::savePresetTo(const QString& path) {
  const RunConfig saved = presetToSave(QFileInfo(path).completeBaseName());
  QString error;
  if (!ui::write_text_file(path, preset_to_json(saved), &error)) {
    showNotice(error);
    return false;
  }
  statusBar()->showMessage(tr("Saved %1").arg(path), 6000);
  return true;
}

RunConfig MainWindow::presetToSave(const QString& name) const {
  // Its own name and a description of what it is: the preset it came from, and what differs from it.
  RunConfig c = currentConfig();
  const std::string from = base_config_.name.empty() ? std::string() : base_config_.name;
  c.name = name.toStdString();
  QStringList changes;
  for (const ui::ConfigDifference& d : ui::config_diff(base_config_, c))
    if (d.path != "/name" && d.path != "/description")
      changes << QStringLiteral("%1 = %2").arg(QString::fromStdString(d.path.substr(1)).replace(QLatin1Char('/'), QLatin1Char('.')),
                                              QString::fromStdString(d.b));
  QString text = from.empty() ? tr("Saved from the PipeScope dashboard.")
                              : tr("Saved from the PipeScope dashboard, based on the preset '%1'.").arg(QString::fromStdString(from));
  if (!changes.isEmpty()) text += tr(" Changed: %1.").arg(changes.join(QStringLiteral(", ")));
  c.description = text.toStdString();
  return c;
}

}  // namespace ps::gui

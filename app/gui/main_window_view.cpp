// MainWindow's view settings: the projector layout, the font scale and theme, and what the window
// keeps between sessions (QSettings: geometry, docks, theme, page, checkpoint and export folders).
#include <QApplication>
#include <QDockWidget>
#include <QSettings>
#include <QSignalBlocker>
#include <QTabWidget>
#include <algorithm>

#include "app/gui/main_window.h"
#include "app/gui/theme.h"
#include "widgets/run_compare_view.h"
#include "widgets/run_controls.h"

namespace ps::gui {

void MainWindow::setProjectorLayout(bool on) {
  if (actions_.projector->isChecked() != on) return actions_.projector->setChecked(on);  // toggled() calls back
  if (on == projector_) return;
  projector_ = on;
  if (on) {
    projector_saved_state_ = saveState();
    for (QDockWidget* dock : findChildren<QDockWidget*>()) dock->hide();
  } else {
    restoreState(projector_saved_state_);
  }
}

void MainWindow::setFontScale(double scale, bool remember) {
  font_scale_ = std::clamp(scale, 0.7, 3.0);
  if (remember) saved_font_scale_ = font_scale_;
  apply_appearance(*qApp, {dark_ ? Theme::Dark : Theme::Light, font_scale_});
}

void MainWindow::setDarkTheme(bool dark) {
  if (actions_.dark_theme->isChecked() != dark) return actions_.dark_theme->setChecked(dark);  // toggled() calls back
  dark_ = dark;
  apply_appearance(*qApp, {dark_ ? Theme::Dark : Theme::Light, font_scale_});
}

void MainWindow::restoreSettings() {
  QSettings settings;
  restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
  restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
  dark_ = theme_from_name(settings.value(QStringLiteral("view/theme")).toString()) == Theme::Dark;
  font_scale_ = std::clamp(settings.value(QStringLiteral("view/font_scale"), 1.0).toDouble(), 0.7, 3.0);
  saved_font_scale_ = font_scale_;
  const QSignalBlocker block(actions_.dark_theme);
  actions_.dark_theme->setChecked(dark_);
  apply_appearance(*qApp, {dark_ ? Theme::Dark : Theme::Light, font_scale_});
  tabs_->setCurrentIndex(settings.value(QStringLiteral("view/page"), 0).toInt());
  checkpoint_dir_ = settings.value(QStringLiteral("checkpoint/dir")).toString();
  compare_->setExportFolder(settings.value(QStringLiteral("export/dir")).toString());
  controls_->setCheckpointEvery(settings.value(QStringLiteral("checkpoint/every_minutes"), 0).toInt());
}

void MainWindow::saveSettings() const {
  QSettings settings;
  settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
  settings.setValue(QStringLiteral("window/state"), projector_ ? projector_saved_state_ : saveState());
  settings.setValue(QStringLiteral("view/theme"), theme_name(actions_.dark_theme->isChecked() ? Theme::Dark : Theme::Light));
  settings.setValue(QStringLiteral("view/font_scale"), saved_font_scale_);
  settings.setValue(QStringLiteral("view/page"), tabs_->currentIndex());
  settings.setValue(QStringLiteral("checkpoint/dir"), checkpoint_dir_);
  settings.setValue(QStringLiteral("export/dir"), compare_->exportFolder());
  settings.setValue(QStringLiteral("checkpoint/every_minutes"), controls_->checkpointEvery());
}

}  // namespace ps::gui

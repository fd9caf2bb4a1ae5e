// The main window's menus and keyboard shortcuts in one place, so the window only wires them.
#pragma once
#include <QList>
#include <array>

class QAction;
class QMainWindow;

namespace ps::gui {

struct WindowActions {
  QAction *open_preset, *save_preset, *save_checkpoint, *resume_checkpoint, *open_run, *export_screenshot, *quit;
  QAction *start_pause, *step_op, *step_minibatch, *stop, *reset;
  QAction *fit, *follow_live, *zoom_in, *zoom_out, *zoom_reset, *dark_theme, *reset_layout, *projector;
  std::array<QAction*, 4> pages;
  QAction *shortcuts, *about;
};

// Creates the actions with their shortcuts and puts them in the window's menu bar. The "View" menu
// also lists `dock_toggles` (the docks' toggleViewAction()s).
WindowActions create_window_actions(QMainWindow* window, const std::array<const char*, 4>& page_names,
                                    const QList<QAction*>& dock_toggles);

// The text of Help > Keyboard shortcuts.
const char* shortcuts_help_html();

}  // namespace ps::gui

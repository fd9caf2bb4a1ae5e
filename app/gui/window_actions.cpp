#include "app/gui/window_actions.h"

#include <QAction>
#include <QMainWindow>
#include <QMenuBar>
#include <QStyle>

namespace ps::gui {
namespace {

QAction* make(QMainWindow* w, const QString& text, const QKeySequence& key, const QString& tip = {}) {
  auto* a = new QAction(text, w);
  if (!key.isEmpty()) a->setShortcut(key);
  a->setShortcutContext(Qt::WindowShortcut);
  a->setToolTip(tip.isEmpty() ? text : tip);
  w->addAction(a);  // shortcuts work even when the menu bar is hidden
  return a;
}

}  // namespace

WindowActions create_window_actions(QMainWindow* w, const std::array<const char*, 4>& page_names,
                                    const QList<QAction*>& dock_toggles) {
  WindowActions a{};
  a.open_preset = make(w, QMainWindow::tr("&Open preset…"), QKeySequence::Open);
  a.save_preset = make(w, QMainWindow::tr("&Save settings as preset…"), QKeySequence(QStringLiteral("Ctrl+S")));
  a.save_checkpoint = make(w, QMainWindow::tr("Save &checkpoint…"), QKeySequence(QStringLiteral("Ctrl+Shift+S")),
                           QMainWindow::tr("Save the whole state of the run to a file, to resume it later"));
  a.resume_checkpoint = make(w, QMainWindow::tr("&Resume from checkpoint…"), QKeySequence(QStringLiteral("Ctrl+Shift+O")),
                             QMainWindow::tr("Continue a saved run, optionally with another learning rate or length"));
  a.open_run = make(w, QMainWindow::tr("Open r&un…"), QKeySequence(QStringLiteral("Ctrl+Shift+R")),
                    QMainWindow::tr("Import a run folder (what pipescope-cli run --out DIR writes) into the run library"));
  a.export_screenshot = make(w, QMainWindow::tr("Save &screenshot…"), QKeySequence(QStringLiteral("Ctrl+Shift+P")));
  a.quit = make(w, QMainWindow::tr("&Quit"), QKeySequence(QStringLiteral("Ctrl+Q")));

  a.start_pause = make(w, QMainWindow::tr("Start / pause / resume"), QKeySequence(Qt::Key_Space));
  a.step_op = make(w, QMainWindow::tr("Step one op"), QKeySequence(Qt::Key_S));
  a.step_minibatch = make(w, QMainWindow::tr("Step one minibatch"), QKeySequence(QStringLiteral("Shift+S")));
  a.stop = make(w, QMainWindow::tr("Stop"), QKeySequence(Qt::Key_Escape));
  a.reset = make(w, QMainWindow::tr("Reset"), QKeySequence(QStringLiteral("Ctrl+R")));

  a.fit = make(w, QMainWindow::tr("&Fit to data"), QKeySequence(Qt::Key_F));
  a.follow_live = make(w, QMainWindow::tr("Follow &live"), QKeySequence(Qt::Key_L));
  a.zoom_in = make(w, QMainWindow::tr("&Larger text"), QKeySequence::ZoomIn);
  a.zoom_out = make(w, QMainWindow::tr("S&maller text"), QKeySequence::ZoomOut);
  a.zoom_reset = make(w, QMainWindow::tr("&Normal text size"), QKeySequence(QStringLiteral("Ctrl+0")));
  a.dark_theme = make(w, QMainWindow::tr("&Dark theme"), QKeySequence(QStringLiteral("Ctrl+T")));
  a.dark_theme->setCheckable(true);
  a.reset_layout = make(w, QMainWindow::tr("Reset &layout"), QKeySequence());
  a.projector = make(w, QMainWindow::tr("&Projector layout"), QKeySequence(Qt::Key_F11),
                     QMainWindow::tr("Hide the docks so the pages (and the timeline's rows) fill the window"));
  a.projector->setCheckable(true);
  for (int i = 0; i < 4; ++i)
    a.pages[std::size_t(i)] = make(w, QMainWindow::tr(page_names[std::size_t(i)]),
                                   QKeySequence(QStringLiteral("Ctrl+%1").arg(i + 1)));
  a.shortcuts = make(w, QMainWindow::tr("&Keyboard shortcuts"), QKeySequence::HelpContents);
  a.about = make(w, QMainWindow::tr("&About PipeScope"), QKeySequence());

  QMenu* file = w->menuBar()->addMenu(QMainWindow::tr("&File"));
  file->addActions({a.open_preset, a.save_preset});
  file->addSeparator();
  file->addActions({a.save_checkpoint, a.resume_checkpoint});
  file->addSeparator();
  file->addAction(a.open_run);
  file->addSeparator();
  file->addAction(a.export_screenshot);
  file->addSeparator();
  file->addAction(a.quit);
  QMenu* run = w->menuBar()->addMenu(QMainWindow::tr("&Run"));
  run->addActions({a.start_pause, a.step_op, a.step_minibatch, a.stop, a.reset});
  QMenu* view = w->menuBar()->addMenu(QMainWindow::tr("&View"));
  for (QAction* p : a.pages) view->addAction(p);
  view->addSeparator();
  view->addActions({a.fit, a.follow_live});
  view->addSeparator();
  view->addActions({a.zoom_in, a.zoom_out, a.zoom_reset, a.dark_theme});
  view->addSeparator();
  view->addActions(dock_toggles);
  view->addActions({a.projector, a.reset_layout});
  QMenu* help = w->menuBar()->addMenu(QMainWindow::tr("&Help"));
  help->addActions({a.shortcuts, a.about});
  return a;
}

const char* shortcuts_help_html() {
  return "<table cellspacing=6>"
         "<tr><td><b>Space</b></td><td>start, pause, resume</td></tr>"
         "<tr><td><b>S</b> / <b>Shift+S</b></td><td>while paused: step one op / one minibatch</td></tr>"
         "<tr><td><b>Esc</b></td><td>stop the run</td></tr>"
         "<tr><td><b>Ctrl+R</b></td><td>reset: stop, clear, prepare a fresh run</td></tr>"
         "<tr><td><b>F</b> / <b>L</b></td><td>fit the timeline and plots / follow the live edge</td></tr>"
         "<tr><td><b>Ctrl+1 … Ctrl+4</b></td><td>pipeline, weight versions, curves, compare</td></tr>"
         "<tr><td><b>Ctrl++</b> / <b>Ctrl+−</b> / <b>Ctrl+0</b></td><td>larger / smaller / normal text (projectors)</td></tr>"
         "<tr><td><b>Ctrl+T</b></td><td>light / dark theme</td></tr>"
         "<tr><td><b>F11</b></td><td>projector layout: hide the docks, grow the timeline</td></tr>"
         "<tr><td><b>Ctrl+Z</b> / <b>Ctrl+Shift+Z</b></td><td>undo / redo a partition edit (in the partition panel)</td></tr>"
         "<tr><td><b>Ctrl+O</b> / <b>Ctrl+S</b></td><td>open a preset / save the settings as a preset</td></tr>"
         "<tr><td><b>Ctrl+Shift+S</b> / <b>Ctrl+Shift+O</b></td><td>save a checkpoint of the run / resume from a "
         "checkpoint</td></tr>"
         "<tr><td><b>Ctrl+Shift+R</b></td><td>open a run folder (pipescope-cli run --out DIR) into the run library; "
         "or drop the folder on the window</td></tr>"
         "</table>";
}

}  // namespace ps::gui

// The window's single-key shortcuts (Space, S, Shift+S, Esc, F, L) work whatever has focus and never
// edit a field: a focused spin box would otherwise take Space and S as text and Esc as "undo the edit".
// Text fields (a learning rate, a strategy's text parameter) keep the keys they are typed with, except
// Esc, which edits nothing there and stays the window's Stop. A widget whose "escapeClears" property is
// true (the timeline while it draws a clicked box's arrows) takes Esc once to dismiss that.
#pragma once
#include <QKeySequence>
#include <QList>
#include <QObject>

class QAction;
class QWidget;

namespace ps::gui {

class ShortcutGuard : public QObject {
 public:
  // Watches every widget of `window` (an application event filter); `actions` hold the guarded keys.
  ShortcutGuard(QWidget* window, const QList<QAction*>& actions);
  ~ShortcutGuard() override;

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  QWidget* window_;
  QList<QKeySequence> keys_;
};

// True for a widget that takes typed text: a line edit outside a spin box, an editable text edit.
bool is_text_entry(const QWidget* widget);

}  // namespace ps::gui

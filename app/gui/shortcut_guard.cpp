#include "app/gui/shortcut_guard.h"

#include <QAbstractSpinBox>
#include <QAction>
#include <QApplication>
#include <QKeyEvent>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QTextEdit>
#include <QWidget>

namespace ps::gui {

bool is_text_entry(const QWidget* w) {
  for (; w; w = w->parentWidget()) {
    if (qobject_cast<const QAbstractSpinBox*>(w)) return false;
    if (auto* e = qobject_cast<const QLineEdit*>(w)) {
      if (qobject_cast<const QAbstractSpinBox*>(e->parentWidget())) return false;
      return !e->isReadOnly();
    }
    if (auto* t = qobject_cast<const QPlainTextEdit*>(w)) return !t->isReadOnly();
    if (auto* t = qobject_cast<const QTextEdit*>(w)) return !t->isReadOnly();
    if (w->isWindow()) return false;
  }
  return false;
}

ShortcutGuard::ShortcutGuard(QWidget* window, const QList<QAction*>& actions) : QObject(window), window_(window) {
  for (QAction* a : actions)
    for (const QKeySequence& k : a->shortcuts()) keys_ << k;
  qApp->installEventFilter(this);
}

ShortcutGuard::~ShortcutGuard() { qApp->removeEventFilter(this); }

bool ShortcutGuard::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() != QEvent::ShortcutOverride) return false;
  auto* widget = qobject_cast<QWidget*>(watched);
  if (!widget || widget->window() != window_) return false;
  auto* key = static_cast<QKeyEvent*>(event);
  if (!keys_.contains(QKeySequence(key->keyCombination()))) return false;
  if (key->key() != Qt::Key_Escape && is_text_entry(widget)) return false;  // typed text stays text
  // A widget with something of its own to dismiss (the timeline's arrows) takes that Esc first.
  if (key->key() == Qt::Key_Escape && widget->property("escapeClears").toBool()) return false;
  // Not accepted: the shortcut map goes on to the window's action, and the key never reaches the field.
  key->ignore();
  return true;
}

}  // namespace ps::gui

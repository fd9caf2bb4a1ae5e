#include "app/gui/theme.h"

#include <QApplication>
#include <QFile>
#include <QFont>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>
#include <algorithm>

// Resources compiled into a static library must be registered by name, from the global namespace.
static void init_pipescope_resources() { Q_INIT_RESOURCE(pipescope); }

namespace ps::gui {
namespace {

QPalette dark_palette() {
  QPalette p;
  const QColor window(37, 41, 48), base(27, 30, 36), text(226, 230, 235), mid(90, 96, 106);
  p.setColor(QPalette::Window, window);
  p.setColor(QPalette::WindowText, text);
  p.setColor(QPalette::Base, base);
  p.setColor(QPalette::AlternateBase, QColor(44, 49, 57));
  p.setColor(QPalette::Text, text);
  p.setColor(QPalette::Button, QColor(48, 53, 62));
  p.setColor(QPalette::ButtonText, text);
  p.setColor(QPalette::ToolTipBase, QColor(250, 250, 240));
  p.setColor(QPalette::ToolTipText, QColor(20, 20, 20));
  p.setColor(QPalette::Highlight, QColor(66, 133, 244));
  p.setColor(QPalette::HighlightedText, Qt::white);
  p.setColor(QPalette::PlaceholderText, QColor(140, 148, 158));
  p.setColor(QPalette::Mid, mid);
  p.setColor(QPalette::Dark, QColor(20, 22, 26));
  p.setColor(QPalette::Light, QColor(70, 76, 86));
  p.setColor(QPalette::Link, QColor(110, 170, 255));
  for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
    p.setColor(QPalette::Disabled, role, QColor(120, 126, 136));
  return p;
}

QPalette light_palette(const QStyle& style) {
  QPalette p = style.standardPalette();
  p.setColor(QPalette::AlternateBase, QColor(241, 243, 246));
  p.setColor(QPalette::PlaceholderText, QColor(110, 116, 126));
  p.setColor(QPalette::Highlight, QColor(38, 110, 220));
  return p;
}

}  // namespace

QString theme_name(Theme theme) { return theme == Theme::Dark ? QStringLiteral("dark") : QStringLiteral("light"); }
Theme theme_from_name(const QString& name) { return name == QStringLiteral("dark") ? Theme::Dark : Theme::Light; }

void apply_appearance(QApplication& app, const Appearance& a) {
  init_pipescope_resources();
  static const double base_size = [&app] {  // the platform's size, read before any sheet applies
    const QFont f = app.font();
    return f.pointSizeF() > 0 ? f.pointSizeF() : 10.0;
  }();
  app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
  app.setPalette(a.theme == Theme::Dark ? dark_palette() : light_palette(*app.style()));
  QFile qss(QStringLiteral(":/pipescope/themes/%1.qss").arg(theme_name(a.theme)));
  QString sheet = qss.open(QIODevice::ReadOnly) ? QString::fromUtf8(qss.readAll()) : QString();
  sheet += QStringLiteral("\n* { font-size: %1pt; }\n").arg(base_size * std::clamp(a.font_scale, 0.7, 3.0), 0, 'f', 1);
  app.setStyleSheet(sheet);
}

}  // namespace ps::gui

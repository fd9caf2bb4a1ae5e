// Light and dark themes (Fusion style + palette + a small style sheet from resources/themes) and the
// text size zoom that makes the dashboard readable on a classroom projector.
#pragma once
#include <QString>

class QApplication;

namespace ps::gui {

enum class Theme { Light, Dark };

QString theme_name(Theme theme);
Theme theme_from_name(const QString& name);  // unknown names: Light

struct Appearance {
  Theme theme = Theme::Light;
  double font_scale = 1.0;  // relative to the platform's text size, clamped to 0.7..3
};

// With a style sheet active, Qt takes fonts from the sheet (QApplication::setFont is ignored by styled
// widgets), so the text size is a rule of the sheet too.
void apply_appearance(QApplication& app, const Appearance& appearance);

}  // namespace ps::gui

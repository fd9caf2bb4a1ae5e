// Light and dark themes (Fusion style + palette + a small style sheet from resources/themes) and the
// font zoom that makes the dashboard readable on a classroom projector.
#pragma once
#include <QString>

class QApplication;

namespace ps::gui {

enum class Theme { Light, Dark };

QString theme_name(Theme theme);
Theme theme_from_name(const QString& name);  // unknown names: Light

void apply_theme(QApplication& app, Theme theme);

// Scales the application font relative to the platform default (1.0 = default), clamped to 0.7..3.
void apply_font_scale(QApplication& app, double scale);

}  // namespace ps::gui

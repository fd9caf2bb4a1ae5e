// QCustomPlot draws with its own pens: this makes its plots follow the application palette
// (light and dark themes) and the current font (classroom zoom).
#pragma once

class QCustomPlot;
class QPalette;
class QFont;

namespace ps::ui {

void style_plot(QCustomPlot* plot, const QPalette& palette, const QFont& font);

}  // namespace ps::ui

#include "widgets/plot_style.h"

#include "widgets/qcp.h"

namespace ps::ui {

void style_plot(QCustomPlot* plot, const QPalette& palette, const QFont& font) {
  const QColor text = palette.color(QPalette::WindowText);
  QColor grid = palette.color(QPalette::Mid);
  grid.setAlpha(90);
  auto style_axis = [&](QCPAxis* axis) {
    axis->setBasePen(QPen(text, 1));
    axis->setTickPen(QPen(text, 1));
    axis->setSubTickPen(QPen(text, 1));
    axis->setTickLabelColor(text);
    axis->setLabelColor(text);
    axis->setTickLabelFont(font);
    axis->setLabelFont(font);
    axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
    axis->grid()->setZeroLinePen(Qt::NoPen);
  };
  plot->setBackground(palette.color(QPalette::Base));
  for (QCPAxisRect* rect : plot->axisRects()) {
    rect->setBackground(palette.color(QPalette::Base));
    for (QCPAxis* axis : rect->axes()) style_axis(axis);
  }
  if (plot->legend) {
    plot->legend->setFont(font);
    plot->legend->setTextColor(text);
    for (int i = 0; i < plot->legend->itemCount(); ++i) {
      plot->legend->item(i)->setFont(font);
      plot->legend->item(i)->setTextColor(text);
    }
    const int icon_h = QFontMetrics(font).height() / 2;
    plot->legend->setIconSize(icon_h * 3, icon_h);
    QColor legend_bg = palette.color(QPalette::Base);
    legend_bg.setAlpha(220);
    plot->legend->setBrush(legend_bg);
    plot->legend->setBorderPen(QPen(grid));
  }
  for (int i = 0; i < plot->plotLayout()->elementCount(); ++i) {
    QCPLayoutElement* element = plot->plotLayout()->elementAt(i);
    if (auto* scale = qobject_cast<QCPColorScale*>(element)) style_axis(scale->axis());
    if (auto* title = qobject_cast<QCPTextElement*>(element)) {
      title->setTextColor(text);
      QFont bold = font;
      bold.setBold(true);
      title->setFont(bold);
    }
  }
}

}  // namespace ps::ui

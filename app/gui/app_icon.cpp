#include "app/gui/app_icon.h"

#include <QPainter>
#include <QPixmap>

#include "widgets/colors.h"

namespace ps::gui {

QIcon app_icon() {
  QIcon icon;
  for (int size : {16, 32, 64, 128, 256}) {
    QPixmap pixmap(size, size);
    pixmap.fill(Qt::transparent);
    {
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(Qt::NoPen);
    p.setBrush(QColor(36, 41, 51));
    p.drawRoundedRect(QRectF(0, 0, size, size), size * 0.18, size * 0.18);
    // Four stage rows, each shifted right by one box: a pipeline filling up.
    const double cell = size / 6.0, h = size / 6.0;
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 3; ++i) {
        p.setBrush(ui::minibatch_color(i, k % 2 ? OpKind::Backward : OpKind::Forward));
        p.drawRect(QRectF(cell * (0.6 + k * 0.8 + i * 1.0), size * 0.14 + k * (h + size * 0.04), cell * 0.9, h));
      }
    }
    icon.addPixmap(pixmap);
  }
  return icon;
}

}  // namespace ps::gui

// The application icon, painted in code (no image plugin needed): staggered pipeline boxes.
#pragma once
#include <QIcon>

namespace ps::gui {
QIcon app_icon();
}

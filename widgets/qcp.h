// The one way to include QCustomPlot here. Its header uses Qt's lower-case keyword macros (signals,
// foreach), which this project turns off (QT_NO_KEYWORDS, because LibTorch headers clash with `slots`):
// map them to the Q_ forms for the length of the include only.
#pragma once
#include <QtGlobal>

#ifdef QT_NO_KEYWORDS
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
#else
#include <qcustomplot.h>
#endif

// Texts of the timeline shared by its painting (timeline_view.cpp) and its tooltips
// (timeline_view_input.cpp).
#pragma once
#include <QString>

#include "engine/telemetry/events.h"

namespace ps::ui {

QString mark_label(const RunMark& m);                 // "repartition 2,5,8"
QString time_label(double ns, double step_ns);        // seconds, as many decimals as the step needs

}  // namespace ps::ui

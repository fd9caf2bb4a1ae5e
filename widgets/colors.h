// Colours shared by every view, so a stage or a minibatch looks the same on every page.
#pragma once
#include <QColor>

#include "engine/schedule/op.h"

namespace ps::ui {

// A qualitative palette (Tableau 10): stage k has the same colour in the editor, the timeline and the plots.
QColor stage_color(int stage);

// Minibatch colours repeat with this period (views may cache one colour per slot).
constexpr int kMinibatchHues = 12;

// Hue by minibatch (neighbours differ clearly); forward lighter, backward darker, update near-black.
QColor minibatch_color(int minibatch, OpKind kind);

// One colour per run in overlays.
QColor run_color(int index);

}  // namespace ps::ui

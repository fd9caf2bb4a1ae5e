// Colours shared by every view, so a stage or a minibatch looks the same on every page.
#pragma once
#include <QColor>

#include "engine/schedule/op.h"

namespace ps::ui {

// A qualitative palette (Tableau 10): stage k has the same colour in the editor, the timeline and the plots.
QColor stage_color(int stage);

// Minibatch colours repeat with this period (views may cache one colour per slot).
constexpr int kMinibatchHues = 12;

// The colour of an op: its kind picks the hue, as in torch's schedule visualizer (SCHEDULES.md section
// 4): F blue, B orange, I teal, W green, U near-black; the minibatch picks one of three shades, so
// neighbouring minibatches differ while a kind keeps its hue.
QColor minibatch_color(int minibatch, OpKind kind);
// An op of an overlapped pair (DualPipeV's OVERLAP(F;B)): purple, shaded by minibatch like the others.
QColor overlap_color(int minibatch);
// The kind's colour for a legend (the middle shade).
QColor kind_color(OpKind kind);

// One colour per run in overlays.
QColor run_color(int index);

}  // namespace ps::ui

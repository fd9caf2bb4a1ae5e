#include "widgets/colors.h"

#include <array>

namespace ps::ui {
namespace {

constexpr std::array<QRgb, 10> kTableau10 = {0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f,
                                             0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0xbab0ac};

// Three shades per kind, cycled by minibatch: 0 the base, 1 lighter, 2 darker.
int shade_for(int minibatch) { return ((minibatch % 3) + 3) % 3; }

QColor shaded(QColor base, int minibatch) {
  switch (shade_for(minibatch)) {
    case 1: return base.lighter(125);
    case 2: return base.darker(125);
    default: return base;
  }
}

}  // namespace

QColor stage_color(int stage) {
  const int n = static_cast<int>(kTableau10.size());
  return QColor::fromRgb(kTableau10[static_cast<std::size_t>(((stage % n) + n) % n)]);
}

QColor kind_color(OpKind kind) {
  switch (kind) {
    case OpKind::Forward: return QColor(0x4e, 0x8f, 0xd8);     // blue
    case OpKind::Backward: return QColor(0xf2, 0x8e, 0x2b);    // orange
    case OpKind::Update: return QColor(0x40, 0x40, 0x40);      // near-black
    case OpKind::InputGrad: return QColor(0x2a, 0xb0, 0xa8);   // teal
    case OpKind::WeightGrad: return QColor(0x59, 0xa1, 0x4f);  // green
  }
  return QColor(Qt::gray);
}

QColor minibatch_color(int minibatch, OpKind kind) { return shaded(kind_color(kind), minibatch); }

QColor overlap_color(int minibatch) { return shaded(QColor(0x9b, 0x6b, 0xc8), minibatch); }

QColor run_color(int index) {
  // Skip the light grey at the end of the palette: overlays need contrast.
  const int n = static_cast<int>(kTableau10.size()) - 1;
  return QColor::fromRgb(kTableau10[static_cast<std::size_t>(((index % n) + n) % n)]);
}

}  // namespace ps::ui

#include "widgets/colors.h"

#include <array>

namespace ps::ui {
namespace {

constexpr std::array<QRgb, 10> kTableau10 = {0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f,
                                             0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0xbab0ac};

// 12 hues stepped by 5/12 of the circle: consecutive minibatches land far apart on the wheel.
constexpr int kHueCount = kMinibatchHues;

int hue_for(int minibatch) {
  const int slot = ((minibatch % kHueCount) + kHueCount) % kHueCount;
  return (slot * 150) % 360;
}

}  // namespace

QColor stage_color(int stage) {
  const int n = static_cast<int>(kTableau10.size());
  return QColor::fromRgb(kTableau10[static_cast<std::size_t>(((stage % n) + n) % n)]);
}

QColor minibatch_color(int minibatch, OpKind kind) {
  const int hue = hue_for(minibatch);
  switch (kind) {
    case OpKind::Forward: return QColor::fromHsv(hue, 110, 245);
    case OpKind::Backward: return QColor::fromHsv(hue, 210, 175);
    case OpKind::Update: return QColor::fromHsv(hue, 60, 60);
    // A split backward: I (the input gradient, on the critical path) between F and B in depth, W (the
    // weight gradient, which fills bubbles) the darkest.
    case OpKind::InputGrad: return QColor::fromHsv(hue, 170, 215);
    case OpKind::WeightGrad: return QColor::fromHsv(hue, 235, 125);
  }
  return QColor(Qt::gray);
}

QColor run_color(int index) {
  // Skip the light grey at the end of the palette: overlays need contrast.
  const int n = static_cast<int>(kTableau10.size()) - 1;
  return QColor::fromRgb(kTableau10[static_cast<std::size_t>(((index % n) + n) % n)]);
}

}  // namespace ps::ui

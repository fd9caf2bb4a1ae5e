#include "engine/schedule/op.h"

namespace ps {

char op_letter(OpKind kind) {
  switch (kind) {
    case OpKind::Forward: return 'F';
    case OpKind::Backward: return 'B';
    case OpKind::Update: return 'U';
    case OpKind::InputGrad: return 'I';
    case OpKind::WeightGrad: return 'W';
  }
  return '?';
}

std::string op_name(const Op& op) {
  std::string s(1, op_letter(op.kind));
  s += std::to_string(op.minibatch);
  if (op.micro >= 0) s += "." + std::to_string(op.micro);
  if (op.chunk >= 0 && op.kind != OpKind::Update) s += "@" + std::to_string(op.chunk);
  return s;
}

}  // namespace ps

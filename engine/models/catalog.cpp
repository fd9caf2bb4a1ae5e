// The models PipeScope builds. Torch-free: the dashboard lists them without LibTorch.
#include "engine/models/model_info.h"

#include <algorithm>

namespace ps {

const std::vector<ModelCatalogEntry>& model_catalog() {
  static const std::vector<ModelCatalogEntry> entries = {
      {"mlp", "Multi-layer perceptron: flatten, hidden Linear+ReLU layers (model.hidden, default 256,128), head"},
      {"lenet5", "LeNet-5: two conv-tanh-avgpool units and three fully connected units, for images"},
      {"cnn", "Fashion-MNIST baseline: two 5x5 conv+ReLU+maxpool units (32, 64 channels), fc 1024, head"},
      {"vgg", "Small VGG: four blocks of two 3x3 convs + maxpool (model.width channels, doubling), two fc units"},
      {"resnet", "ResNet with GroupNorm: stem, model.depth residual blocks (default 4), pooled linear head"},
      {"transformer",
       "Pre-LayerNorm transformer encoder for token sequences: embedding, model.depth blocks (default 2), "
       "mean-pooled head"},
  };
  return entries;
}

bool is_model(const std::string& name) {
  const auto& all = model_catalog();
  return std::any_of(all.begin(), all.end(), [&](const ModelCatalogEntry& e) { return e.name == name; });
}

}  // namespace ps

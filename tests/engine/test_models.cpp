// Models: ModelInfo agrees with the modules actually built, units can be built in groups without
// changing a single weight, and bad configurations are named by their field.
#include <gtest/gtest.h>

#include "engine/data/dataset.h"
#include "engine/models/model.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

InputSpec images(std::int64_t c, std::int64_t h, std::int64_t w, int classes = 10) {
  InputSpec s;
  s.sample_shape = {c, h, w};
  s.num_classes = classes;
  return s;
}

InputSpec points(int classes) {
  InputSpec s;
  s.sample_shape = {2};
  s.num_classes = classes;
  return s;
}

InputSpec token_sequences() {
  InputSpec s;
  s.sample_shape = {16};
  s.num_classes = 4;
  s.tokens = true;
  s.vocab = 16;
  return s;
}

at::Tensor sample_batch(const InputSpec& input, std::int64_t batch) {
  std::vector<std::int64_t> shape{batch};
  shape.insert(shape.end(), input.sample_shape.begin(), input.sample_shape.end());
  auto gen = at::make_generator<at::CPUGeneratorImpl>(99);  // leaves the global generator to the models
  if (input.tokens) return torch::randint(input.vocab, shape, gen, torch::kLong);
  return torch::randn(shape, gen);
}

std::vector<at::Tensor> weights_of(const torch::nn::Sequential& units) {
  std::vector<at::Tensor> out;
  for (const auto& p : units->parameters()) out.push_back(p.detach().clone());
  return out;
}

ModelConfig named(const std::string& name, int width = 0, int depth = 0) {
  ModelConfig cfg;
  cfg.name = name;
  cfg.width = width;
  cfg.depth = depth;
  return cfg;
}

struct ModelCase {
  std::string label;
  ModelConfig model;
  InputSpec input;
};

std::vector<ModelCase> all_cases() {
  ModelConfig three_layer_mlp = named("mlp");
  three_layer_mlp.hidden = {64, 32, 16};
  return {
      {"mlp_fashion", named("mlp"), images(1, 28, 28)},
      {"mlp_points", three_layer_mlp, points(2)},
      {"lenet5_fashion", named("lenet5"), images(1, 28, 28)},
      {"lenet5_cifar", named("lenet5"), images(3, 32, 32)},
      {"cnn_fashion", named("cnn"), images(1, 28, 28)},
      {"cnn_cifar", named("cnn", 8), images(3, 32, 32)},
      {"vgg_fashion", named("vgg", 8), images(1, 28, 28)},
      {"vgg_cifar", named("vgg"), images(3, 32, 32)},
      {"resnet_fashion", named("resnet", 8), images(1, 28, 28)},
      {"resnet_cifar_deep", named("resnet", 8, 7), images(3, 32, 32, 100)},
      {"transformer", named("transformer"), token_sequences()},
      {"transformer_deep_narrow", named("transformer", 32, 3), token_sequences()},
  };
}

class ModelsEveryModel : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelsEveryModel, InfoMatchesTheBuiltModules) {
  const ModelCase& c = GetParam();
  const ModelBuilder builder(c.model, c.input);
  const ModelInfo& info = builder.info();
  ASSERT_GE(builder.num_units(), 3);
  EXPECT_EQ(info.input_shape, c.input.sample_shape);
  EXPECT_EQ(info.num_classes, c.input.num_classes);
  torch::manual_seed(1);
  torch::nn::Sequential units = builder.build_units(0, builder.num_units());
  ASSERT_EQ(static_cast<int>(units->size()), builder.num_units());

  torch::NoGradGuard no_grad;
  const std::int64_t batch = 3;
  at::Tensor x = sample_batch(c.input, batch);
  for (int i = 0; i < builder.num_units(); ++i) {
    const UnitInfo& unit = info.units[i];
    SCOPED_TRACE(c.label + " unit " + unit.name);
    EXPECT_EQ(units->named_children()[i].key(), unit.name);
    std::int64_t params = 0;
    for (const auto& p : units->ptr(i)->parameters()) params += p.numel();
    EXPECT_EQ(params, unit.params);
    EXPECT_TRUE(units->ptr(i)->buffers().empty()) << "state outside parameters";

    x = units->begin()[i].forward<at::Tensor>(x);
    std::vector<std::int64_t> expected{batch};
    expected.insert(expected.end(), unit.output_shape.begin(), unit.output_shape.end());
    ASSERT_EQ(x.sizes(), at::IntArrayRef(expected));
    EXPECT_EQ(unit.activation_bytes, 4 * x.numel() / batch);
    EXPECT_GT(unit.forward_flops, 0.0);
  }
  EXPECT_EQ(info.units.back().output_shape, (std::vector<std::int64_t>{c.input.num_classes}));
}

TEST_P(ModelsEveryModel, BuildingInGroupsGivesTheSameWeightsAndOutputs) {
  const ModelCase& c = GetParam();
  const ModelBuilder builder(c.model, c.input);
  const int n = builder.num_units();
  torch::manual_seed(7);
  torch::nn::Sequential whole = builder.build_units(0, n);
  const std::vector<at::Tensor> reference = weights_of(whole);
  const at::Tensor x = sample_batch(c.input, 2);
  torch::NoGradGuard no_grad;
  const at::Tensor reference_out = whole->forward(x);

  for (int k = 1; k < n; ++k) {
    SCOPED_TRACE(c.label + " split at " + std::to_string(k));
    torch::manual_seed(7);
    torch::nn::Sequential front = builder.build_units(0, k);
    torch::nn::Sequential back = builder.build_units(k, n);
    std::vector<at::Tensor> split = weights_of(front);
    for (const at::Tensor& t : weights_of(back)) split.push_back(t);
    ASSERT_EQ(split.size(), reference.size());
    for (std::size_t i = 0; i < split.size(); ++i) ASSERT_TRUE(torch::equal(split[i], reference[i])) << "tensor " << i;
    EXPECT_TRUE(torch::equal(back->forward(front->forward(x)), reference_out));
  }
}

TEST_P(ModelsEveryModel, EveryParameterGetsAGradient) {
  const ModelCase& c = GetParam();
  const ModelBuilder builder(c.model, c.input);
  torch::manual_seed(3);
  torch::nn::Sequential model = builder.build_units(0, builder.num_units());
  const at::Tensor x = sample_batch(c.input, 4);
  const at::Tensor labels = torch::arange(4, torch::kLong).remainder(c.input.num_classes);
  torch::cross_entropy_loss(model->forward(x), labels).backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST_P(ModelsEveryModel, ComputingInfoLeavesTheGlobalGeneratorAlone) {
  const ModelCase& c = GetParam();
  torch::manual_seed(11);
  const at::Tensor expected = torch::rand({4});
  torch::manual_seed(11);
  const ModelBuilder builder(c.model, c.input);
  EXPECT_GT(builder.info().total_params(), 0);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected));
}

INSTANTIATE_TEST_SUITE_P(All, ModelsEveryModel, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& p) { return p.param.label; });

TEST(ModelsConvCost, FlopsGrowWithTheImageAreaAndActivationsFollowTheShape) {
  for (const std::string name : {"cnn", "vgg", "resnet"}) {
    const ModelBuilder small(named(name), images(1, 28, 28)), large(named(name), images(1, 56, 56));
    // The first unit convolves the whole image: twice the side, four times the work.
    EXPECT_DOUBLE_EQ(large.info().units[0].forward_flops, 4.0 * small.info().units[0].forward_flops) << name;
    EXPECT_EQ(large.info().units[0].activation_bytes, 4 * small.info().units[0].activation_bytes) << name;
    EXPECT_EQ(large.info().units.back().params, small.info().units.back().params) << name;
  }
}

TEST(ModelsBuild, UnitRangeOutsideTheModelThrows) {
  const ModelBuilder builder(named("mlp"), points(2));
  EXPECT_THROW(builder.build_units(-1, 1), std::out_of_range);
  EXPECT_THROW(builder.build_units(0, builder.num_units() + 1), std::out_of_range);
  EXPECT_THROW(builder.build_units(2, 1), std::out_of_range);
  EXPECT_EQ(builder.build_units(1, 1)->size(), 0u);
}

TEST(ModelsBuild, MlpUnitsFollowTheHiddenWidths) {
  ModelConfig cfg = named("mlp");
  cfg.hidden = {40, 30};
  const ModelBuilder builder(cfg, images(1, 28, 28));
  ASSERT_EQ(builder.num_units(), 3);
  EXPECT_EQ(builder.info().units[0].name, "flatten+fc1");
  EXPECT_EQ(builder.info().units[0].output_shape, (std::vector<std::int64_t>{40}));
  EXPECT_EQ(builder.info().units[1].output_shape, (std::vector<std::int64_t>{30}));
  EXPECT_EQ(builder.info().units[2].name, "head");
}

TEST(ModelsBuild, DepthSetsTheNumberOfBlocks) {
  for (int depth : {1, 2, 5}) {
    EXPECT_EQ(ModelBuilder(named("resnet", 4, depth), images(3, 16, 16)).num_units(), depth + 2);
    EXPECT_EQ(ModelBuilder(named("transformer", 16, depth), token_sequences()).num_units(), depth + 2);
  }
}

// Trains `model` on `data` for `steps` minibatches of 64 and returns the test accuracy.
double train_and_test(const ModelConfig& model, const DataSplit& data, int steps, bool adam, double lr) {
  torch::manual_seed(1);
  const ModelBuilder builder(model, data.input);
  torch::nn::Sequential net = builder.build_units(0, builder.num_units());
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  if (adam) optimizer = std::make_unique<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(lr));
  else optimizer = std::make_unique<torch::optim::SGD>(net->parameters(), torch::optim::SGDOptions(lr).momentum(0.9));
  auto order = at::make_generator<at::CPUGeneratorImpl>(5);
  for (int step = 0; step < steps; ++step) {
    const at::Tensor rows = torch::randint(data.train.size(), {64}, order, torch::kLong);
    const at::Tensor loss = torch::cross_entropy_loss(net->forward(data.train.inputs.index_select(0, rows)),
                                                      data.train.labels.index_select(0, rows));
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
  }
  torch::NoGradGuard no_grad;
  return net->forward(data.test.inputs).argmax(1).eq(data.test.labels).to(torch::kDouble).mean().item<double>();
}

TEST(ModelsLearning, MlpSeparatesTheBlobs) {
  DatasetConfig blobs;
  blobs.name = "blobs";
  blobs.synthetic_size = 2048;
  ModelConfig mlp = named("mlp");
  mlp.hidden = {32};
  // Four unit-variance blobs at (+-2, +-2): the best possible accuracy is about 0.95, chance 0.25.
  EXPECT_GT(train_and_test(mlp, load_dataset(blobs, 1), 300, /*adam=*/false, 0.05), 0.85);
}

TEST(ModelsLearning, TransformerLearnsWhichTokenComesFirst) {
  DatasetConfig sequence;
  sequence.name = "sequence";
  sequence.synthetic_size = 2048;
  // Chance is 0.25, and every sequence holds the same bag of tokens: only their order tells the class.
  EXPECT_GT(train_and_test(named("transformer", 32), load_dataset(sequence, 1), 120, /*adam=*/true, 3e-3), 0.6);
}

struct BadConfig {
  std::string label;
  ModelConfig model;
  InputSpec input;
  std::string field;
};

class ModelsBadConfig : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ModelsBadConfig, ThrowsInputErrorNamingTheField) {
  const BadConfig& c = GetParam();
  try {
    ModelBuilder builder(c.model, c.input);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), c.field) << e.what();
    EXPECT_FALSE(e.reason().empty());
  }
}

std::vector<BadConfig> bad_configs() {
  ModelConfig zero_hidden = named("mlp");
  zero_hidden.hidden = {64, 0};
  ModelConfig negative_hidden = named("mlp");
  negative_hidden.hidden = {-3};
  return {
      {"unknown_name", named("alexnet"), images(1, 28, 28), "model.name"},
      {"mlp_zero_hidden", zero_hidden, images(1, 28, 28), "model.hidden[1]"},
      {"mlp_negative_hidden", negative_hidden, points(2), "model.hidden[0]"},
      {"mlp_on_tokens", named("mlp"), token_sequences(), "model.name"},
      {"cnn_on_points", named("cnn"), points(2), "model.name"},
      {"resnet_on_tokens", named("resnet"), token_sequences(), "model.name"},
      {"transformer_on_images", named("transformer"), images(1, 28, 28), "model.name"},
      {"lenet5_on_tiny_images", named("lenet5"), images(1, 8, 8), "model.name"},
      {"cnn_on_tiny_images", named("cnn"), images(3, 3, 3), "model.name"},
      {"negative_width", named("vgg", -1), images(3, 32, 32), "model.width"},
      {"negative_depth", named("resnet", 0, -2), images(3, 32, 32), "model.depth"},
      {"resnet_too_deep", named("resnet", 4, 1000), images(3, 32, 32), "model.depth"},
      {"transformer_width_not_multiple_of_heads", named("transformer", 30), token_sequences(), "model.width"},
  };
}

INSTANTIATE_TEST_SUITE_P(All, ModelsBadConfig, ::testing::ValuesIn(bad_configs()),
                         [](const ::testing::TestParamInfo<BadConfig>& p) { return p.param.label; });

}  // namespace
}  // namespace ps

// A run's whole configuration, as read from a preset (presets/*.json) and overridden on the command line.
// Plain value type: the CLI, the dashboard and the engine all pass it around.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ps {

struct ModelConfig {
  std::string name = "mlp";  // mlp, lenet5, cnn, vgg, resnet, transformer
  std::vector<int> hidden;   // mlp only: hidden widths (default 256,128)
  int width = 0;             // cnn/vgg/resnet: base channel count (0 = model default)
  int depth = 0;             // resnet/transformer: blocks (0 = model default)
};

struct DatasetConfig {
  std::string name = "fashion-mnist";  // fashion-mnist, mnist-dir, cifar10, spirals, blobs, sequence
  std::string path;                    // directory for file-backed sets ("" = the default location)
  std::int64_t train_limit = 0;        // 0 = all
  std::int64_t test_limit = 0;         // 0 = all
  std::int64_t synthetic_size = 4096;  // synthetic sets: number of training samples
  double test_fraction = 0.2;          // synthetic sets: held-out fraction
  bool normalize = true;
};

struct OptimizerConfig {
  std::string name = "sgd";  // sgd, adam
  double lr = 0.05;
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

struct LrScheduleConfig {
  std::string name = "constant";  // constant, step, cosine
  int warmup_steps = 0;
  int step_size = 1000;  // step: multiply by gamma every step_size steps
  double gamma = 0.5;
  double min_lr = 0.0;   // cosine floor
};

struct StrategyConfig {
  std::string name = "latest";
  std::map<std::string, std::string> params;  // validated against the strategy's catalogue entry
};

struct RunConfig {
  std::string source;  // the preset file this came from ("" when built in code); used in error messages
  std::string name;
  std::string description;
  ModelConfig model;
  DatasetConfig dataset;
  OptimizerConfig optimizer;
  LrScheduleConfig lr_schedule;
  int batch_size = 64;
  int microbatches = 1;
  int epochs = 1;
  std::int64_t steps = 0;          // > 0: stop after this many minibatches (overrides epochs)
  int stages = 1;                  // used when partition is empty: split evenly by estimated cost
  std::vector<int> partition;      // first layer unit of every chunk after the first (stages x chunks of them)
  int chunks = 0;                  // model chunks per device (v); 0: the schedule's default (2 where it places several)
  // Pipeline x data parallel: every stage has this many replicas (devices = stages x replicas), each
  // taking 1/replicas of every minibatch; the replicas of a stage sum their gradients before its update.
  // The data-parallel schedule is the case of one stage: its replicas are given in `stages`.
  int replicas = 1;
  std::string device = "cpu";      // cpu, cuda
  std::vector<std::string> stage_devices;  // optional per-stage device ("cpu", "cuda:0", ...)
  std::string schedule = "1f1b-async";
  StrategyConfig strategy;
  std::string executor = "threaded";  // threaded, sequential, processes (one process per stage, c10d)
  // processes: how long a rank waits for another (rendezvous, a message, the end of the run) before it
  // gives up naming that rank. Gloo's and the store's own defaults (30 and 5 minutes) are far too long.
  double processes_timeout_seconds = 60;
  // processes: how long a stage that waits for a neighbour's message first spins, yielding its core to
  // any thread that wants it (the receivers bringing the message), before it sleeps; 0 sleeps at once.
  // A message between processes passes through a few threads, and a sleeping stage's core may have
  // halted: waking it costs up to hundreds of microseconds on a VM (README, "The link's cost").
  int processes_spin_microseconds = 1000;
  int threads_per_stage = 1;
  // Each device's worker thread (and its intra-op threads) on cores of its own: device d of this host
  // on cores d*t .. d*t+t-1 (t = threads_per_stage), modulo the host's cores (engine/session/pinning.h).
  // on: every executor but sequential (a rank by its place on its host, LOCAL_RANK); off, and auto: never,
  // as measured on 2 cores (README, Benchmarks): pinned processes lost 18% on small ops, threads ~1%.
  std::string pin_threads = "auto";
  std::uint64_t seed = 1;
  int eval_every_epochs = 1;  // evaluate on the test set after every N epochs (and at the end)
  bool telemetry = true;
  // Divergence from the staleness-free weights needs a copy of the weights an op read until its target
  // version exists. Measured on every N-th minibatch (1 = every op: audit mode; 0 = never).
  int divergence_every = 8;
  // Bit-identical runs on CUDA: deterministic algorithms only (an op without one is an error), cuDNN
  // deterministic, cuBLAS's fixed workspace. CPU runs are bit-identical either way.
  bool deterministic = false;

  // Stages are devices (workers); each holds chunks_per_device() model chunks (virtual stages).
  int chunks_per_device() const;  // `chunks` resolved against the schedule
  int num_chunks() const { return partition.empty() ? stages * chunks_per_device() : static_cast<int>(partition.size()) + 1; }
  int num_stages() const { return partition.empty() ? stages : num_chunks() / chunks_per_device(); }
  int num_devices() const { return num_stages() * replicas; }  // workers (ranks, for processes)
};

// Reads and validates a preset. Throws InputError naming the file, the field path and the reason.
RunConfig load_preset(const std::string& path);
RunConfig parse_preset(const std::string& json_text, const std::string& source);
std::string preset_to_json(const RunConfig& cfg);  // pretty JSON, the same schema load_preset reads

// Checks what can be checked without building the model (the session checks the partition against it).
void validate(const RunConfig& cfg);

// Applies "key=value" overrides by field path, e.g. "optimizer.lr=0.1", "strategy.params.lambda=0.5".
void apply_override(RunConfig& cfg, const std::string& assignment);

}  // namespace ps

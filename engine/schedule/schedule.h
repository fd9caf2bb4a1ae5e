// Schedules are pure functions: (name, devices S, chunks per device v, microbatches M, minibatches)
// -> per-device op lists. No timing, no threads: the executors only follow these lists, so versions never
// depend on timing. The modern schedules (SCHEDULES.md) are in schedule_modern.cpp.
#pragma once
#include <string>
#include <vector>

#include "engine/schedule/op.h"

namespace ps {

// Where a schedule puts its S*v chunks: one per device, chunk c on device c mod S (loop), or device d
// holding chunks d and 2S-1-d (V).
enum class Placement { OnePerDevice, Loop, V };

struct ScheduleInfo {
  std::string name;
  std::string summary;
  bool synchronous = false;         // every pass of minibatch i reads weight version i
  bool takes_microbatches = false;  // M > 1 allowed
  bool replicas = false;            // data-parallel: "stages" are whole-model replicas
  Placement placement = Placement::OnePerDevice;
  bool split_backward = false;  // uses I and W ops
  bool overlap_pairs = false;   // issues OVERLAP(F;B) pairs (run one after the other on a CPU device)
  std::string note;             // shown beside the schedule where it matters (e.g. "our construction")
  int default_chunks() const { return placement == Placement::OnePerDevice ? 1 : 2; }
  int min_microbatches(int stages) const { return name == "dualpipev" ? 2 * stages : 1; }
};

const std::vector<ScheduleInfo>& schedule_catalog();
const ScheduleInfo& schedule_info(const std::string& name);  // throws InputError for unknown names
bool is_schedule(const std::string& name);

// `chunks` is v, the chunks per device; 0 means the schedule's default (2 where it places several).
// Throws InputError naming the field when the combination is invalid (unknown name, S < 1, M < 1, M > 1
// where not allowed, chunks a placement refuses, M that a schedule's rounds rule refuses).
std::vector<StageOps> make_schedule(const std::string& name, int stages, int microbatches, int minibatches,
                                    int chunks = 0);
// The same checks without building the lists.
void check_schedule(const std::string& name, int stages, int microbatches, int chunks = 0);
int resolve_chunks(const std::string& name, int chunks);  // 0 -> the schedule's default

// Device of every chunk 0..S*v-1 under the schedule's placement.
std::vector<int> chunk_devices(const std::string& name, int stages, int chunks = 0);
inline int num_chunks(int stages, int chunks) { return stages * chunks; }

// Bubble fraction of the ideal schedule with equal op times (F = I = W = 1, B = 2), 0 for the
// asynchronous ones in steady state.
double ideal_bubble_fraction(const std::string& name, int stages, int microbatches, int chunks = 0);

// Number of minibatches stage k forwards before its first backward in an asynchronous schedule.
int warmup_minibatches(const std::string& name, int stages, int stage, int microbatches);

// Torch's notation for one minibatch's ops (tests and docs): "2F0" is chunk 2's forward of microbatch 0,
// an OVERLAP pair is "(0F3;3B1)"; U is left out; ops without a chunk are written as chunk `device`.
std::string torch_notation(const StageOps& ops, int device);

namespace detail {
// One minibatch's per-device lists of the modern schedules (chunk set on every op, micro -1 when M = 1).
std::vector<StageOps> modern_minibatch(const std::string& name, int S, int M, int v);
void check_modern(const std::string& name, int S, int M, int v);
// The bubble of one minibatch replayed with equal op times per chunk (F = I = W = 1/v, B = 2/v).
double unit_time_bubble(const std::string& name, int S, int M, int v);
}  // namespace detail

}  // namespace ps

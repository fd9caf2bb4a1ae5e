// What travels between ranks, as bytes: a small fixed header frame first (kind, key, payload size), so
// the receiver can size its buffer (a Gloo receive smaller than the message aborts the process), then
// the payload. Both sides run the same binary (checked at rendezvous), so plain structs go as they are.
#pragma once
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/runtime/stage.h"
#include "engine/telemetry/events.h"

namespace ps::dist {

enum class FrameKind : std::int64_t {
  Data = 1,   // an activation or gradient; key: the directed link (link_key)
  Weights,    // a rank's live weights for evaluation; key: the sender's rank
  Telemetry,  // op/transfer events, results and figures for rank 0
  Stop,       // stop the run; payload: the reason when a rank failed ("" for a plain stop)
  End,        // the sender sends nothing more; payload: a final telemetry packet
  Flushed,    // the sender's pipeline has stopped: no activation or gradient follows this frame
  State,      // a rank's part of a checkpoint, for rank 0 (pack_state)
  Ping,       // clock alignment at the rendezvous; key: a sequence number
  Pong,       // rank 0's answer; payload: its steady clock when it answered (pack_text)
  Grads,      // a replica's gradients of one chunk for one minibatch (pack_tensors); key: grads_key
  Control,    // rank 0's pause, resume, step or slow motion (pack_text: the kind); key: its value
};
constexpr std::int64_t kFrameMagic = 0x50535043;  // "PSPC"
// A frame on the wire: these words, then the payload's bytes, cut into Gloo messages of at most
// kMessageBytes (the header at the start of the first). The receiver keeps kReceivesPosted receives of
// kMessageBytes posted for every peer (a Gloo receive smaller than the message would abort the process),
// so that a sender always finds one posted and writes at once: a frame that follows another (telemetry,
// then an activation) used to wait for the receiver to post its next receive and for the sender's event
// loop to hear of it, milliseconds when that loop shares a busy core.
constexpr int kHeaderWords = 5;  // magic, kind, key, payload bytes, messages in the frame
constexpr std::int64_t kHeaderBytes = kHeaderWords * static_cast<std::int64_t>(sizeof(std::int64_t));
constexpr std::int64_t kMessageBytes = 1024 * 1024;
constexpr int kReceivesPosted = 3;
inline std::int64_t frame_messages(std::int64_t payload_bytes) {
  return (kHeaderBytes + payload_bytes + kMessageBytes - 1) / kMessageBytes;
}

// The link carrying what chunk `from` sends to its neighbour `to`.
inline std::int64_t link_key(int from, int to) { return 2 * static_cast<std::int64_t>(std::min(from, to)) + (to < from ? 1 : 0); }

// Pipeline x data parallel: what replica `replica` sends the other replicas of the chunk at `position`
// in its pipeline, for minibatch `minibatch` (positions and replicas below 4096).
inline std::int64_t grads_key(std::int64_t minibatch, int position, int replica) {
  return (minibatch << 24) | (static_cast<std::int64_t>(position) << 12) | replica;
}

// A chunk's running figures, for the summary that rank 0 writes.
struct ChunkFigures {
  std::int32_t chunk = 0;
  std::int32_t copies_max = 0;
  std::int64_t busy_ns = 0, bytes_max = 0, activation_bytes_max = 0;
  std::int64_t link_wait_ns = 0, bytes_sent = 0, messages_sent = 0;
  std::int64_t device_activation_bytes_max = 0;  // the chunk's device, all its chunks together
};

struct TelemetryPacket {
  std::int64_t origin_ns = 0;  // the sender's run origin on rank 0's steady clock (aligns its times)
  std::vector<OpEvent> ops;
  std::vector<TransferEvent> transfers;
  std::vector<MinibatchResult> results;
  // When each of `results` was complete: seconds of the run's wall clock on the sender (its wall_now(),
  // whose origin is origin_ns), moved to rank 0's like the op times.
  std::vector<double> result_seconds;
  std::vector<ChunkFigures> figures;
  std::int32_t status = -1;  // End: the sender's RunStatus
  std::string error;         // End: the sender's error
};

// Payloads as CPU uint8 tensors (what Gloo sends). `origin_ns`: the local run origin, so that a
// message's send time crosses processes as an absolute steady-clock time.
// `headroom`: bytes left unwritten before the message (kHeaderBytes for Group::post's headroom).
// Unpacking gives views of `bytes` where a tensor's bytes are aligned for its type (they are as packed
// here): the tensors keep `bytes` alive, and nothing must write to `bytes` afterwards.
at::Tensor pack_message(const Message& m, std::int64_t origin_ns, std::int64_t headroom = 0);
Message unpack_message(const at::Tensor& bytes, std::int64_t origin_ns);
at::Tensor pack_tensors(const std::vector<at::Tensor>& tensors);
std::vector<at::Tensor> unpack_tensors(const at::Tensor& bytes);
at::Tensor pack_telemetry(const TelemetryPacket& p);
TelemetryPacket unpack_telemetry(const at::Tensor& bytes);
at::Tensor pack_text(const std::string& text);
std::string unpack_text(const at::Tensor& bytes);
// A JSON text with named tensors (a rank's part of a checkpoint).
at::Tensor pack_state(const std::string& json, const std::vector<std::pair<std::string, at::Tensor>>& tensors);
std::pair<std::string, std::vector<std::pair<std::string, at::Tensor>>> unpack_state(const at::Tensor& bytes);

}  // namespace ps::dist

// The ranks of a multi-process run joined through c10d: the rendezvous (a store, a digest of the config
// and the binary checked across ranks, a run token) and framed point-to-point messages over Gloo. The
// c10d headers stay in group.cpp.
#pragma once
#include <ATen/core/Tensor.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "engine/config/run_config.h"
#include "engine/dist/dist_options.h"
#include "engine/dist/wire.h"

namespace ps::dist {

struct Frame {
  FrameKind kind = FrameKind::Data;
  std::int64_t key = 0;
  at::Tensor payload;  // uint8, possibly empty
};

class Group {
 public:
  // Meets the other ranks. Throws InputError naming the rank and the field when a rank runs another
  // config or binary, or the variable for a bad environment; std::runtime_error naming the ranks that
  // did not come within `timeout`.
  Group(const DistOptions& o, const RunConfig& cfg, std::chrono::milliseconds timeout);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int rank() const;
  int world() const;
  // "rank R, pid P on HOST", from what rank R said at the rendezvous.
  std::string describe(int rank) const;
  // Frames to one peer go in the order given, never interleaved, from any thread, as Gloo messages of at
  // most kMessageBytes into the receives the peer keeps posted (wire.h).
  // send: returns once the peer has the frame; throws when the peer is gone or does not take it within
  // the timeout.
  void send(int peer, FrameKind kind, std::int64_t key, const at::Tensor& payload = at::Tensor());
  // post: hands the frame to Gloo and returns (the bytes are written at once when the peer's receive is
  // posted, else by Gloo's event loop when it is; the caller never waits for the peer). Throws when
  // frames to the peer already failed; a later failure goes to the handler of on_send_error, and every
  // later send or post to that peer throws.
  // `headroom`: the payload's first kHeaderBytes are room for the frame's header (pack_message's
  // `headroom`), which is written there, so that the frame goes without a copy.
  void post(int peer, FrameKind kind, std::int64_t key, const at::Tensor& payload = at::Tensor(), bool headroom = false);
  // Called on the peer's completion thread, once per peer, when a posted frame could not be sent.
  void on_send_error(std::function<void(int peer, const std::string& why)> handler);
  // The next frame from `peer` (one receiving thread per peer). nullopt once abort_recv(peer) was
  // called; throws when the peer is gone.
  std::optional<Frame> recv(int peer);
  void abort_recv(int peer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// This binary's identity for the rendezvous check: its GNU build id (or its size and time).
std::string binary_version();

}  // namespace ps::dist

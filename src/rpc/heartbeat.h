// Heartbeat streams: each node watches its nearest routing-table neighbours
// over bidirectional streams, one per pair of nodes where both watch each
// other: the node with the lower ID dials, and both ends write a beat on it
// every interval. Every beat received feeds the failure detector
// (node::PeerApi::HandleHeartbeat).
#pragma once

#include <cstdint>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/kv.grpc.pb.h"
#include "src/node/api.h"
#include "src/rpc/peer_client.h"

namespace kv::rpc {

class HeartbeatServerStream;

// Tracks the server side of open Heartbeat streams so shutdown can end them
// instead of waiting for the peers to hang up. Thread-safe.
class HeartbeatRegistry {
 public:
  // Creates the reactor for one incoming stream. It deletes itself when done.
  // With `required`, a beat from any other node ends the stream with
  // PERMISSION_DENIED.
  grpc::ServerBidiReactor<kvstore::v1::HeartbeatMessage, kvstore::v1::HeartbeatMessage>* Accept(
      grpc::CallbackServerContext* ctx, node::PeerApi* node,
      std::optional<dht::NodeId> required = std::nullopt);
  // A reactor that ends the stream at once with `why`.
  static grpc::ServerBidiReactor<kvstore::v1::HeartbeatMessage, kvstore::v1::HeartbeatMessage>*
  Refuse(grpc::CallbackServerContext* ctx, const absl::Status& why);
  // Cancels every open stream; new streams are cancelled as they arrive.
  void CloseAll();
  // Writes `beat` on every open stream (skipping those still writing the last).
  void BeatAll(const kvstore::v1::HeartbeatMessage& beat);
  // For each node that streams to this one: when its latest beat arrived.
  absl::flat_hash_map<dht::NodeId, absl::Time> LastHeard();

 private:
  friend class HeartbeatServerStream;
  void Remove(HeartbeatServerStream* s);

  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<HeartbeatServerStream*> open_ ABSL_GUARDED_BY(mu_);
};

class HeartbeatClientStream;
struct StreamCounter;

// The client side: a thread that every `interval` opens missing streams,
// writes a beat on each stream, the ones it dialed and the ones it accepted
// (`incoming`), and restarts streams that went silent. It does not dial a
// neighbour with a lower ID whose own stream to this node is beating: the
// pair shares that one.
class HeartbeatClient {
 public:
  struct Options {
    absl::Duration interval = absl::Milliseconds(500);
    absl::Duration failure_timeout = absl::Seconds(3);
    size_t max_streams = 20;  // nearest neighbours to watch
  };
  // `node`, `transport` and `incoming` are not owned and must outlive Stop().
  HeartbeatClient(Options options, node::PeerApi* node, GrpcPeerTransport* transport,
                  HeartbeatRegistry* incoming);
  ~HeartbeatClient();

  void Start();
  // Stops the thread, cancels every stream and waits until all have ended.
  void Stop();

 private:
  void Loop();
  void Tick(uint64_t sequence);

  // Const after construction.
  const Options options_;
  node::PeerApi* const node_;
  GrpcPeerTransport* const transport_;
  HeartbeatRegistry* const incoming_;
  const std::shared_ptr<StreamCounter> counter_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<dht::NodeId, std::shared_ptr<HeartbeatClientStream>> streams_
      ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace kv::rpc

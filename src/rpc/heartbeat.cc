#include "src/rpc/heartbeat.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/rpc/convert.h"
#include "src/security/caller.h"

namespace kv::rpc {

namespace v1 = kvstore::v1;

namespace {

v1::HeartbeatMessage Beat(const dht::Contact& self, uint64_t incarnation, uint64_t epoch,
                          uint64_t sequence) {
  v1::HeartbeatMessage m;
  ToProto(self, m.mutable_from());
  m.set_incarnation(incarnation);
  m.set_epoch(epoch);
  m.set_sequence(sequence);
  m.set_sent_unix_micros(absl::ToUnixMicros(absl::Now()));
  return m;
}

// The peer's side of a stream's clock exchange: its latest beat's send time
// (its clock) and when that beat arrived (ours), echoed on our next beat.
struct Echo {
  uint64_t sent_unix_micros = 0;
  uint64_t received_unix_micros = 0;

  // Remembers `in`, which arrived at `arrived`.
  void Remember(const v1::HeartbeatMessage& in, absl::Time arrived) {
    sent_unix_micros = in.sent_unix_micros();
    received_unix_micros = static_cast<uint64_t>(absl::ToUnixMicros(arrived));
  }
  // `beat` as this stream sends it: with the echo, once there is one.
  void Stamp(v1::HeartbeatMessage& beat) const {
    beat.set_echo_sent_unix_micros(sent_unix_micros);
    beat.set_echo_received_unix_micros(received_unix_micros);
  }
};

// The clock sample a beat carries: it echoes one of ours (t1, and t2 on the
// peer's clock), and was sent at t3 (peer) and arrived at t4 (ours).
std::optional<membership::ClockSample> SampleOf(const v1::HeartbeatMessage& in,
                                                absl::Time arrived) {
  if (in.echo_sent_unix_micros() == 0 || in.echo_received_unix_micros() == 0 ||
      in.sent_unix_micros() == 0) {
    return std::nullopt;
  }
  auto at = [](uint64_t micros) { return absl::FromUnixMicros(static_cast<int64_t>(micros)); };
  return membership::ClockSample::FromExchange(at(in.echo_sent_unix_micros()),
                                               at(in.echo_received_unix_micros()),
                                               at(in.sent_unix_micros()), arrived);
}

}  // namespace

// Counts client streams that have not finished OnDone, so Stop() can wait.
struct StreamCounter {
  absl::Mutex mu;
  int live ABSL_GUARDED_BY(mu) = 0;
};

// ---------------------------------------------------------------------------
// Server side: reads the dialer's beats and, on each of this node's ticks,
// writes one of its own (HeartbeatRegistry::BeatAll; skipped while the
// previous is still being written). Only the read chain finishes the stream,
// so no read is ever started after Finish; shutdown cancels the call, which
// fails the pending read.
class HeartbeatServerStream final
    : public grpc::ServerBidiReactor<v1::HeartbeatMessage, v1::HeartbeatMessage> {
 public:
  // With `required`, every beat must come from that node (the one the
  // caller's certificate proves).
  HeartbeatServerStream(grpc::CallbackServerContext* ctx, node::PeerApi* node,
                        HeartbeatRegistry* registry, std::optional<dht::NodeId> required)
      : ctx_(ctx), node_(node), registry_(registry), required_(required) {
    StartRead(&in_);
  }

  // Ends the stream from another thread: the pending read fails and finishes it.
  void Cancel() { ctx_->TryCancel(); }

  // Writes one beat unless the previous is still in flight or the stream is
  // finishing. Called with the registry's lock held, which keeps OnDone away.
  void Send(const v1::HeartbeatMessage& beat) {
    {
      absl::MutexLock l(&mu_);
      if (writing_ || finishing_) return;
      writing_ = true;
      out_ = beat;
      echo_.Stamp(out_);
    }
    StartWrite(&out_);
  }

  // The dialer and when its last beat arrived; no dialer before the first beat.
  std::optional<std::pair<dht::NodeId, absl::Time>> LastHeard() {
    absl::MutexLock l(&mu_);
    if (!dialer_) return std::nullopt;
    return std::make_pair(*dialer_, last_heard_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return FinishWhenIdle(grpc::Status::OK);
    absl::StatusOr<dht::Contact> from = FromProto(in_.from());
    if (!from.ok()) {
      return FinishWhenIdle(ToGrpc(absl::InvalidArgumentError(
          "heartbeat sender is invalid: " + std::string(from.status().message()))));
    }
    if (required_ && from->id != *required_) {
      return FinishWhenIdle(ToGrpc(absl::PermissionDeniedError(
          absl::StrCat("KV.Heartbeat: the beat claims to come from node ", from->id.ToHex(),
                       ", but the caller's certificate is node ", required_->ToHex(), "'s"))));
    }
    const absl::Time arrived = absl::Now();
    node_->HandleHeartbeat(*from, SampleOf(in_, arrived), in_.incarnation(), in_.epoch());
    {
      absl::MutexLock l(&mu_);
      dialer_ = from->id;
      last_heard_ = arrived;
      echo_.Remember(in_, arrived);
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      finish = finishing_;
    }
    if (finish) Finish(final_status_);
  }

  void OnDone() override {
    registry_->Remove(this);
    delete this;
  }

 private:
  // Called only from the read chain, after its last read.
  void FinishWhenIdle(grpc::Status status) {
    bool finish = false;
    {
      absl::MutexLock l(&mu_);
      finishing_ = true;
      final_status_ = std::move(status);
      finish = !writing_;
    }
    if (finish) Finish(final_status_);
  }

  grpc::CallbackServerContext* const ctx_;
  node::PeerApi* const node_;
  HeartbeatRegistry* const registry_;
  const std::optional<dht::NodeId> required_;
  v1::HeartbeatMessage in_;   // the read chain's only
  v1::HeartbeatMessage out_;  // set under mu_ while no write is in flight

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<dht::NodeId> dialer_ ABSL_GUARDED_BY(mu_);
  absl::Time last_heard_ ABSL_GUARDED_BY(mu_);
  Echo echo_ ABSL_GUARDED_BY(mu_);
  grpc::Status final_status_;
};

grpc::ServerBidiReactor<v1::HeartbeatMessage, v1::HeartbeatMessage>* HeartbeatRegistry::Accept(
    grpc::CallbackServerContext* ctx, node::PeerApi* node, std::optional<dht::NodeId> required) {
  auto* s = new HeartbeatServerStream(ctx, node, this, required);
  bool closed;
  {
    absl::MutexLock l(&mu_);
    closed = closed_;
    open_.insert(s);
  }
  if (closed) s->Cancel();
  return s;
}

void HeartbeatRegistry::CloseAll() {
  absl::MutexLock l(&mu_);
  closed_ = true;
  for (HeartbeatServerStream* s : open_) s->Cancel();
}

void HeartbeatRegistry::BeatAll(const v1::HeartbeatMessage& beat) {
  absl::MutexLock l(&mu_);
  if (closed_) return;
  for (HeartbeatServerStream* s : open_) s->Send(beat);
}

absl::flat_hash_map<dht::NodeId, absl::Time> HeartbeatRegistry::LastHeard() {
  absl::flat_hash_map<dht::NodeId, absl::Time> heard;
  absl::MutexLock l(&mu_);
  for (HeartbeatServerStream* s : open_) {
    if (auto h = s->LastHeard()) {
      absl::Time& t = heard[h->first];
      t = std::max(t, h->second);
    }
  }
  return heard;
}

namespace {

// A stream refused before its first read.
class RefusedStream final
    : public grpc::ServerBidiReactor<v1::HeartbeatMessage, v1::HeartbeatMessage> {
 public:
  explicit RefusedStream(const absl::Status& why) { Finish(ToGrpc(why)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<v1::HeartbeatMessage, v1::HeartbeatMessage>* HeartbeatRegistry::Refuse(
    grpc::CallbackServerContext*, const absl::Status& why) {
  return new RefusedStream(why);
}

void HeartbeatRegistry::Remove(HeartbeatServerStream* s) {
  absl::MutexLock l(&mu_);
  open_.erase(s);
}

// ---------------------------------------------------------------------------
// Client side. A hold keeps OnDone away while a write may still be started;
// it is released once the stream is closing and no write is in flight.
class HeartbeatClientStream final
    : public grpc::ClientBidiReactor<v1::HeartbeatMessage, v1::HeartbeatMessage>,
      public std::enable_shared_from_this<HeartbeatClientStream> {
 public:
  HeartbeatClientStream(dht::Contact peer, node::PeerApi* node, std::shared_ptr<StreamCounter> c)
      : peer_(std::move(peer)), node_(node), counter_(std::move(c)) {}

  void Start(v1::KV::Stub* stub) {
    self_ref_ = shared_from_this();
    last_heard_ = absl::Now();
    stub->async()->Heartbeat(&ctx_, this);
    AddHold();
    StartRead(&in_);
    StartCall();
  }

  // Writes one beat unless the previous is still in flight or the stream is closing.
  void Send(v1::HeartbeatMessage beat) {
    {
      absl::MutexLock l(&mu_);
      if (closing_ || writing_) return;
      writing_ = true;
      out_ = std::move(beat);
      echo_.Stamp(out_);
    }
    StartWrite(&out_);
  }

  // Cancels the stream; OnDone follows.
  void Close() {
    ReleaseHoldIfIdle(/*closing=*/true);
    ctx_.TryCancel();
  }

  bool done() {
    absl::MutexLock l(&mu_);
    return done_;
  }
  absl::Time last_heard() {
    absl::MutexLock l(&mu_);
    return last_heard_;
  }

  void OnReadDone(bool ok) override {
    if (!ok) return ReleaseHoldIfIdle(/*closing=*/true);
    const absl::Time arrived = absl::Now();
    if (!server_cert_read_) {
      server_cert_read_ = true;  // the read chain's own; one read at a time
      if (auto cert = security::ServerCertificate(ctx_)) server_id_ = cert->id;
    }
    absl::StatusOr<dht::Contact> from = FromProto(in_.from());
    // Over TLS a beat counts only from the node the server's certificate
    // proves, so no member can move another node's address.
    if (from.ok() && (!server_id_ || *server_id_ == from->id)) {
      node_->HandleHeartbeat(*from, SampleOf(in_, arrived), in_.incarnation(), in_.epoch());
    }
    {
      absl::MutexLock l(&mu_);
      last_heard_ = arrived;
      echo_.Remember(in_, arrived);
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
    }
    ReleaseHoldIfIdle(/*closing=*/!ok);
  }

  void OnDone(const grpc::Status& s) override {
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
      spdlog::debug("heartbeat stream to {} ended: {}", peer_.address, s.error_message());
    }
    {
      absl::MutexLock l(&mu_);
      done_ = true;
    }
    // Destroying this object may destroy its context and with it the last
    // reference to the channel, so it happens before Stop() may return (see
    // GrpcPeerTransport::Call).
    std::shared_ptr<StreamCounter> counter = counter_;
    self_ref_.reset();  // may destroy this object: no member may be used below
    absl::MutexLock l(&counter->mu);
    --counter->live;
  }

 private:
  void ReleaseHoldIfIdle(bool closing) {
    bool release = false;
    {
      absl::MutexLock l(&mu_);
      if (closing) closing_ = true;
      if (closing_ && !writing_ && !hold_released_) {
        hold_released_ = true;
        release = true;
      }
    }
    if (release) RemoveHold();
  }

  const dht::Contact peer_;
  node::PeerApi* const node_;
  const std::shared_ptr<StreamCounter> counter_;
  grpc::ClientContext ctx_;
  v1::HeartbeatMessage in_;
  v1::HeartbeatMessage out_;
  // The read chain's: the node the server's certificate proves (none in
  // plaintext), read on the first answer.
  bool server_cert_read_ = false;
  std::optional<dht::NodeId> server_id_;
  std::shared_ptr<HeartbeatClientStream> self_ref_;  // keeps us alive until OnDone

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_heard_ ABSL_GUARDED_BY(mu_);
  Echo echo_ ABSL_GUARDED_BY(mu_);
};

HeartbeatClient::HeartbeatClient(Options options, node::PeerApi* node, GrpcPeerTransport* transport,
                                 HeartbeatRegistry* incoming)
    : options_(options),
      node_(node),
      transport_(transport),
      incoming_(incoming),
      counter_(std::make_shared<StreamCounter>()) {}

HeartbeatClient::~HeartbeatClient() { Stop(); }

void HeartbeatClient::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void HeartbeatClient::Loop() {
  uint64_t sequence = 0;
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  while (true) {
    Tick(++sequence);
    absl::MutexLock l(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.interval)) return;
  }
}

void HeartbeatClient::Tick(uint64_t sequence) {
  std::vector<dht::Contact> targets = node_->HeartbeatTargets(options_.max_streams);
  const dht::NodeId self = node_->self().id;
  const v1::HeartbeatMessage beat =
      Beat(node_->self(), node_->incarnation(), node_->epoch(), sequence);
  const absl::Time now = absl::Now();
  // A stream silent for two failure timeouts counts as gone, either way.
  const absl::Duration silence = 2 * options_.failure_timeout;
  const absl::flat_hash_map<dht::NodeId, absl::Time> dialed_us = incoming_->LastHeard();
  incoming_->BeatAll(beat);
  absl::MutexLock l(&mu_);
  if (stopping_) return;
  absl::flat_hash_map<dht::NodeId, std::shared_ptr<HeartbeatClientStream>> next;
  for (const dht::Contact& peer : targets) {
    std::shared_ptr<HeartbeatClientStream> s;
    if (auto it = streams_.find(peer.id); it != streams_.end()) s = std::move(it->second);
    streams_.erase(peer.id);
    // The pair's stream is the lower ID's to dial; ours, when we dialed too
    // (both started at once), is closed.
    if (auto it = dialed_us.find(peer.id);
        peer.id < self && it != dialed_us.end() && now - it->second <= silence) {
      if (s) s->Close();
      continue;
    }
    // A stream that ended, or went silent, is redialled.
    if (s && (s->done() || now - s->last_heard() > silence)) {
      s->Close();
      s.reset();
    }
    if (!s) {
      s = std::make_shared<HeartbeatClientStream>(peer, node_, counter_);
      {
        absl::MutexLock cl(&counter_->mu);
        ++counter_->live;
      }
      s->Start(transport_->KvStub(peer.address));
    }
    s->Send(beat);
    next[peer.id] = std::move(s);
  }
  for (auto& [id, s] : streams_) s->Close();  // no longer a neighbour
  streams_ = std::move(next);
}

void HeartbeatClient::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock l(&mu_);
    for (auto& [id, s] : streams_) s->Close();
    streams_.clear();
  }
  absl::MutexLock l(&counter_->mu);
  auto drained = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(counter_->mu) { return counter_->live == 0; };
  counter_->mu.AwaitWithTimeout(absl::Condition(&drained), absl::Seconds(10));
}

}  // namespace kv::rpc

// The live side of the status page (page.h): gathers a PageModel from this
// node (its routing table, counters and facts), from every member it knows
// (their Admin.Stats, asked in parallel when the page is loaded) and from a
// sampler that records this node's client requests and repair counters every
// few seconds for the "last minute" figures.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cmd/kvstore/status/page.h"
#include "cmd/kvstore/status/recent.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "src/metrics/http_server.h"
#include "src/node/api.h"

namespace kv::cmd::status {

struct StatusPageOptions {
  // Not owned; must outlive the page. REQUIRES: not null.
  const node::AdminApi* admin = nullptr;
  std::string version;  // this node's, shown in its row
  // The gRPC server's latency family (rpc/server_metrics.h), whose
  // kvstore.v1.KV Put, Get, Delete and Batch series are the client requests;
  // null shows no request figures. Not owned; must outlive the page.
  const prometheus::Family<prometheus::Histogram>* durations = nullptr;
  std::vector<double> bounds;  // its bucket bounds
  // How this node dials members for their Admin.Stats: its peer credentials
  // (TLS), or null for plaintext.
  std::shared_ptr<grpc::ChannelCredentials> member_credentials;
  absl::Duration sample_every = absl::Seconds(5);
  absl::Duration window = absl::Minutes(1);
  absl::Duration ask_timeout = absl::Seconds(1);  // per member, all in parallel
  size_t max_asked = 64;  // members asked per page load (rows beyond have no facts)
  int refresh_seconds = 5;
};

// Thread-safe. The sampler thread runs from construction until Stop().
class StatusPage {
 public:
  explicit StatusPage(StatusPageOptions options);
  ~StatusPage();  // Stop()

  StatusPage(const StatusPage&) = delete;
  StatusPage& operator=(const StatusPage&) = delete;

  // GET /: the page, 200 text/html. Blocks up to ask_timeout while members
  // answer. Call from the HTTP server's threads.
  metrics::Response Serve(const metrics::Request& request);
  // The model Serve renders (for tests).
  PageModel Model();

  // Stops the sampler. Idempotent. Serve must not run concurrently or after.
  void Stop();

 private:
  void SampleLoop();
  Sample TakeSample() const;
  // Asks every member but self for its Admin.Stats; fills their rows.
  void AskMembers(std::vector<MemberRow*> rows);
  // The member's rate of coordinated operations since the last sample kept
  // for it (at least a second old), and keeps this one when that is.
  std::optional<double> OpsRate(const dht::NodeId& id, uint64_t ops, absl::Time now);
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address);

  const StatusPageOptions o_;

  absl::Mutex mu_;
  RecentActivity recent_ ABSL_GUARDED_BY(mu_);
  // The last counted sample of each member's coordinated operations.
  std::map<dht::NodeId, std::pair<absl::Time, uint64_t>> ops_seen_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sampler_;  // last: starts once the fields above exist
};

}  // namespace kv::cmd::status

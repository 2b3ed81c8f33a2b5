#include "cmd/kvbench/discover.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"
#include "src/client/owner_router.h"

namespace kv::bench {

absl::StatusOr<std::vector<dht::Contact>> DiscoverMembers(
    const std::vector<std::string>& addrs, absl::Duration timeout,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  std::string last_error = "no address given";
  for (const std::string& addr : addrs) {
    auto stub = kvstore::v1::Admin::NewStub(grpc::CreateChannel(addr, credentials));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
    kvstore::v1::PeersResponse resp;
    const grpc::Status s = stub->Peers(&ctx, kvstore::v1::PeersRequest(), &resp);
    if (!s.ok()) {
      last_error = absl::StrCat(addr, ": ", s.error_message());
      continue;
    }
    absl::StatusOr<std::vector<dht::Contact>> members = client::LiveMembers(resp);
    if (!members.ok()) {
      last_error = absl::StrCat(addr, ": ", members.status().message());
      continue;
    }
    return members;
  }
  return absl::UnavailableError(
      absl::StrCat("--route owner: no node in --addr listed the cluster's members (Admin.Peers); "
                   "check that they run. Last error: ",
                   last_error));
}

}  // namespace kv::bench

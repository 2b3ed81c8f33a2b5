// The flag parsers that take text from the command line or a Kubernetes
// manifest. The first input byte picks one, the rest is its text:
//   0  util::ParseDurationFlag    (--heartbeat-interval, --failure-timeout, ...)
//   1  util::IpAddress::Parse     (addresses of --admin-from)
//   2  util::AddressPrefix::Parse (--admin-from)
//   3  node::ParseDnsTarget       (--discover dns:NAME:PORT)
//   4  dht::NodeId::FromHex       (--node-id, and IDs in every peer request)
// Beyond not crashing, each value that parses must print as text that
// parses back to it, and text with a NUL byte must not parse: the C
// functions behind these parsers (inet_pton, getaddrinfo) would read only
// the part before it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "src/dht/node_id.h"
#include "src/node/dns_discovery.h"
#include "src/util/address_prefix.h"
#include "src/util/duration.h"

namespace {

void Duration(std::string_view text) {
  absl::StatusOr<absl::Duration> d =
      kv::util::ParseDurationFlag("--flag", absl::string_view(text.data(), text.size()));
  if (!d.ok()) {
    FUZZ_CHECK(d.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(*d > absl::ZeroDuration() && *d != absl::InfiniteDuration());
  absl::StatusOr<absl::Duration> again =
      kv::util::ParseDurationFlag("--flag", kv::util::FormatDuration(*d));
  FUZZ_CHECK(again.ok() && *again == *d);
}

bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

void Ip(std::string_view text) {
  absl::StatusOr<kv::util::IpAddress> ip = kv::util::IpAddress::Parse(text);
  if (!ip.ok()) return;
  FUZZ_CHECK(!HasNul(text));
  absl::StatusOr<kv::util::IpAddress> again = kv::util::IpAddress::Parse(ip->ToString());
  FUZZ_CHECK(again.ok() && *again == *ip);
}

void Prefix(std::string_view text) {
  absl::StatusOr<kv::util::AddressPrefix> p = kv::util::AddressPrefix::Parse(text);
  if (!p.ok()) {
    FUZZ_CHECK(p.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(!HasNul(text));
  const std::string shown = p->ToString();
  absl::StatusOr<kv::util::AddressPrefix> again = kv::util::AddressPrefix::Parse(shown);
  FUZZ_CHECK(again.ok() && again->ToString() == shown);
  // A prefix contains its own address.
  absl::StatusOr<kv::util::IpAddress> base =
      kv::util::IpAddress::Parse(text.substr(0, text.find('/')));
  FUZZ_CHECK(base.ok() && p->Contains(*base));
}

void DnsTarget(std::string_view text) {
  absl::StatusOr<kv::node::DnsTarget> t = kv::node::ParseDnsTarget(std::string(text));
  if (!t.ok()) return;
  FUZZ_CHECK(!HasNul(text));
  FUZZ_CHECK(!t->name.empty());
  FUZZ_CHECK(t->port >= 1 && t->port <= 65535);
}

void NodeIdHex(std::string_view text) {
  absl::StatusOr<kv::dht::NodeId> id = kv::dht::NodeId::FromHex(text);
  if (!id.ok()) return;
  const std::string hex = id->ToHex();
  FUZZ_CHECK(hex == absl::AsciiStrToLower(absl::string_view(text.data(), text.size())));
  absl::StatusOr<kv::dht::NodeId> again = kv::dht::NodeId::FromHex(hex);
  FUZZ_CHECK(again.ok() && *again == *id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      Duration(text);
      break;
    case 1:
      Ip(text);
      break;
    case 2:
      Prefix(text);
      break;
    case 3:
      DnsTarget(text);
      break;
    case 4:
      NodeIdHex(text);
      break;
  }
  return 0;
}

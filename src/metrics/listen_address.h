// The host:port an HttpServer listens on: parsing, and the reason binding it
// failed. Private to src/metrics. Errors name the address, not the flag it
// came from: the caller prefixes its flag ("--metrics-addr " + message).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kv::metrics {

// An IPv4 address literal and a port (0: the system picks a free one).
struct ListenAddress {
  std::string host;  // e.g. "127.0.0.1", "0.0.0.0"
  uint16_t port = 0;

  // "host:port", as civetweb's listening_ports option takes it.
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// Parses "host:port". Fails with INVALID_ARGUMENT, naming the problem and the
// fix, if the port is not a number in [0, 65535] or the host is not an IPv4
// literal (names and IPv6 are refused: Debian's civetweb has no IPv6).
[[nodiscard]] absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view host_port);

// Why listening on `address` fails, found by binding a socket to it now and
// closing it: FAILED_PRECONDITION if the address is in use, INVALID_ARGUMENT
// if it is not an address of this machine, PERMISSION_DENIED for a privileged
// port, INTERNAL otherwise (`detail` is appended then, e.g. the server's own
// error text). Never returns OK. Thread-safe.
[[nodiscard]] absl::Status DiagnoseListenFailure(const ListenAddress& address,
                                                 absl::string_view detail);

}  // namespace kv::metrics

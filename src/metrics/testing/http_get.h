// Test-only: a minimal blocking HTTP/1.0 client for 127.0.0.1, enough to
// check what HttpServer answers. Not for production use (no chunked bodies,
// no redirects, no TLS).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kv::metrics::testing {

struct HttpReply {
  int status = 0;
  std::string headers;  // the header block after the status line, CRLF-separated
  std::string body;

  // The value of header `name` (case-insensitive), or "" if absent.
  std::string Header(absl::string_view name) const;
};

// Sends "`method` `path` HTTP/1.0" to 127.0.0.1:`port` and reads the reply
// until the server closes the connection. Fails with UNAVAILABLE if the
// connection is refused, DEADLINE_EXCEEDED if the whole exchange takes longer
// than `timeout`, DATA_LOSS if the reply is not HTTP. Thread-safe.
absl::StatusOr<HttpReply> HttpRequest(int port, absl::string_view method, absl::string_view path,
                                      absl::Duration timeout = absl::Seconds(10));

}  // namespace kv::metrics::testing

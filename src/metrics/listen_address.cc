#include "src/metrics/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kv::metrics {

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", host_port, "\": expected host:port, e.g. 127.0.0.1:9100"));
  }
  const absl::string_view host = host_port.substr(0, colon);
  const absl::string_view port_text = host_port.substr(colon + 1);
  if (host.front() == '[' || host.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", host_port,
        "\": IPv6 is not supported (Debian's civetweb is built without it); use an IPv4 "
        "address such as 127.0.0.1 or 0.0.0.0"));
  }
  in_addr ignored{};
  if (inet_pton(AF_INET, std::string(host).c_str(), &ignored) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", host_port, "\": host must be an IPv4 address such as 127.0.0.1 ",
                     "(loopback only) or 0.0.0.0 (every interface), not a name"));
  }
  uint32_t port = 0;
  if (port_text.empty() || !std::all_of(port_text.begin(), port_text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", host_port, "\": port must be a number from 0 to 65535 (0 picks a free port)"));
  }
  return ListenAddress{.host = std::string(host), .port = static_cast<uint16_t>(port)};
}

absl::Status DiagnoseListenFailure(const ListenAddress& address, absl::string_view detail) {
  const std::string where = address.ToString();
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat(where, ": cannot create a socket: ", std::strerror(errno), "; ", detail));
  }
  // civetweb sets SO_REUSEADDR too: a port left in TIME_WAIT is not "in use".
  const int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(address.port);
  (void)inet_pton(AF_INET, address.host.c_str(), &sa.sin_addr);
  int err = 0;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0 || listen(fd, 1) != 0) {
    err = errno;
  }
  close(fd);
  switch (err) {
    case EADDRINUSE:
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": address in use; pick another port"));
    case EADDRNOTAVAIL:
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": not an address of this machine; use 127.0.0.1, 0.0.0.0 or an interface's"));
    case EACCES:
      return absl::PermissionDeniedError(absl::StrCat(
          where, ": ports below 1024 need privileges (CAP_NET_BIND_SERVICE); pick a port >= 1024"));
    case 0:
      return absl::InternalError(absl::StrCat(where, ": cannot listen: ", detail));
    default:
      return absl::InternalError(
          absl::StrCat(where, ": cannot listen: ", std::strerror(err), "; ", detail));
  }
}

}  // namespace kv::metrics

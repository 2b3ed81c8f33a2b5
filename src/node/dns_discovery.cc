#include "src/node/dns_discovery.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kv::node {

absl::StatusOr<DnsTarget> ParseDnsTarget(const std::string& spec) {
  constexpr std::string_view kPrefix = "dns:";
  if (!spec.starts_with(kPrefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", spec, "' is not dns:NAME:PORT (only dns: is supported)"));
  }
  std::string_view rest = std::string_view(spec).substr(kPrefix.size());
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return absl::InvalidArgumentError(absl::StrCat("'", spec, "' is not dns:NAME:PORT"));
  }
  DnsTarget t;
  t.name = std::string(rest.substr(0, colon));
  if (t.name.size() > 2 && t.name.front() == '[' && t.name.back() == ']') {
    t.name = t.name.substr(1, t.name.size() - 2);
  }
  // getaddrinfo reads a C string: it would resolve only the part before a NUL.
  if (t.name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", absl::CHexEscape(spec), "': the name contains a NUL byte"));
  }
  std::string_view port = rest.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), t.port);
  if (ec != std::errc() || end != port.data() + port.size() || t.port <= 0 || t.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", spec, "': bad port"));
  }
  return t;
}

absl::StatusOr<std::vector<std::string>> ResolveDnsSeeds(const DnsTarget& target) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(target.name.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    std::string why = gai_strerror(rc);
    if (rc == EAI_NONAME
#ifdef EAI_NODATA
        || rc == EAI_NODATA
#endif
    ) {
      return absl::NotFoundError(absl::StrCat("dns:", target.name, ": ", why));
    }
    return absl::UnavailableError(absl::StrCat("dns:", target.name, ": ", why));
  }
  std::vector<std::string> out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf, sizeof buf);
      out.push_back(absl::StrCat(buf, ":", target.port));
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf, sizeof buf);
      out.push_back(absl::StrCat("[", buf, "]:", target.port));
    }
  }
  freeaddrinfo(res);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) return absl::NotFoundError(absl::StrCat("dns:", target.name, ": no address"));
  return out;
}

}  // namespace kv::node

// The status page (GET / on --metrics-addr): one self-contained HTML page, no
// external assets and no script, that shows the cluster as this node sees
// it. The ID space is drawn as a ring (SVG) with every member placed by its
// ID and coloured by state, and the arcs each member is the first owner of
// in its own hue. Below it: a table of members, this node's requests over
// the last minute, and its repair work. The page reloads itself.
//
// Rendering is a pure function of a PageModel, so that tests check the page
// without a cluster; status_page.h gathers the model from a live node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cmd/kvstore/status/recent.h"
#include "src/dht/node_id.h"

namespace kv::cmd::status {

// One member as this node sees it, and what the member said of itself.
struct MemberRow {
  dht::NodeId id;
  std::string address;
  // "alive", "suspect", "down", "dead" or "left"; this node is "alive".
  std::string state;
  bool self = false;
  std::optional<double> phi;                 // while watched by the failure detector
  std::optional<absl::Duration> last_heard;  // ago; nullopt if never (or self)
  // From the member's Admin.Stats; unset when it did not answer (`error`).
  std::optional<uint64_t> keys;
  std::optional<uint64_t> stored_bytes;
  std::optional<double> ops_per_second;  // coordinated by it, between two page loads
  std::string version;
  std::optional<absl::Duration> uptime;
  std::string error;  // why the member did not answer, if it was asked
};

// A repair counter of this node: its total and its increase over the last
// minute (when known).
struct CounterRow {
  std::string name;
  uint64_t total = 0;
  std::optional<uint64_t> last_minute;
};

struct PageModel {
  MemberRow self;                       // also members.front()
  std::vector<MemberRow> members;       // self first, then by ring position
  std::optional<RecentSummary> recent;  // this node's client requests
  std::vector<CounterRow> repair;
  absl::Time rendered_at;
  int refresh_seconds = 5;
  // Members beyond those asked for their facts (rows without them).
  size_t not_asked = 0;
};

// The whole page. Every string of the model is HTML-escaped.
std::string RenderPage(const PageModel& model);

// "&lt;" for '<' and so on: safe in element text and quoted attributes.
std::string EscapeHtml(std::string_view s);

}  // namespace kv::cmd::status

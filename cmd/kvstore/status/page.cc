#include "cmd/kvstore/status/page.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cmd/kvstore/status/ring.h"

namespace kv::cmd::status {
namespace {

constexpr double kRingRadius = 120;  // the ID space
constexpr double kArcRadius = 132;   // the owners' arcs, just outside it
constexpr double kMinArc = 1e-4;     // narrower arcs (0.036°) would not show

struct Point {
  double x, y;
};

// 0 at the top, clockwise.
Point OnCircle(double fraction, double radius) {
  const double angle = 2 * std::numbers::pi * fraction - std::numbers::pi / 2;
  return {radius * std::cos(angle), radius * std::sin(angle)};
}

// Each member's hue: members in ring order step by the golden angle, so
// that neighbours on the ring (whose arcs touch) never look alike, and a
// member keeps its colour across reloads while membership is unchanged.
std::map<dht::NodeId, int> Hues(const PageModel& m) {
  std::vector<dht::NodeId> ids;
  for (const MemberRow& r : m.members) ids.push_back(r.id);
  std::sort(ids.begin(), ids.end());
  std::map<dht::NodeId, int> hues;
  for (size_t i = 0; i < ids.size(); ++i) hues[ids[i]] = static_cast<int>(200 + 137.5 * i) % 360;
  return hues;
}

const char* StateColour(const std::string& state) {
  if (state == "alive") return "#2e9e44";
  if (state == "suspect") return "#e0a100";
  if (state == "down") return "#d64031";
  if (state == "dead") return "#6b1d14";
  return "#9a9a9a";  // left, unknown
}

std::string Bytes(uint64_t b) {
  if (b >= (uint64_t{1} << 30)) return absl::StrFormat("%.1f GiB", b / double(1 << 30));
  if (b >= (uint64_t{1} << 20)) return absl::StrFormat("%.1f MiB", b / double(1 << 20));
  if (b >= (uint64_t{1} << 10)) return absl::StrFormat("%.1f KiB", b / double(1 << 10));
  return absl::StrCat(b, " B");
}

std::string Ago(absl::Duration d) {
  if (d < absl::Seconds(1)) return absl::StrFormat("%d ms ago", absl::ToInt64Milliseconds(d));
  if (d < absl::Minutes(2)) return absl::StrFormat("%.1f s ago", absl::ToDoubleSeconds(d));
  return absl::StrFormat("%d min ago", absl::ToInt64Minutes(d));
}

std::string Uptime(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);
  if (s >= 86400) return absl::StrFormat("%dd %02dh", s / 86400, s % 86400 / 3600);
  if (s >= 3600) return absl::StrFormat("%dh %02dm", s / 3600, s % 3600 / 60);
  return absl::StrFormat("%dm %02ds", s / 60, s % 60);
}

std::string Millis(absl::Duration d) {
  return absl::StrFormat("%.2f ms", absl::ToDoubleMilliseconds(d));
}

constexpr std::string_view kDash = "&mdash;";

template <typename T, typename F>
std::string Or(const std::optional<T>& v, F format) {
  return v ? format(*v) : std::string(kDash);
}

constexpr std::string_view kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .2em} h2{font-size:1.05em;margin:1.2em 0 .4em}
code{font:13px ui-monospace,monospace} .sub{color:#666;margin:0 0 1em}
.layout{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}
svg{width:340px;height:340px;flex:none}
table{border-collapse:collapse;background:#fff} th,td{padding:.25em .6em;text-align:right;
border-bottom:1px solid #e4e4e4;white-space:nowrap} th{background:#f0f0f0}
td.l,th.l{text-align:left} .swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px}
.state{font-weight:600} .alive{color:#2e9e44} .suspect{color:#b07e00} .down{color:#d64031}
.dead{color:#6b1d14} .left{color:#888} .err{color:#b00;font-size:12px}
.pills span{margin-right:1em}
)";

void RenderRing(const PageModel& m, const std::map<dht::NodeId, int>& hues, std::string* out) {
  absl::StrAppend(out, R"(<svg id="ring" viewBox="-160 -160 320 320" role="img" )",
                  R"(aria-label="The 160-bit ID space as a ring; members placed by ID">)",
                  "<title>The 160-bit ID space, 0 at the top, clockwise. Dots: members by "
                  "state. Outer arcs: the IDs each member is first owner of.</title>");
  absl::StrAppendFormat(out, R"(<circle r="%g" fill="none" stroke="#c8c8c8" stroke-width="2"/>)",
                        kRingRadius);
  absl::StrAppend(out, R"(<text x="0" y="-142" text-anchor="middle" font-size="9" )",
                  R"(fill="#888">0</text>)");
  // Owners' arcs: only members that own keys (not dead, not left).
  std::vector<dht::NodeId> owners;
  std::vector<size_t> row_of;
  for (size_t i = 0; i < m.members.size(); ++i) {
    const std::string& s = m.members[i].state;
    if (s == "dead" || s == "left") continue;
    owners.push_back(m.members[i].id);
    row_of.push_back(i);
  }
  for (const OwnerArc& arc : OwnerArcs(owners)) {
    const MemberRow& owner = m.members[row_of[arc.owner]];
    const std::string title = absl::StrFormat(
        "%s (%s) is first owner of %.2f%% of the ID space here", owner.id.ShortHex(),
        EscapeHtml(owner.address), 100 * (arc.end - arc.begin));
    const std::string attrs =
        absl::StrFormat(R"x(class="arc" data-owner="%s" fill="none" stroke="hsl(%d,65%%,55%%)" )x"
                        R"(stroke-width="10")",
                        owner.id.ToHex(), hues.at(owner.id));
    if (arc.end - arc.begin >= 1 - kMinArc) {
      absl::StrAppendFormat(out, R"(<circle r="%g" %s><title>%s</title></circle>)", kArcRadius,
                            attrs, title);
      continue;
    }
    if (arc.end - arc.begin < kMinArc) continue;
    const Point a = OnCircle(arc.begin, kArcRadius), b = OnCircle(arc.end, kArcRadius);
    absl::StrAppendFormat(
        out, R"(<path d="M%.2f %.2fA%g %g 0 %d 1 %.2f %.2f" %s><title>%s</title></path>)", a.x, a.y,
        kArcRadius, kArcRadius, arc.end - arc.begin > 0.5 ? 1 : 0, b.x, b.y, attrs, title);
  }
  // In the middle: how many members, and how many are not alive.
  int not_alive = 0;
  for (const MemberRow& r : m.members) not_alive += r.state != "alive";
  absl::StrAppendFormat(
      out,
      R"(<text x="0" y="-4" text-anchor="middle" font-size="22">%d members</text>)"
      R"(<text x="0" y="20" text-anchor="middle" font-size="13" fill="%s">%s</text>)",
      m.members.size(), not_alive ? "#d64031" : "#2e9e44",
      not_alive ? absl::StrCat(not_alive, " not alive") : "all alive");
  // Members, self last so that it draws on top.
  for (size_t pass = 0; pass < 2; ++pass) {
    for (const MemberRow& r : m.members) {
      if (r.self != (pass == 1)) continue;
      const Point p = OnCircle(RingPosition(r.id), kRingRadius);
      absl::StrAppendFormat(
          out,
          R"(<circle class="member" data-id="%s" data-state="%s" cx="%.2f" cy="%.2f" r="%d" )"
          R"(fill="%s" stroke="%s" stroke-width="%d"><title>%s %s: %s%s</title></circle>)",
          r.id.ToHex(), EscapeHtml(r.state), p.x, p.y, r.self ? 8 : 6, StateColour(r.state),
          r.self ? "#1d1d1f" : "#fff", r.self ? 3 : 1, r.id.ShortHex(), EscapeHtml(r.address),
          EscapeHtml(r.state), r.self ? " (this node)" : "");
    }
  }
  absl::StrAppend(out, "</svg>");
}

void RenderMembers(const PageModel& m, const std::map<dht::NodeId, int>& hues, std::string* out) {
  // Each member's share of the ID space as first owner.
  std::vector<dht::NodeId> owners;
  std::vector<size_t> row_of;
  for (size_t i = 0; i < m.members.size(); ++i) {
    if (m.members[i].state == "dead" || m.members[i].state == "left") continue;
    owners.push_back(m.members[i].id);
    row_of.push_back(i);
  }
  std::map<size_t, double> share;
  for (const OwnerArc& arc : OwnerArcs(owners)) share[row_of[arc.owner]] += arc.end - arc.begin;

  absl::StrAppend(out, R"(<table id="members"><thead><tr><th></th><th class="l">ID</th>)",
                  R"(<th class="l">address</th><th class="l">state</th><th>phi</th>)",
                  "<th>last heard</th><th>keys</th><th>bytes</th><th>ops/s</th>",
                  R"(<th>first owner of</th><th class="l">version</th><th>uptime</th></tr>)",
                  "</thead><tbody>");
  for (size_t i = 0; i < m.members.size(); ++i) {
    const MemberRow& r = m.members[i];
    auto it = share.find(i);
    absl::StrAppendFormat(
        out,
        R"(<tr class="member" data-id="%s" data-state="%s"><td><span class="swatch" )"
        R"x(style="background:hsl(%d,65%%,55%%)"></span></td><td class="l"><code title="%s">)x"
        R"(%s</code>%s</td><td class="l">%s</td><td class="l state %s">%s</td>)",
        r.id.ToHex(), EscapeHtml(r.state), hues.at(r.id), r.id.ToHex(), r.id.ShortHex(),
        r.self ? " (this node)" : "", EscapeHtml(r.address), EscapeHtml(r.state),
        EscapeHtml(r.state));
    absl::StrAppend(
        out, "<td>", Or(r.phi, [](double v) { return absl::StrFormat("%.2f", v); }), "</td><td>",
        r.self ? std::string(kDash) : Or(r.last_heard, Ago), "</td><td>",
        Or(r.keys, [](uint64_t v) { return absl::StrCat(v); }), "</td><td>",
        Or(r.stored_bytes, Bytes), "</td><td>",
        Or(r.ops_per_second, [](double v) { return absl::StrFormat("%.0f", v); }), "</td><td>",
        it == share.end() ? std::string(kDash) : absl::StrFormat("%.1f%%", 100 * it->second),
        R"(</td><td class="l">)", r.version.empty() ? std::string(kDash) : EscapeHtml(r.version),
        "</td><td>", Or(r.uptime, Uptime), "</td></tr>");
    if (!r.error.empty()) {
      absl::StrAppend(out, R"(<tr><td></td><td class="l err" colspan="11">did not answer: )",
                      EscapeHtml(r.error), "</td></tr>");
    }
  }
  absl::StrAppend(out, "</tbody></table>");
  if (m.not_asked > 0) {
    absl::StrAppendFormat(out,
                          R"(<p class="sub">%d more members were not asked for their keys, )"
                          "bytes and rates (the page asks at most the first rows).</p>",
                          m.not_asked);
  }
}

void RenderActivity(const PageModel& m, std::string* out) {
  absl::StrAppend(out, R"(<h2>This node, last minute</h2><p id="activity">)");
  if (!m.recent) {
    absl::StrAppend(out, "Not measured yet: the first samples are a few seconds old.</p>");
    return;
  }
  const RecentSummary& r = *m.recent;
  absl::StrAppendFormat(out,
                        R"(<span id="rate">%.1f</span> client requests/s, p99 )"
                        R"(<span id="p99">%s</span> (%d requests over the last %.0f s))",
                        r.requests_per_second, Or(r.p99, Millis), r.requests,
                        absl::ToDoubleSeconds(r.span));
  absl::StrAppend(out, "</p>");
}

void RenderRepair(const PageModel& m, std::string* out) {
  absl::StrAppend(out, R"(<h2>Repair</h2><table id="repair"><thead><tr><th class="l">)",
                  "counter</th><th>total</th><th>last minute</th></tr></thead><tbody>");
  for (const CounterRow& c : m.repair) {
    absl::StrAppend(out, R"(<tr><td class="l"><code>)", EscapeHtml(c.name), "</code></td><td>",
                    c.total, "</td><td>",
                    Or(c.last_minute, [](uint64_t v) { return absl::StrCat("+", v); }),
                    "</td></tr>");
  }
  absl::StrAppend(out, "</tbody></table>");
}

}  // namespace

std::string EscapeHtml(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderPage(const PageModel& m) {
  std::map<std::string, int> by_state;
  for (const MemberRow& r : m.members) ++by_state[r.state];
  std::string out;
  absl::StrAppendFormat(&out,
                        R"(<!doctype html><html lang="en"><head><meta charset="utf-8">)"
                        R"(<meta http-equiv="refresh" content="%d">)"
                        "<title>kvstore %s at %s</title><style>%s</style></head><body>",
                        m.refresh_seconds, m.self.id.ShortHex(), EscapeHtml(m.self.address),
                        kStyle);
  absl::StrAppendFormat(
      &out,
      R"(<h1>kvstore cluster as <code>%s</code> at %s sees it</h1><p class="sub">)"
      "version %s &middot; %s UTC &middot; reloads every %d s</p>",
      m.self.id.ShortHex(), EscapeHtml(m.self.address), EscapeHtml(m.self.version),
      absl::FormatTime("%Y-%m-%d %H:%M:%S", m.rendered_at, absl::UTCTimeZone()), m.refresh_seconds);
  absl::StrAppendFormat(&out, R"(<p class="pills" id="counts"><span>%d members</span>)",
                        m.members.size());
  for (const char* state : {"alive", "suspect", "down", "dead", "left"}) {
    auto it = by_state.find(state);
    if (it == by_state.end()) continue;
    absl::StrAppendFormat(&out, R"(<span class="state %s">%d %s</span>)", state, it->second, state);
  }
  absl::StrAppend(&out, R"(</p><div class="layout">)");
  const std::map<dht::NodeId, int> hues = Hues(m);
  RenderRing(m, hues, &out);
  absl::StrAppend(&out, "<div>");
  RenderMembers(m, hues, &out);
  RenderActivity(m, &out);
  RenderRepair(m, &out);
  absl::StrAppend(&out, "</div></div></body></html>\n");
  return out;
}

}  // namespace kv::cmd::status

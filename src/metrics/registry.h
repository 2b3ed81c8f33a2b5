// The process's metric families (prometheus-cpp core) and their rendering in
// the Prometheus text exposition format (version 0.0.4).
//
// One Registry per process, owned by main. Layers never see it: main builds
// each family here and hands a layer only the `prometheus::Family<T>*` (or the
// single `prometheus::Counter*`) it updates. Names follow the Prometheus
// conventions: our own metrics start with `kvstore_`, counters end in
// `_total`, units are base units in the name (`_seconds`, `_bytes`).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/labels.h"
#include "prometheus/registry.h"

namespace kv::metrics {

// The Content-Type of RenderText's output.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// Owns a prometheus::Registry and builds families in it without letting
// prometheus-cpp's exceptions escape. Thread-safe: every method may be called
// concurrently; the families it returns are thread-safe too (prometheus-cpp).
class Registry {
 public:
  Registry();

  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The family `name`, created with `help` on first use. A second call with
  // the same name and type returns the same family. The pointer stays valid as
  // long as this Registry lives. Fails with INVALID_ARGUMENT if `name` is not a
  // valid metric name, `help` is empty, or `name` is taken by another type.
  [[nodiscard]] absl::StatusOr<prometheus::Family<prometheus::Counter>*> CounterFamily(
      std::string_view name, std::string_view help);
  [[nodiscard]] absl::StatusOr<prometheus::Family<prometheus::Gauge>*> GaugeFamily(
      std::string_view name, std::string_view help);
  [[nodiscard]] absl::StatusOr<prometheus::Family<prometheus::Histogram>*> HistogramFamily(
      std::string_view name, std::string_view help);

  // The registry as a source for RenderText or HttpServerOptions. Shares
  // ownership of the underlying registry, so it may outlive this object.
  std::shared_ptr<const prometheus::Collectable> collectable() const { return registry_; }

 private:
  // Const after construction; prometheus::Registry locks internally.
  const std::shared_ptr<prometheus::Registry> registry_;
};

// The series of `family` with `labels` (created on first use; later calls
// with the same labels return the same metric, ignoring `args`). `args` are
// the metric's constructor arguments: the bucket boundaries of a histogram,
// which must be strictly increasing. The pointer is valid while the family
// lives. Fails with INVALID_ARGUMENT on a bad label name or bad buckets.
// Thread-safe.
template <typename T, typename... Args>
[[nodiscard]] absl::StatusOr<T*> AddMetric(prometheus::Family<T>& family,
                                           const prometheus::Labels& labels, Args&&... args) {
  try {
    return &family.Add(labels, std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(std::string("metric ") + family.GetName() + ": " + e.what());
  }
}

// The metrics of every source, in order, in the Prometheus text format.
// REQUIRES: no two sources produce a family with the same name (the format
// forbids it; Prometheus would reject the scrape). Null sources are skipped.
// Thread-safe if every source's Collect() is.
std::string RenderText(const std::vector<std::shared_ptr<const prometheus::Collectable>>& sources);

}  // namespace kv::metrics

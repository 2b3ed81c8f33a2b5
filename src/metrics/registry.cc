#include "src/metrics/registry.h"

#include <exception>
#include <string>

#include "prometheus/check_names.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace kv::metrics {
namespace {

// Builds a family with one of prometheus-cpp's builders (BuildCounter() ...),
// which throw on bad names and on a name taken by another type.
template <typename T, typename Builder>
absl::StatusOr<prometheus::Family<T>*> Build(Builder builder, prometheus::Registry& registry,
                                             std::string_view name, std::string_view help) {
  const std::string n(name);
  if (!prometheus::CheckMetricName(n)) {
    return absl::InvalidArgumentError("metric name \"" + n +
                                      "\" is invalid; use [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  if (help.empty()) {
    return absl::InvalidArgumentError("metric " + n + ": help text is empty; say what it counts");
  }
  try {
    return &builder.Name(n).Help(std::string(help)).Register(registry);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError("metric " + n + ": " + e.what());
  }
}

}  // namespace

Registry::Registry() : registry_(std::make_shared<prometheus::Registry>()) {}

absl::StatusOr<prometheus::Family<prometheus::Counter>*> Registry::CounterFamily(
    std::string_view name, std::string_view help) {
  return Build<prometheus::Counter>(prometheus::BuildCounter(), *registry_, name, help);
}

absl::StatusOr<prometheus::Family<prometheus::Gauge>*> Registry::GaugeFamily(
    std::string_view name, std::string_view help) {
  return Build<prometheus::Gauge>(prometheus::BuildGauge(), *registry_, name, help);
}

absl::StatusOr<prometheus::Family<prometheus::Histogram>*> Registry::HistogramFamily(
    std::string_view name, std::string_view help) {
  return Build<prometheus::Histogram>(prometheus::BuildHistogram(), *registry_, name, help);
}

std::string RenderText(const std::vector<std::shared_ptr<const prometheus::Collectable>>& sources) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& source : sources) {
    if (source == nullptr) continue;
    std::vector<prometheus::MetricFamily> collected = source->Collect();
    families.insert(families.end(), std::make_move_iterator(collected.begin()),
                    std::make_move_iterator(collected.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace kv::metrics

#include "src/metrics/registry.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "src/metrics/process_collector.h"
#include "src/metrics/testing/promtool.h"

namespace kv::metrics {
namespace {

TEST(MetricsRegistryTest, SameNameAndTypeReturnsTheSameFamily) {
  Registry registry;
  auto a = registry.CounterFamily("kvstore_test_requests_total", "Requests served.");
  auto b = registry.CounterFamily("kvstore_test_requests_total", "Requests served.");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, *b);
}

TEST(MetricsRegistryTest, BadNameEmptyHelpOrTypeClashIsInvalidArgument) {
  Registry registry;
  EXPECT_EQ(registry.CounterFamily("1bad-name", "help").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.GaugeFamily("kvstore_test_keys", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(registry.GaugeFamily("kvstore_test_keys", "Keys held.").ok());
  const auto clash = registry.CounterFamily("kvstore_test_keys", "Keys held.");
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MetricsRegistryTest, AddMetricRejectsBadLabelNamesAndUnsortedBuckets) {
  Registry registry;
  auto counters = registry.CounterFamily("kvstore_test_ops_total", "Operations.");
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_EQ(AddMetric(**counters, {{"bad-label", "x"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto histograms = registry.HistogramFamily("kvstore_test_latency_seconds", "Latency.");
  ASSERT_TRUE(histograms.ok()) << histograms.status();
  const prometheus::Histogram::BucketBoundaries unsorted = {0.5, 0.1};
  EXPECT_EQ(AddMetric(**histograms, {}, unsorted).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A registry with one counter and one histogram, with a few observations.
std::shared_ptr<const prometheus::Collectable> SampleRegistry(Registry& registry) {
  auto counters = registry.CounterFamily("kvstore_test_requests_total", "Requests served.");
  auto histograms = registry.HistogramFamily("kvstore_test_request_seconds", "Request latency.");
  EXPECT_TRUE(counters.ok() && histograms.ok());
  auto counter = AddMetric(**counters, {{"method", "get"}});
  auto histogram = AddMetric(**histograms, {{"method", "get"}},
                             prometheus::Histogram::BucketBoundaries{0.001, 0.01, 0.1});
  EXPECT_TRUE(counter.ok() && histogram.ok());
  (*counter)->Increment(3);
  (*histogram)->Observe(0.005);
  (*histogram)->Observe(0.5);
  return registry.collectable();
}

TEST(MetricsRegistryTest, RendersCounterAndHistogramInTextFormat) {
  Registry registry;
  const std::string text = RenderText({SampleRegistry(registry), nullptr});
  EXPECT_NE(text.find("# TYPE kvstore_test_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("kvstore_test_requests_total{method=\"get\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE kvstore_test_request_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("kvstore_test_request_seconds_bucket{method=\"get\",le=\"0.01\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kvstore_test_request_seconds_count{method=\"get\"} 2\n"), std::string::npos);
}

TEST(MetricsRegistryTest, TextOfRegistryAndProcessCollectorPassesPromtool) {
  const std::string promtool = testing::FindPromtool();
  if (promtool.empty()) {
    // make test installs it (TEST_PACKAGES); only a hand-run test may skip.
    ASSERT_FALSE(testing::PromtoolRequired())
        << "promtool is not on PATH under CI=true; `make deps` installs Debian's `prometheus`";
    GTEST_SKIP() << "promtool is not on PATH; install Debian's `prometheus` package to run "
                    "`promtool check metrics` on our output";
  }
  Registry registry;
  const std::string text =
      RenderText({SampleRegistry(registry), std::make_shared<ProcessCollector>()});
  EXPECT_EQ(testing::PromtoolFindings(promtool, text), "")
      << "promtool check metrics findings for:\n"
      << text;
}

}  // namespace
}  // namespace kv::metrics

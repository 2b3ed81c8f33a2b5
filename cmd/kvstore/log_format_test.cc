#include "cmd/kvstore/log_format.h"

#include <time.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/details/log_msg.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace kv::cmd {
namespace {

using Json = nlohmann::ordered_json;
using namespace std::string_literals;

// 2026-12-07T06:30:01.123456789Z.
std::chrono::system_clock::time_point SampleTime() {
  return absl::ToChronoTime(
      absl::FromCivil(absl::CivilSecond(2026, 12, 7, 6, 30, 1), absl::UTCTimeZone()) +
      absl::Nanoseconds(123456789));
}

// What `format` makes of one message logged by "a71ffbe6" at SampleTime().
std::string FormatOne(LogFormat format, spdlog::level::level_enum level, std::string_view text) {
  const spdlog::details::log_msg msg(SampleTime(), spdlog::source_loc{}, "a71ffbe6", level,
                                     spdlog::string_view_t(text.data(), text.size()));
  spdlog::memory_buf_t buf;
  MakeLogFormatter(format)->format(msg, buf);
  return std::string(buf.data(), buf.size());
}

// The lines of `text`, which must end in a newline.
std::vector<std::string> Lines(const std::string& text) {
  EXPECT_TRUE(text.empty() || text.back() == '\n') << text;
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  lines.pop_back();  // after the last newline
  return lines;
}

// A logger writing to a string, as the node's logger writes to stdout.
class LogFormatTest : public ::testing::Test {
 protected:
  LogFormatTest()
      : logger_(std::make_shared<spdlog::logger>(
            "a71ffbe6", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_))) {
    logger_->set_level(spdlog::level::trace);
  }
  ~LogFormatTest() override { spdlog::drop("a71ffbe6"); }

  // What was logged since the last call, one parsed object per line.
  std::vector<Json> JsonLines() {
    std::vector<Json> out;
    for (const std::string& line : Lines(out_.str())) {
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
      out.push_back(std::move(j));
    }
    out_.str("");
    return out;
  }

  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> logger_;
};

TEST(ParseLogFormatTest, KnowsTextAndJson) {
  EXPECT_EQ(ParseLogFormat("text").value(), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("json").value(), LogFormat::kJson);
}

TEST(ParseLogFormatTest, UnknownFormatNamesTheKnownOnes) {
  for (std::string_view name : {"xml", "JSON", ""}) {
    absl::StatusOr<LogFormat> f = ParseLogFormat(name);
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_NE(f.status().message().find("text and json"), std::string_view::npos) << f.status();
  }
  EXPECT_EQ(SetLogFormat("xml").code(), absl::StatusCode::kInvalidArgument);
}

TEST(JsonLogFormatTest, LineHasUtcTimeToTheMicrosecondLevelLoggerAndMessage) {
  EXPECT_EQ(FormatOne(LogFormat::kJson, spdlog::level::info, "joined"),
            R"({"ts":"2026-12-07T06:30:01.123456Z","level":"info","logger":"a71ffbe6",)"
            R"("msg":"joined"})"
            "\n");
}

TEST(JsonLogFormatTest, LevelsAreTheNamesLogLevelTakes) {
  const std::vector<std::pair<spdlog::level::level_enum, std::string>> levels = {
      {spdlog::level::trace, "trace"}, {spdlog::level::debug, "debug"},
      {spdlog::level::info, "info"},   {spdlog::level::warn, "warn"},
      {spdlog::level::err, "error"},   {spdlog::level::critical, "critical"}};
  for (const auto& [level, name] : levels) {
    EXPECT_EQ(Json::parse(FormatOne(LogFormat::kJson, level, "m"))["level"], name);
  }
}

TEST_F(LogFormatTest, JsonEscapesEveryMessageIntoOneParsableLine) {
  logger_->set_formatter(MakeLogFormatter(LogFormat::kJson));
  const std::vector<std::string> messages = {
      "plain",
      "quote \" backslash \\ slash /",
      "two\nlines\r\n",
      "controls \t \b \f \x01 \x1f \x7f nul \0 end"s,
      "braces {} {0}",
      "caf\xc3\xa9 \xe2\x9c\x93",  // valid UTF-8 stays as it is
      "",
  };
  for (const std::string& m : messages) logger_->info(m);
  const std::vector<Json> lines = JsonLines();
  ASSERT_EQ(lines.size(), messages.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["msg"], messages[i]) << i;
    EXPECT_EQ(lines[i]["logger"], "a71ffbe6");
    EXPECT_EQ(lines[i]["level"], "info");
    std::vector<std::string> keys;
    for (const auto& [key, value] : lines[i].items()) keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"ts", "level", "logger", "msg"}));
  }
}

TEST_F(LogFormatTest, JsonReplacesInvalidUtf8) {
  logger_->set_formatter(MakeLogFormatter(LogFormat::kJson));
  logger_->warn("key \xff\xfe\"x\" of peer \xc3");
  const std::string raw = out_.str();
  EXPECT_EQ(raw.find('\xff'), std::string::npos) << raw;
  const std::vector<Json> lines = JsonLines();
  ASSERT_EQ(lines.size(), 1u);
  const std::string msg = lines[0]["msg"];
  const std::string kReplacement = "\xef\xbf\xbd";  // U+FFFD
  EXPECT_TRUE(msg.starts_with("key " + kReplacement)) << msg;
  EXPECT_NE(msg.find("\"x\" of peer " + kReplacement), std::string::npos) << msg;
  EXPECT_EQ(lines[0]["level"], "warn");
}

TEST_F(LogFormatTest, JsonUsesTheNameOfEachLogger) {
  logger_->set_formatter(MakeLogFormatter(LogFormat::kJson));
  logger_->info("before");
  // kvstore renames its logger to the node's ID once it knows it (clone).
  logger_->clone("cbd4168c")->info("after");
  std::make_shared<spdlog::logger>("", logger_->sinks().front())->info("unnamed");
  const std::vector<Json> lines = JsonLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["logger"], "a71ffbe6");
  EXPECT_EQ(lines[1]["logger"], "cbd4168c");
  EXPECT_EQ(lines[1]["msg"], "after");
  EXPECT_EQ(lines[2]["logger"], "");
}

TEST(TextLogFormatTest, KeepsThePatternOfEarlierReleases) {
  // "%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v": local time, milliseconds.
  const time_t t = std::chrono::system_clock::to_time_t(SampleTime());
  std::tm local{};
  localtime_r(&t, &local);
  char when[32];
  ASSERT_GT(std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &local), 0u);
  EXPECT_EQ(FormatOne(LogFormat::kText, spdlog::level::warn, "peer \"x\" down"),
            std::string(when) + ".123 W [a71ffbe6] peer \"x\" down\n");
  EXPECT_EQ(FormatOne(LogFormat::kText, spdlog::level::info, "m"),
            std::string(when) + ".123 I [a71ffbe6] m\n");
}

TEST_F(LogFormatTest, SetLogFormatChangesEveryLoggerUntilSetAgain) {
  spdlog::register_logger(logger_);
  ASSERT_TRUE(SetLogFormat("json").ok());
  logger_->info("one");
  logger_->clone("cbd4168c")->info("two");
  std::vector<Json> lines = JsonLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["msg"], "one");
  EXPECT_EQ(lines[1]["msg"], "two");

  EXPECT_FALSE(SetLogFormat("xml").ok());  // changes nothing
  logger_->info("three");
  lines = JsonLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["msg"], "three");

  ASSERT_TRUE(SetLogFormat("text").ok());
  logger_->info("four");
  EXPECT_TRUE(out_.str().ends_with(" I [a71ffbe6] four\n")) << out_.str();
  EXPECT_FALSE(Json::accept(out_.str()));
}

}  // namespace
}  // namespace kv::cmd

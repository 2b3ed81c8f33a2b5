// The RESP command parser (src/resp/parser.h): every byte a Redis client
// sends to the Redis-protocol front door reaches it. Input: byte 0 picks
// where the stream is split in two Feed calls, byte 1 bit 0 picks small
// limits (so that inputs reach them) or the defaults; the rest is the stream.
// Checks that the outcome does not depend on the split (same commands, same
// error), that errors are sticky INVALID_ARGUMENT "Protocol error: ...",
// that no command is empty or over the limits, that buffered() accounts for
// every byte, and that the commands written back by resp::Writer as arrays
// of bulk strings parse back to the same commands.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "fuzz/fuzz_check.h"
#include "src/resp/parser.h"
#include "src/resp/writer.h"

namespace {

using kv::resp::Command;
using kv::resp::Parser;
using kv::resp::ParserLimits;

struct Outcome {
  std::vector<Command> commands;
  absl::Status status;
  size_t buffered = 0;  // at the end
};

// Takes commands until the parser wants more bytes or fails.
void Drain(Parser& parser, Outcome* out) {
  while (true) {
    absl::StatusOr<std::optional<Command>> next = parser.Next();
    if (!next.ok()) {
      out->status = next.status();
      return;
    }
    if (!next->has_value()) return;
    out->commands.push_back(std::move(**next));
  }
}

// Feeds `pieces` one after the other, draining after each.
Outcome Run(const std::vector<std::string_view>& pieces, const ParserLimits& limits) {
  Parser parser(limits);
  Outcome out;
  for (std::string_view piece : pieces) {
    parser.Feed(piece);
    Drain(parser, &out);
    if (!out.status.ok()) break;
  }
  out.buffered = parser.buffered();
  if (!out.status.ok()) {
    // Sticky: the same error again, whatever comes next.
    parser.Feed("PING\r\n");
    FUZZ_CHECK(parser.Next().status() == out.status);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t split = stream.size() * data[0] / 255;
  ParserLimits limits;
  if (data[1] & 1) {
    limits.max_bulk_bytes = 64;
    limits.max_args = 8;
    limits.max_inline_bytes = 32;
  }

  const Outcome whole = Run({stream}, limits);
  const Outcome split_in_two = Run({stream.substr(0, split), stream.substr(split)}, limits);
  FUZZ_CHECK(whole.commands == split_in_two.commands);
  FUZZ_CHECK(whole.status == split_in_two.status);
  if (whole.status.ok()) {
    FUZZ_CHECK(whole.buffered == split_in_two.buffered);
    FUZZ_CHECK(whole.buffered <= stream.size());
  } else {
    FUZZ_CHECK(whole.status.code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(whole.status.message(), "Protocol error: "));
  }

  size_t arg_bytes = 0;
  for (const Command& command : whole.commands) {
    FUZZ_CHECK(!command.empty());
    FUZZ_CHECK(command.size() <= std::max<size_t>(limits.max_args, limits.max_inline_bytes));
    for (const std::string& arg : command) arg_bytes += arg.size();
  }
  // Every argument byte came from the stream (an escape makes one byte of two or four).
  FUZZ_CHECK(arg_bytes <= stream.size());

  // Written back as arrays of bulk strings, the commands parse to themselves
  // (with the default limits: an inline argument may be longer than a bulk
  // the small limits allow).
  std::string wire;
  kv::resp::Writer writer(&wire, kv::resp::Protocol::kResp2);
  for (const Command& command : whole.commands) {
    writer.ArrayHeader(command.size());
    for (const std::string& arg : command) writer.Bulk(arg);
  }
  const Outcome again = Run({wire}, ParserLimits{});
  FUZZ_CHECK(again.status.ok());
  FUZZ_CHECK(again.commands == whole.commands);
  FUZZ_CHECK(again.buffered == 0);
  return 0;
}

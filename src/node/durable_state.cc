#include "src/node/durable_state.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/util/status_macros.h"

namespace kv::node {
namespace {
constexpr char kNodeIdKey[] = "node_id";
constexpr char kContactsKey[] = "contacts";
constexpr char kHlcUpperBoundKey[] = "hlc_upper_bound";
}  // namespace

absl::StatusOr<dht::NodeId> LoadOrCreateNodeId(storage::RocksDbEngine& engine,
                                               std::optional<dht::NodeId> requested,
                                               const dht::NodeId& fresh) {
  ASSIGN_OR_RETURN(std::optional<std::string> stored, engine.GetMeta(kNodeIdKey));
  if (stored) {
    absl::StatusOr<dht::NodeId> id = dht::NodeId::FromHex(*stored);
    if (!id.ok()) {
      return absl::DataLossError(
          absl::StrCat("the data dir's node id '", *stored, "' is not 40 hex characters"));
    }
    if (requested && *requested != *id) {
      return absl::FailedPreconditionError(
          absl::StrCat("--node-id ", requested->ToHex(), " differs from the id ", id->ToHex(),
                       " stored in --data-dir; drop --node-id or use another data dir"));
    }
    return *id;
  }
  const dht::NodeId id = requested.value_or(fresh);
  RETURN_IF_ERROR(engine.PutMeta(kNodeIdKey, id.ToHex()));
  return id;
}

absl::StatusOr<std::vector<dht::Contact>> LoadContacts(const storage::RocksDbEngine& engine) {
  ASSIGN_OR_RETURN(std::optional<std::string> stored, engine.GetMeta(kContactsKey));
  std::vector<dht::Contact> contacts;
  if (!stored) return contacts;
  for (absl::string_view line : absl::StrSplit(*stored, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    absl::StatusOr<dht::NodeId> id =
        parts.size() == 2 ? dht::NodeId::FromHex(parts[0]) : absl::InvalidArgumentError("");
    if (!id.ok() || parts[1].empty()) {
      return absl::DataLossError(
          absl::StrCat("saved contact '", std::string(line), "' is not '<id> <host:port>'"));
    }
    contacts.push_back({*id, parts[1]});
  }
  return contacts;
}

absl::Status SaveContacts(storage::RocksDbEngine& engine,
                          const std::vector<dht::Contact>& contacts) {
  std::string text;
  for (const dht::Contact& c : contacts) absl::StrAppend(&text, c.id.ToHex(), " ", c.address, "\n");
  return engine.PutMeta(kContactsKey, text);
}

absl::StatusOr<uint64_t> LoadHlcUpperBound(const storage::RocksDbEngine& engine) {
  ASSIGN_OR_RETURN(std::optional<std::string> stored, engine.GetMeta(kHlcUpperBoundKey));
  if (!stored) return 0;
  uint64_t bound = 0;
  if (!absl::SimpleAtoi(*stored, &bound)) {
    return absl::DataLossError(
        absl::StrCat("the data dir's clock bound '", *stored,
                     "' is not a number; the meta column family is damaged"));
  }
  return bound;
}

absl::Status SaveHlcUpperBound(storage::RocksDbEngine& engine, uint64_t upper_bound) {
  return engine.PutMeta(kHlcUpperBoundKey, absl::StrCat(upper_bound));
}

}  // namespace kv::node

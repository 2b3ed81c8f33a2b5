// A durable Engine on RocksDB: records survive restarts and crashes.
// The on-disk layout is specified in docs/storage-format.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/storage/digest_tree.h"
#include "src/storage/engine.h"
#include "src/storage/purge_bounds.h"
#include "src/storage/record.h"
#include "src/util/clock.h"

namespace rocksdb {
class ColumnFamilyHandle;
class Status;
class DB;
class Env;
struct WriteOptions;
}  // namespace rocksdb

namespace kv::storage {

class ExpiryCompactionFilter;

// When a write is acknowledged, relative to the disk.
enum class SyncPolicy {
  // Apply returns only after the write is in the write-ahead log and the log
  // is fsynced: it survives a process crash and a power loss. Concurrent
  // writers share fsyncs (RocksDB's group commit).
  kAlways,
  // Apply returns once the write is in the write-ahead log in the OS page
  // cache (write(2), no fsync): it survives a process crash (SIGKILL) but
  // the last writes may be lost if the machine loses power or the kernel
  // crashes.
  kNone,
};

struct RocksDbEngineOptions {
  SyncPolicy sync = SyncPolicy::kAlways;
  // Time for the compaction filter (expiry and tombstone grace). Not owned;
  // must outlive the engine. nullptr means util::SystemClock::Default().
  const util::Clock* clock = nullptr;
  // Tombstones are kept at least this long after their death time
  // (PurgeActionFor in record.h), so that older writes still in flight
  // (hints, read repair, a slow replica) meet the tombstone instead of
  // resurrecting the key. Engine::Purge, which every node's repair round
  // calls with the same grace, erases them once it has passed, through the
  // engine (so the digest tree sees it); the compaction filter drops them
  // only after tombstone_grace + RocksDbEngine::kCompactionBackstop, as a
  // backstop for those Purge has not erased. Must be >= 0.
  absl::Duration tombstone_grace = absl::Hours(1);
  // The RocksDB environment for all file access; not owned, must outlive the
  // engine. nullptr means rocksdb::Env::Default(). Tests pass a
  // fault-injecting wrapper.
  rocksdb::Env* env = nullptr;
};

// An Engine backed by one RocksDB database in a directory of its own, with
// three column families: "default" holds the records (key -> EncodeRecord
// bytes, see record_codec.h), "meta" holds the node's own small state (node
// ID, routing table) and "hints" holds opaque hinted-handoff entries by
// sequence number (src/replication/hint_store.h).
//
// Digest tree: the engine keeps digest_tree() current on every change. Open
// builds it by reading every record once (one sequential scan of the
// records, fill_cache off): a startup cost that grows with the number of
// records stored. The same scan sets the bounds that let Purge skip its own
// scan when nothing can be due.
//
// A compaction filter (compaction_filter.h) applies Purge's rule to the
// records with a grace of Options::tombstone_grace + kCompactionBackstop. So
// at any time expired records may turn into tombstones (same version: the
// digest tree does not change), and tombstones past that longer grace may
// disappear from Read, ForEach and Size. Purge erases tombstones first, at
// tombstone_grace and through the engine, so the filter is only a backstop
// for tombstones no Purge erased in time; its drops are not seen by the
// digest tree, which keeps such a tombstone's hash until the next Open.
//
// Write errors: after a write fails with an I/O error, the engine refuses
// every write itself until it has recovered. The next write attempt (at most
// one per kResumeInterval) tries to recover: if the disk reports at least
// kMinFreeBytesToResume free, it calls DB::Resume, which flushes the
// memtables and moves on to a new write-ahead log. A full disk therefore
// fails writes with RESOURCE_EXHAUSTED until there is room, then writes
// resume without a restart. Two cases need a restart: an error RocksDB deems
// fatal (e.g. a failed fsync), and a WAL write error hit while every
// memtable was empty (e.g. the first write after Open on a full disk): then
// RocksDB 7.8 cannot switch to a new WAL, and the refusal says so.
//
// Thread-safe: every method may be called concurrently. Apply serializes
// writers of the same key on one of kLockStripes mutexes (chosen by key
// hash); readers take no lock.
class RocksDbEngine final : public Engine {
 public:
  using Options = RocksDbEngineOptions;

  // Column family names, also used by tests that open the directory with
  // plain RocksDB.
  static constexpr const char* kDataColumnFamily = "default";
  static constexpr const char* kMetaColumnFamily = "meta";
  static constexpr const char* kHintsColumnFamily = "hints";

  // Number of mutexes that Apply stripes keys over.
  static constexpr size_t kLockStripes = 64;

  // After a write error, the least time between two recovery attempts, and
  // the free space the disk must report for one to be made.
  static constexpr absl::Duration kResumeInterval = absl::Milliseconds(100);
  static constexpr uint64_t kMinFreeBytesToResume = uint64_t{1} << 20;

  // How much longer than Options::tombstone_grace the compaction filter
  // keeps tombstones, so that Purge erases them first (see above).
  static constexpr absl::Duration kCompactionBackstop = absl::Hours(1);

  // Opens the database in `dir`, creating the directory (and its parents),
  // the database and any missing column family (a directory written before
  // "hints" existed gains it), then reads every record to build the digest
  // tree (see "Digest tree" above). Fails if the directory cannot be
  // created, is already open (in this or another process: RocksDB's LOCK
  // file), holds column families this build does not know, options are
  // invalid, or the scan of the records fails. Records that do not decode
  // are logged and left out of the tree.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RocksDbEngine>> Open(const std::string& dir,
                                                                           Options options);

  RocksDbEngine(const RocksDbEngine&) = delete;
  RocksDbEngine& operator=(const RocksDbEngine&) = delete;

  // Closes the database, waiting for running background work to stop.
  ~RocksDbEngine() override;

  // Engine. Apply reads the stored version and writes under the key's stripe
  // mutex, so concurrent Applies of one key cannot lose the newer version; the
  // write is durable as Options::sync says before Apply returns true. Fails
  // with the RocksDB error (rocksdb_status.h: e.g. RESOURCE_EXHAUSTED for a
  // full disk, INTERNAL for an I/O error) if the write cannot be made, and
  // with DATA_LOSS if the stored record does not decode (it is then not
  // overwritten). A failed write is not visible to readers. After a write
  // fails with an I/O error every later write (of any kind, Checkpoint and
  // CompactAll included) fails at once with that error, without touching the
  // disk, until the engine has recovered (see "Write errors" below); reads
  // keep working. A write whose WAL append succeeded but whose fsync failed
  // may still be replayed by the next Open.
  [[nodiscard]] absl::StatusOr<bool> Apply(std::string_view key, const Record& rec) override;
  // Locks every stripe the group touches (in index order), reads and compares
  // as Apply does, then writes every winner in one WriteBatch: one WAL write,
  // one fsync with SyncPolicy::kAlways. A record that does not decode fails
  // only its own write (DATA_LOSS); a failed batch write fails every write of
  // the group that was in the batch or lost to one that was.
  [[nodiscard]] std::vector<absl::StatusOr<bool>> ApplyGroup(
      std::span<const KeyedRecord> writes) override;
  // Fails with DATA_LOSS if the stored bytes do not decode.
  [[nodiscard]] absl::StatusOr<std::optional<Record>> Read(std::string_view key) const override;
  // Iterates a consistent snapshot taken when it starts, in key order. Holds
  // no engine lock, so `fn` may call back into the engine. Records that do
  // not decode, and an iterator error, are logged and skipped (the interface
  // has no way to report them).
  void ForEach(
      const std::function<void(std::string_view key, const Record& rec)>& fn) const override;
  // Exact count at a snapshot, found by iterating every key: O(records).
  // Returns the count seen so far, and logs, if iteration fails.
  size_t Size() const override;
  // Reads, compares and deletes under the key's stripe mutex; the delete is
  // durable as Options::sync says. Fails with DATA_LOSS if the stored record
  // does not decode (it is then kept), else with the RocksDB error.
  [[nodiscard]] absl::StatusOr<bool> EraseIf(std::string_view key, const Version& version) override;
  // Scans a snapshot of the records, then re-reads and changes the picked
  // ones in batches: one WriteBatch per stripe per batch, written under that
  // stripe's mutex and durable as Options::sync says (so with kAlways a
  // batch costs at most kLockStripes fsyncs). Records that do not decode are
  // logged and kept. Fails with the RocksDB error of a read, the scan or a
  // write; batches written before it stay (and the next Purge scans). Skips
  // the scan when no record can be due (PurgeStats::scanned false). The
  // compaction filter applies the same rule, with Options::tombstone_grace
  // + kCompactionBackstop, whenever RocksDB compacts.
  [[nodiscard]] absl::StatusOr<PurgeStats> Purge(int64_t now_ms,
                                                 absl::Duration tombstone_grace) override;
  // Deletes the key (honouring the sync policy); errors are logged.
  void TEST_Erase(std::string_view key) override;
  const DigestTree& digest_tree() const override { return tree_; }

  // Hinted handoff storage: opaque `bytes` under the sequence number `seq`
  // in the hints column family (key: seq as 8 bytes big-endian, so
  // iteration runs oldest first). Replaces what `seq` held. The write is
  // durable as Options::sync says. Fails with the RocksDB error.
  [[nodiscard]] absl::Status PutHint(uint64_t seq, std::string_view bytes);

  // Deletes the hint `seq`; a no-op if absent. Durable as Options::sync says.
  // Fails with the RocksDB error.
  [[nodiscard]] absl::Status DeleteHint(uint64_t seq);

  // Calls fn for every stored hint in increasing seq order, on a consistent
  // snapshot taken when it starts; holds no engine lock, so fn may call back
  // into the engine (DeleteHint included). `bytes` is valid only for the
  // call. Keys that are not 8 bytes, and an iterator error, are logged and
  // skipped.
  void ForEachHint(const std::function<void(uint64_t seq, std::string_view bytes)>& fn) const;

  // Stores `value` under `key` in the meta column family, always with an
  // fsynced WAL write whatever Options::sync says (meta writes are rare and
  // the node ID must not be lost). Fails with the RocksDB error.
  [[nodiscard]] absl::Status PutMeta(std::string_view key, std::string_view value);

  // The value stored by PutMeta, or nullopt if none. Fails with the RocksDB
  // error.
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> GetMeta(std::string_view key) const;

  // Writes a consistent checkpoint of the whole database (every column
  // family) into `dir`, which must not exist; its parent must. Files are
  // hard-linked when `dir` is on the same filesystem, copied otherwise. The
  // memtables are flushed first, and the write-ahead log copied, so the
  // checkpoint holds every write acknowledged before the call. Open(dir) then
  // serves the same data. Fails with FAILED_PRECONDITION if `dir` exists,
  // else with the RocksDB error. Only a failed flush counts as a write error
  // of this engine; a failure to write `dir` leaves later writes unaffected.
  [[nodiscard]] absl::Status Checkpoint(const std::string& dir);

  // Gauges and counters of the records' column family for metrics, by name:
  // rocksdb_live_data_bytes (RocksDB's estimate of the live data),
  // rocksdb_pending_compaction_bytes (bytes compaction must rewrite to get
  // every level under its target; writes slow down, then stop, as it grows),
  // rocksdb_write_stopped (1 while writes are stopped), and
  // rocksdb_write_stalls (write slowdowns and stops since open). A property
  // RocksDB cannot give is left out.
  std::vector<std::pair<std::string, uint64_t>> Properties() const;

  // Flushes the records' memtable and compacts every record file down to the
  // bottom level now, so the compaction filter sees every record. Slow on a
  // large database; RocksDB also compacts on its own in the background.
  // Fails with the RocksDB error.
  [[nodiscard]] absl::Status CompactAll();

 private:
  struct alignas(ABSL_CACHELINE_SIZE) Stripe {
    // Held across the read-compare-write of Apply, EraseIf and Purge (and
    // across TEST_Erase) of keys that hash to this stripe. Guards no member:
    // it guards the stored records.
    absl::Mutex mu;
  };

  RocksDbEngine(std::string dir, Options options,
                std::unique_ptr<ExpiryCompactionFilter> compaction_filter);

  // Open's scan of every record: builds tree_ and sets purge_bounds_.
  // Fails with the RocksDB error of the scan.
  [[nodiscard]] absl::Status LoadRecords();

  size_t StripeIndex(std::string_view key) const;
  absl::Mutex& StripeFor(std::string_view key) { return stripes_[StripeIndex(key)].mu; }

  // Re-reads each of `keys` (all in stripe `stripe`) under that stripe's
  // mutex, applies PurgeActionFor to what is stored now, and writes the
  // changes in one batch. Adds what was written to *stats.
  [[nodiscard]] absl::Status PurgeStripe(size_t stripe, const std::vector<std::string>& keys,
                                         int64_t now_ms, absl::Duration tombstone_grace,
                                         PurgeStats* stats);

  // WriteOptions for record and hint writes, per Options::sync.
  rocksdb::WriteOptions SyncedPerPolicy() const;

  // Runs `write` (one RocksDB write, flush or checkpoint) unless an earlier
  // write error stands and recovery fails; see "Write errors" above. Returns
  // FromRocksDb(its status, context), or the refusal.
  [[nodiscard]] absl::Status GuardedWrite(std::string_view context,
                                          const std::function<rocksdb::Status()>& write)
      ABSL_LOCKS_EXCLUDED(write_gate_, error_mu_);
  // If a write error stands, tries to recover (rate-limited); returns the
  // refusal for `context` if the error still stands.
  [[nodiscard]] absl::Status RecoverOrRefuse(std::string_view context)
      ABSL_LOCKS_EXCLUDED(write_gate_, error_mu_);
  // The refusal of a write for `context` while write_error_ stands.
  absl::Status Refusal(std::string_view context) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(error_mu_);
  // The recovery attempt itself. REQUIRES: write_gate_ held exclusively.
  void TryRecover() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_gate_) ABSL_LOCKS_EXCLUDED(error_mu_);
  // The number of the write-ahead log RocksDB is writing to, or nullopt.
  std::optional<uint64_t> CurrentWalNumber() const;
  // True if some column family's active memtable holds an entry.
  bool AnyActiveMemtableHoldsData() const;

  // "key \"<escaped key>\" in <dir>", for error messages.
  std::string Describe(std::string_view key) const;

  // Const after construction (Open fills db_ and the handles once).
  const std::string dir_;
  const Options options_;  // clock and env resolved
  // Used by db_; declared before it so that it is destroyed after it.
  const std::unique_ptr<ExpiryCompactionFilter> compaction_filter_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* data_cf_ = nullptr;   // owned; released before db_
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;   // owned; released before db_
  rocksdb::ColumnFamilyHandle* hints_cf_ = nullptr;  // owned; released before db_

  std::array<Stripe, kLockStripes> stripes_;

  // The digest tree of the stored records: built by Open, then Replace is
  // called for every change, under the stripe mutex of the key that changes.
  DigestTree tree_;
  // When the next Purge may find work: set by Open's scan, lowered by every
  // stored write.
  PurgeBounds purge_bounds_;

  // Held shared by every RocksDB write (GuardedWrite), exclusively by a
  // recovery attempt, so that no write reaches RocksDB while it recovers.
  // Taken after a stripe mutex, never before one.
  absl::Mutex write_gate_;
  absl::Mutex error_mu_ ABSL_ACQUIRED_AFTER(write_gate_);
  // The standing write error (a RocksDB I/O error, converted), or OK.
  absl::Status write_error_ ABSL_GUARDED_BY(error_mu_);
  // The WAL that was current when write_error_ was recorded (nullopt if
  // unknown): RocksDB must have moved to another one before writes resume.
  std::optional<uint64_t> errored_wal_ ABSL_GUARDED_BY(error_mu_);
  // Why the last recovery attempt failed, added to refusals.
  std::string recovery_note_ ABSL_GUARDED_BY(error_mu_);
  absl::Time last_recovery_attempt_ ABSL_GUARDED_BY(error_mu_) = absl::InfinitePast();
};

}  // namespace kv::storage

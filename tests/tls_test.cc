// Issue 16 on real processes: TLS on every connection, member certificates
// whose public key is the node's ID, and client roles from --auth-file. The
// first tests replay, on a TLS cluster, each attack that worked on a
// plaintext one; each fails without its fix.
#include "src/security/tls.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/dht/node_id.h"
#include "src/security/auth_file.h"
#include "tests/cluster.h"

namespace kv::testing {
namespace {

namespace v1 = kvstore::v1;

// Stubs on a channel of their own, with the given credentials.
struct Stubs {
  Stubs(const std::string& address, const std::shared_ptr<grpc::ChannelCredentials>& creds) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    channel = grpc::CreateCustomChannel(address, creds, args);
    kv = v1::KV::NewStub(channel);
    admin = v1::Admin::NewStub(channel);
    peer = v1::Peer::NewStub(channel);
  }
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::KV::Stub> kv;
  std::unique_ptr<v1::Admin::Stub> admin;
  std::unique_ptr<v1::Peer::Stub> peer;
};

v1::PeerState StateOf(Cluster& cluster, int observer, const std::string& id) {
  v1::PeersResponse resp;
  auto ctx = Context();
  if (!cluster.admin(observer).Peers(ctx.get(), v1::PeersRequest(), &resp).ok()) {
    return v1::PEER_STATE_UNKNOWN;
  }
  for (const v1::PeerEntry& p : resp.peers()) {
    if (p.node().id() == id) return p.state();
  }
  return v1::PEER_STATE_UNKNOWN;
}

grpc::Status PingFrom(Stubs& s, const std::string& id, const std::string& address) {
  v1::PingRequest req;
  req.mutable_from()->set_id(id);
  req.mutable_from()->set_address(address);
  v1::PingResponse resp;
  auto ctx = Context();
  return s.kv->Ping(ctx.get(), req, &resp);
}

grpc::Status JoinAs(Stubs& s, const std::string& id, const std::string& address) {
  v1::JoinRequest req;
  req.mutable_node()->set_id(id);
  req.mutable_node()->set_address(address);
  v1::JoinResponse resp;
  auto ctx = Context();
  return s.kv->Join(ctx.get(), req, &resp);
}

grpc::Status LeavingAs(Stubs& s, const std::string& id, const std::string& address) {
  v1::LeaveNotice req;
  req.mutable_from()->set_id(id);
  req.mutable_from()->set_address(address);
  v1::LeaveNoticeResponse resp;
  auto ctx = Context();
  return s.peer->Leaving(ctx.get(), req, &resp);
}

grpc::Status Put(Stubs& s, const std::string& key, const std::string& value) {
  v1::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  v1::PutResponse resp;
  auto ctx = Context();
  return s.kv->Put(ctx.get(), req, &resp);
}

grpc::Status Get(Stubs& s, const std::string& key) {
  v1::GetRequest req;
  req.set_key(key);
  v1::GetResponse resp;
  auto ctx = Context();
  return s.kv->Get(ctx.get(), req, &resp);
}

// The message must name what to fix; the code alone is not enough.
#define EXPECT_REFUSED(status, code, text)                                             \
  do {                                                                                 \
    const grpc::Status s_ = (status);                                                  \
    EXPECT_EQ(s_.error_code(), grpc::StatusCode::code) << s_.error_message();          \
    EXPECT_NE(s_.error_message().find(text), std::string::npos) << s_.error_message(); \
  } while (0)

class TlsTest : public ClusterFixture {
 protected:
  void StartTls(int nodes, std::vector<std::string> extra = {}) {
    cluster_ = std::make_unique<Cluster>(Cluster::Options{.nodes = nodes,
                                                          .replicas = std::min(nodes, 3),
                                                          .extra_args = std::move(extra),
                                                          .tls = true});
    ASSERT_TRUE(cluster_->Start());
  }
};

TEST_F(TlsTest, PlaintextClientIsRefusedAndTlsClientIsServed) {
  StartTls(1);
  Stubs plain(cluster_->address(0), grpc::InsecureChannelCredentials());
  v1::PingResponse pong;
  auto ctx = Context(absl::Seconds(2));
  EXPECT_FALSE(plain.kv->Ping(ctx.get(), v1::PingRequest(), &pong).ok());
  // kvctl says what to do about it.
  const CommandResult kvctl = RunCommand(KVCTL_BIN, {"--addr", cluster_->address(0), "ping"});
  EXPECT_EQ(kvctl.exit_code, 3) << kvctl.output;
  EXPECT_NE(kvctl.output.find("give --cacert"), std::string::npos) << kvctl.output;
  // TLS alone is enough without --client-cert-auth.
  Stubs tls(cluster_->address(0), cluster_->Credentials(""));
  auto ctx2 = Context();
  ASSERT_TRUE(tls.kv->Ping(ctx2.get(), v1::PingRequest(), &pong).ok());
  EXPECT_EQ(pong.transport(), "tls");
  EXPECT_TRUE(Put(tls, "k", "v").ok());
}

TEST_F(TlsTest, ClientWithoutCertificateIsRefusedUnderClientCertAuth) {
  StartTls(1, {"--client-cert-auth"});
  ASSERT_TRUE(cluster_->MakeCertificate("alice", "alice"));
  Stubs bare(cluster_->address(0), cluster_->Credentials(""));
  EXPECT_FALSE(Put(bare, "k", "v").ok());
  Stubs alice(cluster_->address(0), cluster_->Credentials("alice"));
  EXPECT_TRUE(Put(alice, "k", "v").ok());
  v1::PingResponse pong;
  auto ctx = Context();
  ASSERT_TRUE(alice.kv->Ping(ctx.get(), v1::PingRequest(), &pong).ok());
  EXPECT_EQ(pong.transport(), "mtls");
}

TEST_F(TlsTest, CertificateFromAnotherCaIsRefused) {
  StartTls(1);
  const std::string other_ca = cluster_->tls_dir() + "/other-ca";
  ASSERT_EQ(RunCommand(TLS_CERTS_SCRIPT, {"ca", other_ca}).exit_code, 0);
  ASSERT_TRUE(cluster_->MakeCertificate("stranger", "node", other_ca));
  Stubs stranger(cluster_->address(0), cluster_->Credentials("stranger"));
  v1::FetchRequest req;
  req.set_key("k");
  v1::FetchResponse resp;
  auto ctx = Context(absl::Seconds(2));
  EXPECT_FALSE(stranger.peer->Fetch(ctx.get(), req, &resp).ok());
}

TEST_F(TlsTest, ClientCertificateIsRefusedOnEveryMemberOnlyCall) {
  StartTls(2);
  ASSERT_TRUE(cluster_->MakeCertificate("alice", "alice"));
  Stubs alice(cluster_->address(0), cluster_->Credentials("alice"));
  const std::string id = cluster_->id(1), addr = cluster_->address(1);
  EXPECT_REFUSED(JoinAs(alice, id, addr), PERMISSION_DENIED, "KV.Join is for cluster members");
  EXPECT_REFUSED(PingFrom(alice, id, addr), PERMISSION_DENIED, "for cluster members");
  EXPECT_REFUSED(LeavingAs(alice, id, addr), PERMISSION_DENIED, "Peer.Leaving");
  v1::NodeInfo from;
  from.set_id(id);
  from.set_address(addr);
  {
    v1::FindNodeRequest req;
    *req.mutable_from() = from;
    req.set_target(id);
    v1::FindNodeResponse resp;
    EXPECT_REFUSED(alice.peer->FindNode(Context().get(), req, &resp), PERMISSION_DENIED,
                   "Peer.FindNode");
  }
  {
    v1::GossipRequest req;
    *req.mutable_from() = from;
    v1::GossipResponse resp;
    EXPECT_REFUSED(alice.peer->Gossip(Context().get(), req, &resp), PERMISSION_DENIED,
                   "Peer.Gossip");
  }
  {
    v1::StoreRequest req;
    *req.mutable_from() = from;
    req.set_key("k");
    v1::StoreResponse resp;
    EXPECT_REFUSED(alice.peer->Store(Context().get(), req, &resp), PERMISSION_DENIED, "Peer.Store");
  }
  {
    v1::StoreBatchRequest req;
    *req.mutable_from() = from;
    req.add_items()->set_key("k");
    v1::StoreBatchResponse resp;
    EXPECT_REFUSED(alice.peer->StoreBatch(Context().get(), req, &resp), PERMISSION_DENIED,
                   "Peer.StoreBatch");
  }
  {
    v1::FetchRequest req;
    req.set_key("k");
    v1::FetchResponse resp;
    EXPECT_REFUSED(alice.peer->Fetch(Context().get(), req, &resp), PERMISSION_DENIED, "Peer.Fetch");
  }
  {
    v1::FetchBatchRequest req;
    req.add_keys("k");
    v1::FetchBatchResponse resp;
    EXPECT_REFUSED(alice.peer->FetchBatch(Context().get(), req, &resp), PERMISSION_DENIED,
                   "Peer.FetchBatch");
  }
  {
    v1::DigestRequest req;
    *req.mutable_from() = from;
    v1::DigestResponse resp;
    EXPECT_REFUSED(alice.peer->SyncDigest(Context().get(), req, &resp), PERMISSION_DENIED,
                   "Peer.SyncDigest");
  }
  {
    v1::ReconcileRequest req;
    *req.mutable_from() = from;
    v1::ReconcileResponse resp;
    EXPECT_REFUSED(alice.peer->Reconcile(Context().get(), req, &resp), PERMISSION_DENIED,
                   "Peer.Reconcile");
  }
  {
    auto ctx = Context();
    auto stream = alice.kv->Heartbeat(ctx.get());
    v1::HeartbeatMessage beat;
    *beat.mutable_from() = from;
    stream->Write(beat);
    stream->WritesDone();
    v1::HeartbeatMessage answer;
    EXPECT_FALSE(stream->Read(&answer));
    EXPECT_REFUSED(stream->Finish(), PERMISSION_DENIED, "KV.Heartbeat");
  }
  // A client may still ping without naming a sender, and read and write.
  v1::PingResponse pong;
  EXPECT_TRUE(alice.kv->Ping(Context().get(), v1::PingRequest(), &pong).ok());
  EXPECT_TRUE(Put(alice, "k", "v").ok());
}

// The plaintext table's rows, replayed by a member of the cluster (a valid
// certificate with CN node, for a key of its own): every ID it claims other
// than its own is refused, and nothing changes on the real nodes.
TEST_F(TlsTest, AMemberCannotClaimAnotherNodesIdOrChooseItsOwn) {
  StartTls(3);
  ASSERT_TRUE(cluster_->MakeCertificate("intruder", "node"));
  Stubs intruder(cluster_->address(0), cluster_->Credentials("intruder"));
  const std::map<std::string, std::string> before = cluster_->PeerAddresses(0);
  ASSERT_EQ(before.size(), 2u);
  const std::string trap = absl::StrCat("127.0.0.1:", FreePort());

  // Row 1: IDs chosen next to a key's ID, all pointing at the caller.
  const std::string key = "chosen";
  const dht::NodeId key_id = dht::NodeId::FromKey(key);
  for (int i = 0; i < 3; ++i) {
    std::array<uint8_t, dht::kIdBytes> b = key_id.bytes();
    b[dht::kIdBytes - 1] ^= static_cast<uint8_t>(i + 1);
    EXPECT_REFUSED(JoinAs(intruder, dht::NodeId(b).ToHex(), trap), PERMISSION_DENIED,
                   "certificate is node");
  }
  ASSERT_TRUE(cluster_->Put(0, key, "real").ok());
  EXPECT_EQ(cluster_->Holders(key).size(), 3u);

  // Row 2: an existing node's ID at the caller's address, by Join and Ping.
  EXPECT_REFUSED(JoinAs(intruder, cluster_->id(2), trap), PERMISSION_DENIED, cluster_->id(2));
  EXPECT_REFUSED(PingFrom(intruder, cluster_->id(2), trap), PERMISSION_DENIED, cluster_->id(2));

  // Row 3: a forged leave notice for node 2.
  EXPECT_REFUSED(LeavingAs(intruder, cluster_->id(2), cluster_->address(2)), PERMISSION_DENIED,
                 "Peer.Leaving claims");
  EXPECT_EQ(StateOf(*cluster_, 0, cluster_->id(2)), v1::ALIVE);

  // Row 4: anti-entropy claiming node 2's identity.
  v1::ReconcileRequest rec;
  rec.mutable_from()->set_id(cluster_->id(2));
  rec.mutable_from()->set_address(cluster_->address(2));
  for (uint32_t b = 0; b < 1024; ++b) rec.add_buckets(b);
  v1::ReconcileResponse rec_resp;
  EXPECT_REFUSED(intruder.peer->Reconcile(Context().get(), rec, &rec_resp), PERMISSION_DENIED,
                 "Peer.Reconcile claims");
  EXPECT_EQ(rec_resp.newer_size(), 0);

  // A heartbeat stream whose beats claim node 2 is ended.
  {
    auto ctx = Context();
    auto stream = intruder.kv->Heartbeat(ctx.get());
    v1::HeartbeatMessage beat;
    beat.mutable_from()->set_id(cluster_->id(2));
    beat.mutable_from()->set_address(trap);
    stream->Write(beat);
    stream->WritesDone();
    v1::HeartbeatMessage answer;
    while (stream->Read(&answer)) {
    }
    EXPECT_REFUSED(stream->Finish(), PERMISSION_DENIED, "KV.Heartbeat");
  }
  EXPECT_EQ(cluster_->PeerAddresses(0), before);
  // The intruder may say who it really is.
  const CommandResult own = RunCommand(
      KVSTORE_BIN, {"--cert-file", cluster_->tls_dir() + "/intruder.crt", "--print-node-id"});
  ASSERT_EQ(own.exit_code, 0) << own.output;
  const std::string own_id = own.output.substr(0, 40);
  EXPECT_TRUE(PingFrom(intruder, own_id, trap).ok());
}

TEST_F(TlsTest, NodeIdIsTheSha1OfTheCertificatesPublicKey) {
  StartTls(2);
  const std::string crt = cluster_->tls_dir() + "/node1.crt";
  const CommandResult printed = RunCommand(KVSTORE_BIN, {"--cert-file", crt, "--print-node-id"});
  ASSERT_EQ(printed.exit_code, 0) << printed.output;
  // Independently: the DER SubjectPublicKeyInfo through sha1sum.
  const CommandResult openssl = RunCommand(
      "/bin/sh", {"-c", "openssl x509 -in " + crt +
                            " -pubkey -noout | openssl pkey -pubin -outform DER | sha1sum"});
  ASSERT_EQ(openssl.exit_code, 0) << openssl.output;
  EXPECT_EQ(printed.output.substr(0, 40), openssl.output.substr(0, 40));
  EXPECT_EQ(cluster_->id(1), printed.output.substr(0, 40));
  // A conflicting --node-id is refused at start.
  const std::string dir = cluster_->tls_dir();
  const CommandResult conflict =
      RunCommand(KVSTORE_BIN, {"--addr", absl::StrCat("127.0.0.1:", FreePort()), "--cert-file", crt,
                               "--key-file", dir + "/node1.key", "--trusted-ca-file",
                               dir + "/ca.crt", "--node-id", std::string(40, 'a')});
  EXPECT_EQ(conflict.exit_code, 2);
  EXPECT_NE(conflict.output.find("differs from the node ID --cert-file proves"), std::string::npos)
      << conflict.output;
}

TEST_F(TlsTest, ADataDirOfAnotherNodeIsRefusedWithTheWayOut) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{.nodes = 1, .replicas = 1, .tls = true});
  const std::string dir = cluster_->tls_dir();
  const std::string data = dir + "/data";
  // A plaintext node made this data dir (a random ID).
  const int port = FreePort();
  NodeProcess plain(KVSTORE_BIN, {"--addr", absl::StrCat("127.0.0.1:", port), "--data-dir", data},
                    dir + "/plain.log");
  plain.Start();
  ASSERT_TRUE(WaitFor(
      [&] {
        return RunCommand(KVCTL_BIN, {"--addr", absl::StrCat("127.0.0.1:", port), "ping"})
                   .exit_code == 0;
      },
      absl::Seconds(20)));
  plain.Signal(SIGTERM);
  ASSERT_EQ(plain.Wait(absl::Seconds(20)), 0);
  const CommandResult tls =
      RunCommand(KVSTORE_BIN, {"--addr", absl::StrCat("127.0.0.1:", FreePort()), "--data-dir", data,
                               "--cert-file", dir + "/node0.crt", "--key-file", dir + "/node0.key",
                               "--trusted-ca-file", dir + "/ca.crt"});
  EXPECT_EQ(tls.exit_code, 2);
  EXPECT_NE(tls.output.find("belongs to another node"), std::string::npos) << tls.output;
  EXPECT_NE(tls.output.find("docs/security.md"), std::string::npos) << tls.output;
  cluster_.reset();
}

TEST_F(TlsTest, RolesAndPrefixesFromTheAuthFile) {
  const std::string token = "app-token-123";
  // The auth file must exist before the nodes start: write it next to where
  // the cluster will put its certificates.
  char path[] = "/tmp/kvtest-auth.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "cn:reader read\ncn:app write app/\ncn:ops admin\n"
        << "token-sha256:" << security::TokenSha256Hex(token) << " write tok/\n";
  }
  cluster_ = std::make_unique<Cluster>(Cluster::Options{
      .nodes = 1, .replicas = 1, .extra_args = {std::string("--auth-file=") + path}, .tls = true});
  ASSERT_TRUE(cluster_->Start());
  for (const char* name : {"reader", "app", "ops", "stranger"}) {
    ASSERT_TRUE(cluster_->MakeCertificate(name, name));
  }
  const std::string addr = cluster_->address(0);
  Stubs reader(addr, cluster_->Credentials("reader"));
  Stubs app(addr, cluster_->Credentials("app"));
  Stubs ops(addr, cluster_->Credentials("ops"));
  Stubs stranger(addr, cluster_->Credentials("stranger"));
  Stubs anonymous(addr, cluster_->Credentials(""));
  Stubs tok(addr, cluster_->Credentials("", token));
  Stubs bad_tok(addr, cluster_->Credentials("", "wrong"));

  EXPECT_REFUSED(Put(anonymous, "app/1", "v"), UNAUTHENTICATED, "needs credentials");
  EXPECT_REFUSED(Put(stranger, "app/1", "v"), UNAUTHENTICATED, "cn:stranger");
  EXPECT_REFUSED(Put(bad_tok, "tok/1", "v"), UNAUTHENTICATED, "token");
  EXPECT_TRUE(Put(app, "app/1", "v").ok());
  EXPECT_TRUE(Put(tok, "tok/1", "v").ok());
  EXPECT_TRUE(Put(ops, "any", "v").ok());
  // Read role cannot Put or Delete, but reads.
  EXPECT_REFUSED(Put(reader, "app/1", "x"), PERMISSION_DENIED, "role read");
  EXPECT_TRUE(Get(reader, "app/1").ok());
  // A prefix binds every key, in Put, Get and Batch.
  EXPECT_REFUSED(Put(app, "other/1", "v"), PERMISSION_DENIED, "'app/'");
  EXPECT_REFUSED(Get(app, "tok/1"), PERMISSION_DENIED, "'app/'");
  EXPECT_REFUSED(Put(tok, "app/2", "v"), PERMISSION_DENIED, "'tok/'");
  v1::BatchRequest batch;
  batch.add_ops()->mutable_put()->set_key("app/2");
  batch.mutable_ops(0)->mutable_put()->set_value("v");
  batch.add_ops()->mutable_put()->set_key("other/2");
  batch.mutable_ops(1)->mutable_put()->set_value("v");
  batch.add_ops()->mutable_delete_()->set_key("tok/1");
  v1::BatchResponse results;
  ASSERT_TRUE(app.kv->Batch(Context().get(), batch, &results).ok());
  ASSERT_EQ(results.results_size(), 3);
  EXPECT_EQ(results.results(0).code(), 0) << results.results(0).message();
  EXPECT_EQ(results.results(1).code(), static_cast<int>(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_EQ(results.results(2).code(), static_cast<int>(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(Get(app, "app/2").ok());
  // State-changing Admin calls need role admin, even from loopback.
  v1::SnapshotRequest snap;
  snap.set_name("s1");
  v1::SnapshotResponse snap_resp;
  EXPECT_REFUSED(app.admin->Snapshot(Context().get(), snap, &snap_resp), PERMISSION_DENIED,
                 "needs role admin");
  // (A memory node has no snapshots: the admin gets past the check to that.)
  EXPECT_REFUSED(ops.admin->Snapshot(Context().get(), snap, &snap_resp), FAILED_PRECONDITION,
                 "backup");
  unlink(path);
}

TEST_F(TlsTest, RotatedCertificateOnDiskIsPickedUpWithoutRestart) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{
      .nodes = 1, .replicas = 1, .extra_args = {"--cert-reload-interval=1s"}, .tls = true});
  ASSERT_TRUE(cluster_->Start());
  const std::string dir = cluster_->tls_dir();
  const std::string new_ca = dir + "/new-ca";
  ASSERT_EQ(RunCommand(TLS_CERTS_SCRIPT, {"ca", new_ca}).exit_code, 0);
  // A client that trusts only the new CA.
  const std::string old_id = cluster_->id(0);
  std::filesystem::copy_file(dir + "/node0.key", new_ca + "/node0.key");
  ASSERT_EQ(RunCommand(TLS_CERTS_SCRIPT, {"cert", new_ca, "node0", "node"}).exit_code, 0);
  security::ClientTlsOptions trusts_new{.cacert = new_ca + "/ca.crt"};
  auto fresh = [&] {
    Stubs s(cluster_->address(0), *security::ClientCredentials(trusts_new));
    v1::PingResponse pong;
    const bool ok = s.kv->Ping(Context(absl::Seconds(2)).get(), v1::PingRequest(), &pong).ok();
    return ok && pong.node().id() == old_id;
  };
  EXPECT_FALSE(fresh());
  // Renew: same key, certificate from the new CA; trust both CAs.
  {
    std::ofstream bundle(dir + "/ca.crt", std::ios::app);
    std::ifstream add(new_ca + "/ca.crt");
    bundle << add.rdbuf();
  }
  std::filesystem::copy_file(new_ca + "/node0.crt", dir + "/node0.crt",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_TRUE(WaitFor(fresh, absl::Seconds(30)));
}

// A renewal must keep the key: a pair with another key on disk is reported,
// since gRPC would load it and peers would refuse the node's old ID.
TEST_F(TlsTest, ACertificateWithAnotherKeyOnDiskIsReported) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{
      .nodes = 1, .replicas = 1, .extra_args = {"--cert-reload-interval=1s"}, .tls = true});
  ASSERT_TRUE(cluster_->Start());
  const std::string dir = cluster_->tls_dir();
  ASSERT_TRUE(cluster_->MakeCertificate("other", "node"));
  for (const char* ext : {".key", ".crt"}) {
    std::filesystem::copy_file(dir + "/other" + ext, dir + "/node0" + ext,
                               std::filesystem::copy_options::overwrite_existing);
  }
  EXPECT_TRUE(WaitFor([&] { return cluster_->LogContains(0, "now holds another key"); },
                      absl::Seconds(30)));
}

// Seeds are often IPs found by DNS (--discover) that no certificate names:
// the join goes through anyway (the chain is verified, the host name is not),
// while every later call dials advertised names the certificates carry.
TEST_F(TlsTest, JoinThroughASeedAddressTheCertificateDoesNotName) {
  cluster_ = std::make_unique<Cluster>(Cluster::Options{.nodes = 1, .replicas = 1, .tls = true});
  const std::string dir = cluster_->tls_dir();
  for (const char* name : {"seed", "joiner"}) {
    ASSERT_EQ(RunCommand(TLS_CERTS_SCRIPT, {"cert", dir, name, "node", "DNS:localhost"}).exit_code,
              0);
  }
  const int seed_port = FreePort(), joiner_port = FreePort();
  auto node = [&](const std::string& name, int port, std::vector<std::string> extra) {
    std::vector<std::string> args = {absl::StrCat("--addr=127.0.0.1:", port),
                                     absl::StrCat("--advertise=localhost:", port),
                                     "--cert-file=" + dir + "/" + name + ".crt",
                                     "--key-file=" + dir + "/" + name + ".key",
                                     "--trusted-ca-file=" + dir + "/ca.crt",
                                     "--heartbeat-interval=200ms",
                                     "--failure-timeout=2s"};
    for (std::string& e : extra) args.push_back(std::move(e));
    return std::make_unique<NodeProcess>(KVSTORE_BIN, args, dir + "/" + name + ".log");
  };
  auto seed = node("seed", seed_port, {});
  auto joiner = node("joiner", joiner_port, {absl::StrCat("--peer=127.0.0.1:", seed_port)});
  seed->Start();
  joiner->Start();
  const std::vector<std::string> peers = {"--addr", absl::StrCat("localhost:", seed_port),
                                          "--cacert", dir + "/ca.crt", "peers"};
  CommandResult r;
  const bool joined = WaitFor(
      [&] {
        r = RunCommand(KVCTL_BIN, peers);
        return r.exit_code == 0 &&
               r.output.find(absl::StrCat("localhost:", joiner_port, " ")) != std::string::npos &&
               r.output.find("alive") != std::string::npos;
      },
      absl::Seconds(30));
  EXPECT_TRUE(joined) << r.output;
  for (auto* p : {seed.get(), joiner.get()}) {
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(absl::Seconds(20)), 0);
  }
  cluster_.reset();
}

TEST_F(TlsTest, PlaintextBeyondLoopbackWarnsAndPingSaysSo) {
  const int port = FreePort();
  char dir[] = "/tmp/kvtest-plain.XXXXXX";
  const std::string log = std::string(mkdtemp(dir)) + "/node.log";
  NodeProcess node(
      KVSTORE_BIN,
      {"--addr", absl::StrCat("0.0.0.0:", port), "--advertise", absl::StrCat("127.0.0.1:", port)},
      log);
  node.Start();
  const CommandResult ping = [&] {
    CommandResult r;
    WaitFor(
        [&] {
          r = RunCommand(KVCTL_BIN, {"--addr", absl::StrCat("127.0.0.1:", port), "ping"});
          return r.exit_code == 0;
        },
        absl::Seconds(20));
    return r;
  }();
  EXPECT_EQ(ping.exit_code, 0) << ping.output;
  EXPECT_NE(ping.output.find("transport: plaintext (INSECURE"), std::string::npos) << ping.output;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("serving PLAINTEXT on 0.0.0.0"), std::string::npos) << text.str();
  node.Signal(SIGTERM);
  EXPECT_EQ(node.Wait(absl::Seconds(20)), 0);
}

}  // namespace
}  // namespace kv::testing

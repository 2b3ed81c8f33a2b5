// The two servers kvbench drives, as small adapters with one shape: the
// request and response types of a read and a write, and how to fill them.
// The client code (runner.cc) is a template over these; nothing else differs.
#pragma once

#include <memory>
#include <string>

#include "cmd/kvbench/flags.h"
#include "grpcpp/grpcpp.h"
#include "proto/etcd_kv.grpc.pb.h"
#include "proto/kv.grpc.pb.h"

namespace kv::bench {

// The per-request hooks of a target that sends one op per request (the
// batch target below carries many); T provides MutableKey and Found.
template <typename T>
struct OneOpPerRequest {
  template <typename Req, typename Fn>
  static void ForEachKey(Req* req, Fn fn) {
    fn(T::MutableKey(req));
  }
  template <typename Resp>
  static int Misses(const Resp& resp) {
    return T::Found(resp) ? 0 : 1;
  }
  template <typename Resp>
  static int FailedOps(const Resp&) {
    return 0;
  }
};

// kvstore.v1.KV: Get and Put.
struct KvstoreTarget : OneOpPerRequest<KvstoreTarget> {
  using Stub = kvstore::v1::KV::Stub;
  using ReadRequest = kvstore::v1::GetRequest;
  using ReadResponse = kvstore::v1::GetResponse;
  using WriteRequest = kvstore::v1::PutRequest;
  using WriteResponse = kvstore::v1::PutResponse;

  static std::unique_ptr<Stub> NewStub(std::shared_ptr<grpc::Channel> channel) {
    return kvstore::v1::KV::NewStub(std::move(channel));
  }
  static kvstore::v1::Consistency ToProto(Consistency c) {
    switch (c) {
      case Consistency::kOne:
        return kvstore::v1::ONE;
      case Consistency::kQuorum:
        return kvstore::v1::QUORUM;
      case Consistency::kAll:
        return kvstore::v1::ALL;
      case Consistency::kDefault:
        break;
    }
    return kvstore::v1::CONSISTENCY_DEFAULT;
  }
  static void InitRead(ReadRequest* req, Consistency c, int) { req->set_consistency(ToProto(c)); }
  static void InitWrite(WriteRequest* req, const std::string& value, Consistency c, int) {
    req->set_value(value);
    req->set_consistency(ToProto(c));
  }
  static std::string* MutableKey(ReadRequest* req) { return req->mutable_key(); }
  static std::string* MutableKey(WriteRequest* req) { return req->mutable_key(); }
  static bool Found(const ReadResponse& resp) { return resp.found(); }

  static auto StartRead(Stub* stub, grpc::ClientContext* ctx, const ReadRequest& req,
                        grpc::CompletionQueue* cq) {
    return stub->AsyncGet(ctx, req, cq);
  }
  static auto StartWrite(Stub* stub, grpc::ClientContext* ctx, const WriteRequest& req,
                         grpc::CompletionQueue* cq) {
    return stub->AsyncPut(ctx, req, cq);
  }
};

// etcdserverpb.KV: Range (one key) and Put. Writes always go through etcd's
// Raft log; --consistency one makes reads serializable (answered by the
// contacted member alone), anything else leaves them linearizable.
struct EtcdTarget : OneOpPerRequest<EtcdTarget> {
  using Stub = etcdserverpb::KV::Stub;
  using ReadRequest = etcdserverpb::RangeRequest;
  using ReadResponse = etcdserverpb::RangeResponse;
  using WriteRequest = etcdserverpb::PutRequest;
  using WriteResponse = etcdserverpb::PutResponse;

  static std::unique_ptr<Stub> NewStub(std::shared_ptr<grpc::Channel> channel) {
    return etcdserverpb::KV::NewStub(std::move(channel));
  }
  static void InitRead(ReadRequest* req, Consistency c, int) {
    req->set_serializable(c == Consistency::kOne);
  }
  static void InitWrite(WriteRequest* req, const std::string& value, Consistency c, int) {
    req->set_value(value);
  }
  static std::string* MutableKey(ReadRequest* req) { return req->mutable_key(); }
  static std::string* MutableKey(WriteRequest* req) { return req->mutable_key(); }
  static bool Found(const ReadResponse& resp) { return resp.kvs_size() > 0; }

  static auto StartRead(Stub* stub, grpc::ClientContext* ctx, const ReadRequest& req,
                        grpc::CompletionQueue* cq) {
    return stub->AsyncRange(ctx, req, cq);
  }
  static auto StartWrite(Stub* stub, grpc::ClientContext* ctx, const WriteRequest& req,
                         grpc::CompletionQueue* cq) {
    return stub->AsyncPut(ctx, req, cq);
  }
};

// kvstore.v1.KV/Batch: `batch` Gets or `batch` Puts per request.
struct KvstoreBatchTarget {
  using Stub = kvstore::v1::KV::Stub;
  using ReadRequest = kvstore::v1::BatchRequest;
  using ReadResponse = kvstore::v1::BatchResponse;
  using WriteRequest = kvstore::v1::BatchRequest;
  using WriteResponse = kvstore::v1::BatchResponse;

  static std::unique_ptr<Stub> NewStub(std::shared_ptr<grpc::Channel> channel) {
    return kvstore::v1::KV::NewStub(std::move(channel));
  }
  static void InitRead(ReadRequest* req, Consistency c, int batch) {
    for (int i = 0; i < batch; ++i) {
      req->add_ops()->mutable_get()->set_consistency(KvstoreTarget::ToProto(c));
    }
  }
  static void InitWrite(WriteRequest* req, const std::string& value, Consistency c, int batch) {
    for (int i = 0; i < batch; ++i) {
      kvstore::v1::PutRequest* put = req->add_ops()->mutable_put();
      put->set_value(value);
      put->set_consistency(KvstoreTarget::ToProto(c));
    }
  }
  template <typename Fn>
  static void ForEachKey(kvstore::v1::BatchRequest* req, Fn fn) {
    for (kvstore::v1::BatchOp& op : *req->mutable_ops()) {
      fn(op.has_get() ? op.mutable_get()->mutable_key() : op.mutable_put()->mutable_key());
    }
  }
  static int Misses(const ReadResponse& resp) {
    int n = 0;
    for (const auto& r : resp.results()) n += r.code() == 0 && !r.get().found();
    return n;
  }
  static int FailedOps(const kvstore::v1::BatchResponse& resp) {
    int n = 0;
    for (const auto& r : resp.results()) n += r.code() != 0;
    return n;
  }
  static auto StartRead(Stub* stub, grpc::ClientContext* ctx, const ReadRequest& req,
                        grpc::CompletionQueue* cq) {
    return stub->AsyncBatch(ctx, req, cq);
  }
  static auto StartWrite(Stub* stub, grpc::ClientContext* ctx, const WriteRequest& req,
                         grpc::CompletionQueue* cq) {
    return stub->AsyncBatch(ctx, req, cq);
  }
};

}  // namespace kv::bench

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

// kvstore.v1.KV: Get and Put.
struct KvstoreTarget {
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
  static void InitRead(ReadRequest* req, Consistency c) { req->set_consistency(ToProto(c)); }
  static void InitWrite(WriteRequest* req, const std::string& value, Consistency c) {
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
struct EtcdTarget {
  using Stub = etcdserverpb::KV::Stub;
  using ReadRequest = etcdserverpb::RangeRequest;
  using ReadResponse = etcdserverpb::RangeResponse;
  using WriteRequest = etcdserverpb::PutRequest;
  using WriteResponse = etcdserverpb::PutResponse;

  static std::unique_ptr<Stub> NewStub(std::shared_ptr<grpc::Channel> channel) {
    return etcdserverpb::KV::NewStub(std::move(channel));
  }
  static void InitRead(ReadRequest* req, Consistency c) {
    req->set_serializable(c == Consistency::kOne);
  }
  static void InitWrite(WriteRequest* req, const std::string& value, Consistency c) {
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

}  // namespace kv::bench

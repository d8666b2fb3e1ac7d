// Runs a prepared kernel call on the libuv thread pool and settles a promise with its
// output. Every JS array the call reads or writes is held by a reference until then, so a
// caller that drops its arrays cannot free memory a kernel is still using.
#pragma once

#include <napi.h>

#include <exception>
#include <functional>
#include <utility>
#include <vector>

namespace embedkit::binding {

class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, std::function<void()> work, Napi::Value result,
               const std::vector<Napi::Value>& keep_alive)
      : Napi::AsyncWorker(env, "embedkit"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)) {
    result_ = Napi::Persistent(result.As<Napi::Object>());
    for (const Napi::Value& v : keep_alive) {
      if (v.IsObject()) held_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    }
  }

  // Queues the work and returns the promise it will settle.
  static Napi::Promise Start(Napi::Env env, std::function<void()> work, Napi::Value result,
                             const std::vector<Napi::Value>& keep_alive) {
    auto* worker = new KernelWorker(env, std::move(work), result, keep_alive);
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();  // the worker deletes itself once settled
    return promise;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(result_.Value()); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> work_;
  Napi::ObjectReference result_;
  std::vector<Napi::ObjectReference> held_;
};

}  // namespace embedkit::binding

// Runs a prepared kernel call on the libuv thread pool and settles a promise with its
// output. Every JS array the call reads or writes is held by a reference until then, so a
// caller that drops its arrays cannot free memory a kernel is still using.
//
// A reference cannot stop a caller from detaching (transferring) a buffer mid-call; Node-API
// offers no way to pin an ArrayBuffer. If that happens the promise is rejected instead of
// resolving with a result computed from memory the caller gave away. (If the transferred
// memory is also freed before the kernel finishes, the kernel reads freed memory: callers
// must not transfer arrays that a call in flight uses, as the README says.)
#pragma once

#include <napi.h>

#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace embedkit::binding {

// An argument the call uses, named for error messages.
struct HeldArray {
  const char* name;
  Napi::Value value;
};

class KernelWorker : public Napi::AsyncWorker {
 public:
  // Queues the work and returns the promise it will settle. `result` is among `arrays`.
  static Napi::Promise Start(Napi::Env env, const char* op, std::function<void()> work,
                             Napi::Value result, const std::vector<HeldArray>& arrays) {
    auto* worker = new KernelWorker(env, op, std::move(work), arrays);
    worker->result_ = Napi::Persistent(result.As<Napi::Object>());
    return worker->QueueAndPromise();
  }
  // The same for work whose output size is known only once it has run (a CSR matrix built
  // from coordinates): `finish` makes the result on the JS thread afterwards; an error it
  // throws rejects the promise.
  static Napi::Promise StartThenFinish(Napi::Env env, const char* op, std::function<void()> work,
                                       std::function<Napi::Value(Napi::Env)> finish,
                                       const std::vector<HeldArray>& arrays) {
    auto* worker = new KernelWorker(env, op, std::move(work), arrays);
    worker->finish_ = std::move(finish);
    return worker->QueueAndPromise();
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    // A terminating worker thread's environment can no longer settle promises; the
    // exception that reports it must not escape into the event loop and abort the process.
    try {
      const std::string detached = first_detached();
      if (!detached.empty()) {
        deferred_.Reject(Napi::TypeError::New(Env(), detached + "'s ArrayBuffer was detached while " +
                                                         op_ + " was in flight")
                             .Value());
        return;
      }
      if (!finish_) {
        deferred_.Resolve(result_.Value());
        return;
      }
      Napi::Value result;
      try {
        result = finish_(Env());
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
        return;
      }
      deferred_.Resolve(result);
    } catch (const Napi::Error&) {
    }
  }

  void OnError(const Napi::Error& error) override {
    try {
      deferred_.Reject(error.Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  KernelWorker(Napi::Env env, const char* op, std::function<void()> work,
               const std::vector<HeldArray>& arrays)
      : Napi::AsyncWorker(env, op),
        deferred_(Napi::Promise::Deferred::New(env)),
        op_(op),
        work_(std::move(work)) {
    for (const HeldArray& a : arrays) {
      if (a.value.IsTypedArray()) {
        names_.push_back(a.name);
        held_.push_back(Napi::Persistent(a.value.As<Napi::Object>()));
      }
    }
  }

  Napi::Promise QueueAndPromise() {
    Napi::Promise promise = deferred_.Promise();
    Queue();  // the worker deletes itself once settled
    return promise;
  }

  std::string first_detached() {
    for (size_t i = 0; i < held_.size(); ++i) {
      if (held_[i].Value().As<Napi::TypedArray>().ArrayBuffer().IsDetached()) return names_[i];
    }
    return std::string();
  }

  Napi::Promise::Deferred deferred_;
  std::string op_;
  std::function<void()> work_;
  Napi::ObjectReference result_;                   // Start: the result, known up front
  std::function<Napi::Value(Napi::Env)> finish_;  // StartThenFinish: makes it afterwards
  std::vector<const char*> names_;
  std::vector<Napi::ObjectReference> held_;
};

}  // namespace embedkit::binding

// Device discovery and DeviceArray memory: probe, devices, fromHost, empty, toHost,
// dispose, synchronize and device-to-device copy. Copies from the host are finished with the
// host array when fromHost returns (CUDA stages pageable memory before returning); copies to
// the host and synchronize() wait on a libuv thread and settle a promise, which is where a
// fault inside an earlier kernel is reported.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "device_buffer.h"
#include "transfer.h"

namespace embedkit::cuda::binding {
namespace {

// Waits for everything queued on a device's stream (and, for toHost, one more copy) off the
// event loop. The held handle keeps the buffer alive; a later dispose() is stream-ordered
// after the copy anyway.
class StreamWaiter : public Napi::AsyncWorker {
 public:
  using Work = std::function<cudaError_t()>;
  static Napi::Promise Start(Napi::Env env, const char* what, int device, Work enqueue,
                             Napi::Value result, std::vector<Napi::Value> held) {
    auto* w = new StreamWaiter(env, what, device, std::move(enqueue), result, std::move(held));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    cudaError_t e = cudaSetDevice(device_);
    if (e == cudaSuccess && enqueue_) e = enqueue_();
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
    if (e != cudaSuccess) {
      SetError(std::string(what_) + " failed: " + error_text(e) +
               (e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure
                    ? "; a kernel queued earlier faulted and this process's CUDA context is "
                      "no longer usable"
                    : ""));
    }
  }
  void OnOK() override { deferred_.Resolve(result_.IsEmpty() ? Env().Undefined() : result_.Value()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  StreamWaiter(Napi::Env env, const char* what, int device, Work enqueue, Napi::Value result,
               std::vector<Napi::Value> held)
      : Napi::AsyncWorker(env, what),
        deferred_(Napi::Promise::Deferred::New(env)),
        what_(what),
        device_(device),
        stream_(stream_for(env, device)),
        enqueue_(std::move(enqueue)) {
    if (!result.IsUndefined()) result_ = Napi::Persistent(result.As<Napi::Object>());
    // Handles are Externals, which Node-API 8 cannot reference directly: hold an array of them.
    Napi::Array keep = Napi::Array::New(env, held.size());
    for (size_t i = 0; i < held.size(); ++i) keep.Set(static_cast<uint32_t>(i), held[i]);
    held_ = Napi::Persistent(keep.As<Napi::Object>());
  }

  Napi::Promise::Deferred deferred_;
  const char* what_;
  int device_;
  cudaStream_t stream_;
  Work enqueue_;
  Napi::ObjectReference result_;
  Napi::ObjectReference held_;
};

struct HostArray {
  void* data = nullptr;
  int64_t length = 0;
  Dtype dtype = Dtype::Float32;
};

HostArray host_array(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray()) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a typed array");
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset),
                       HostArray{});
  HostArray h;
  switch (type) {
    case napi_float32_array: h.dtype = Dtype::Float32; break;
    case napi_int32_array: h.dtype = Dtype::Int32; break;
    case napi_uint32_array: h.dtype = Dtype::Uint32; break;
    case napi_bigint64_array: h.dtype = Dtype::Int64; break;
    case napi_uint16_array: h.dtype = Dtype::Uint16; break;
    case napi_uint8_array: h.dtype = Dtype::Uint8; break;
    case napi_float64_array: h.dtype = Dtype::Float64; break;
    default:
      throw Napi::TypeError::New(env, std::string(name) +
                                          " must be a Float32Array, Int32Array, Uint32Array, "
                                          "BigInt64Array, Uint16Array or Uint8Array");
  }
  bool detached = false;
  napi_is_detached_arraybuffer(env, buffer, &detached);
  if (detached || (data == nullptr && length != 0)) {
    throw Napi::TypeError::New(env, std::string(name) + "'s ArrayBuffer is detached");
  }
  h.data = data;
  h.length = static_cast<int64_t>(length);
  return h;
}

int device_arg(Napi::Env env, const Napi::Value& v) {
  int count = 0;
  check_cuda(env, cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  return static_cast<int>(get_integer(env, v, "device", 0, count - 1));
}

// Device memory for `length` elements of `dtype`, queued on the device's stream.

}  // namespace

// probe() -> { available, reason, deviceCount, driverVersion, runtimeVersion }
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  int count = 0, driver = 0, runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  const cudaError_t e = cudaGetDeviceCount(&count);
  r.Set("available", e == cudaSuccess && count > 0);
  r.Set("reason", e != cudaSuccess ? error_text(e) : count == 0 ? "no CUDA device" : "");
  r.Set("deviceCount", e == cudaSuccess ? count : 0);
  r.Set("driverVersion", driver);
  r.Set("runtimeVersion", runtime);
  return r;
}

// devices() -> [{ index, name, totalMemory, computeCapability, multiprocessors }]
Napi::Value Devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;
  Napi::Array list = Napi::Array::New(env, count);
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    check_cuda(env, cudaGetDeviceProperties(&p, i), "cudaGetDeviceProperties");
    Napi::Object d = Napi::Object::New(env);
    d.Set("index", i);
    d.Set("name", p.name);
    d.Set("totalMemory", static_cast<double>(p.totalGlobalMem));
    d.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
    d.Set("multiprocessors", p.multiProcessorCount);
    list.Set(i, d);
  }
  return list;
}

// fromHost(typedArray, device) -> handle
Napi::Value FromHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const HostArray h = host_array(env, info[0], "array");
  const int device = device_arg(env, info[1]);
  DeviceBuffer b = allocate_buffer(env, device, h.dtype, h.length);
  if (is_index_dtype(h.dtype) || h.dtype == Dtype::Uint8) b.summary = summarize_indices(h.data, h.dtype, h.length);
  if (h.length != 0) {
    const cudaError_t e = cudaMemcpyAsync(b.data, h.data, static_cast<size_t>(b.bytes()),
                                          cudaMemcpyHostToDevice, stream_for(env, device));
    if (e != cudaSuccess) {
      cudaFreeAsync(b.data, stream_for(env, device));
      check_cuda(env, e, "DeviceArray.fromHost");
    }
  }
  return wrap_buffer(env, b);
}

// empty(dtypeCode, length, device) -> handle to zero-filled memory
Napi::Value Empty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto dtype = static_cast<Dtype>(get_integer(env, info[0], "dtype", 0, static_cast<int>(Dtype::Float64)));
  const int64_t length = get_integer(env, info[1], "length", 0, kMaxSafeInteger / 8);
  const int device = device_arg(env, info[2]);
  DeviceBuffer b = allocate_buffer(env, device, dtype, length);
  if (b.length != 0) {
    check_cuda(env, cudaMemsetAsync(b.data, 0, static_cast<size_t>(b.bytes()), stream_for(env, device)),
               "DeviceArray.empty");
  }
  return wrap_buffer(env, b);
}

// toHost(handle, out typed array of the same type and length) -> Promise<out>
Napi::Value ToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& b = unwrap_buffer(env, info[0], "array");
  const HostArray h = host_array(env, info[1], "out");
  if (h.dtype != b.dtype || h.length != b.length) {
    throw Napi::TypeError::New(env, "out must have the DeviceArray's element type and length");
  }
  void* src = b.data;
  const size_t bytes = static_cast<size_t>(b.bytes());
  cudaStream_t stream = stream_for(env, b.device);
  return StreamWaiter::Start(
      env, "DeviceArray.toHost", b.device,
      [=]() { return bytes == 0 ? cudaSuccess : cudaMemcpyAsync(h.data, src, bytes, cudaMemcpyDeviceToHost, stream); },
      info[1], {info[0]});
}

// write(handle, typedArray, offset): copies the host array into the device array from
// element `offset` on (TypedArray.set's contract). An integer array loses its host-side
// summary, so it can no longer serve as indices or offsets.
Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& b = unwrap_buffer(env, info[0], "array");
  const HostArray h = host_array(env, info[1], "source");
  if (h.dtype != b.dtype) throw Napi::TypeError::New(env, "source must have the DeviceArray's element type");
  const int64_t offset = get_integer(env, info[2], "offset", 0, b.length);
  if (h.length > b.length - offset) {
    throw Napi::RangeError::New(env, "source.length " + std::to_string(h.length) + " from offset " +
                                         std::to_string(offset) + " overruns the DeviceArray of length " +
                                         std::to_string(b.length));
  }
  if (h.length == 0) return env.Undefined();
  use_device(env, b.device);
  const int64_t size = dtype_size(b.dtype);
  check_cuda(env, cudaMemcpyAsync(static_cast<char*>(b.data) + offset * size, h.data,
                                  static_cast<size_t>(h.length * size), cudaMemcpyHostToDevice,
                                  stream_for(env, b.device)),
             "DeviceArray.set");
  forget_values(b);
  return env.Undefined();
}

// dispose(handle): frees now (stream-ordered); a disposed handle is rejected by every op.
Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) throw Napi::TypeError::New(env, "array must be a DeviceArray");
  auto* b = info[0].As<Napi::External<DeviceBuffer>>().Data();
  unwrap_buffer(env, info[0], "array");  // checks the tag (throws if already disposed)
  release_buffer(env, *b);
  return env.Undefined();
}

// synchronize(device) -> Promise<void>: everything queued so far on that device has run.
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int device = device_arg(env, info[0]);
  return StreamWaiter::Start(env, "cuda.synchronize", device, nullptr, env.Undefined(), {});
}

// copy(dst, src): device-to-device, queued; same element type and length.
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& dst = unwrap_buffer(env, info[0], "dst");
  DeviceBuffer& src = unwrap_buffer(env, info[1], "src");
  if (dst.dtype != src.dtype || dst.length != src.length || dst.device != src.device) {
    throw Napi::TypeError::New(env, "dst and src must have the same element type, length and device");
  }
  if (dst.data == src.data) return env.Undefined();
  use_device(env, dst.device);
  check_cuda(env, cudaMemcpyAsync(dst.data, src.data, static_cast<size_t>(src.bytes()),
                                  cudaMemcpyDeviceToDevice, stream_for(env, dst.device)),
             "cuda.copy");
  dst.summary = src.summary;
  return env.Undefined();
}

}  // namespace embedkit::cuda::binding

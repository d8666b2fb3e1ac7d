#include "device_buffer.h"

#include <mutex>
#include <vector>

namespace embedkit::cuda::binding {
namespace {

// Distinguishes this addon's Externals from any other napi_external a caller could pass.
constexpr napi_type_tag kDeviceBufferTag = {0x656d6265646b6974ULL, 0x6465766275666672ULL};

std::mutex streams_mutex;
std::vector<cudaStream_t> streams;  // by device; null until first use

template <typename T>
IndexSummary summarize(const T* a, int64_t n) {
  IndexSummary s;
  s.known = true;
  if (n == 0) return s;
  s.min = s.max = s.first = static_cast<int64_t>(a[0]);
  s.min_at = s.max_at = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = static_cast<int64_t>(a[i]);
    if (v < s.min) s.min = v, s.min_at = i;
    if (v > s.max) s.max = v, s.max_at = i;
    if (i > 0 && s.decrease_at < 0 && v < static_cast<int64_t>(a[i - 1])) s.decrease_at = i;
    if (!s.sum_overflows && __builtin_add_overflow(s.sum, v, &s.sum)) s.sum_overflows = true;
  }
  s.last = static_cast<int64_t>(a[n - 1]);
  return s;
}

}  // namespace

void check_cuda(Napi::Env env, cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  throw Napi::Error::New(env, std::string(what) + ": " + error_text(status));
}

void use_device(Napi::Env env, int device) { check_cuda(env, cudaSetDevice(device), "cudaSetDevice"); }

namespace {

// Every allocation here is stream-ordered (cudaMallocAsync from the device's default pool).
// That pool's release threshold is 0 by default: at each synchronization it hands freed
// memory back to the driver, and the next op's scratch (or new output) maps fresh pages.
// Two H200 runs of the GPU bench (2026-11-27) differed by up to 2x for exactly the ops that
// allocate per call, not for those that do not; keeping up to kPoolKeepBytes cached lets
// those allocations reuse memory instead, as PyTorch's caching allocator does.
constexpr uint64_t kPoolKeepBytes = uint64_t{2} << 30;

void keep_freed_memory(int device) {
  cudaMemPool_t pool = nullptr;
  if (cudaDeviceGetDefaultMemPool(&pool, device) != cudaSuccess) {
    cudaGetLastError();
    return;  // the pool keeps its default: slower allocations, same results
  }
  uint64_t keep = kPoolKeepBytes;
  if (cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep) != cudaSuccess) cudaGetLastError();
}

}  // namespace

cudaStream_t stream_for(Napi::Env env, int device) {
  std::lock_guard<std::mutex> lock(streams_mutex);
  if (streams.size() <= static_cast<size_t>(device)) streams.resize(device + 1, nullptr);
  if (streams[device] == nullptr) {
    use_device(env, device);
    cudaStream_t s = nullptr;
    check_cuda(env, cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    keep_freed_memory(device);
    streams[device] = s;
  }
  return streams[device];
}

void release_buffer(Napi::Env env, DeviceBuffer& buffer) {
  if (buffer.disposed) return;
  buffer.disposed = true;
  if (buffer.data != nullptr) {
    // Errors are ignored: at process exit the runtime may already be unloading, and a
    // sticky kernel error has been (or will be) reported by a synchronizing call.
    cudaSetDevice(buffer.device);
    std::lock_guard<std::mutex> lock(streams_mutex);
    cudaFreeAsync(buffer.data, streams[buffer.device]);
    buffer.data = nullptr;
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, -buffer.bytes());
}

Napi::Value wrap_buffer(Napi::Env env, DeviceBuffer buffer) {
  auto* owned = new DeviceBuffer(buffer);
  auto handle = Napi::External<DeviceBuffer>::New(env, owned, [](Napi::Env e, DeviceBuffer* b) {
    release_buffer(e, *b);
    delete b;
  });
  handle.TypeTag(&kDeviceBufferTag);
  Napi::MemoryManagement::AdjustExternalMemory(env, owned->bytes());
  return handle;
}

DeviceBuffer& unwrap_buffer(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsExternal() || !v.As<Napi::External<DeviceBuffer>>().CheckTypeTag(&kDeviceBufferTag)) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a DeviceArray");
  }
  DeviceBuffer* b = v.As<Napi::External<DeviceBuffer>>().Data();
  if (b->disposed) throw Napi::TypeError::New(env, std::string(name) + " was disposed");
  return *b;
}

DeviceBuffer allocate_buffer(Napi::Env env, int device, Dtype dtype, int64_t length) {
  DeviceBuffer b;
  b.device = device;
  b.dtype = dtype;
  b.length = length;
  if (length == 0) return b;
  use_device(env, device);
  const cudaError_t e = cudaMallocAsync(&b.data, static_cast<size_t>(b.bytes()), stream_for(env, device));
  if (e != cudaSuccess) {
    cudaGetLastError();  // an allocation failure is not sticky: clear it
    throw Napi::RangeError::New(env, "cannot allocate " + std::to_string(b.bytes()) +
                                         " bytes on CUDA device " + std::to_string(device) + ": " +
                                         error_text(e));
  }
  return b;
}

IndexSummary summarize_indices(const void* data, Dtype dtype, int64_t length) {
  switch (dtype) {
    case Dtype::Int32: return summarize(static_cast<const int32_t*>(data), length);
    case Dtype::Uint32: return summarize(static_cast<const uint32_t*>(data), length);
    case Dtype::Int64: return summarize(static_cast<const int64_t*>(data), length);
    case Dtype::Uint8: return summarize(static_cast<const uint8_t*>(data), length);  // PQ codes
    default: return {};
  }
}

}  // namespace embedkit::cuda::binding

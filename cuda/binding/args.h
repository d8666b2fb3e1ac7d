// Argument checks shared by the CUDA addon's ops: device arrays of the right element type,
// integers in range, and index arrays checked against their host-side summary. Messages
// follow the CPU addon's (csrc/binding/args.cc) so the two backends report alike.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "device_buffer.h"

namespace embedkit::cuda::binding {

constexpr int64_t kMaxSafeInteger = 9007199254740991;

[[noreturn]] void throw_type_error(Napi::Env env, const std::string& message);
[[noreturn]] void throw_range_error(Napi::Env env, const std::string& message);

bool is_absent(const Napi::Value& v);  // undefined or null

int64_t get_integer(Napi::Env env, const Napi::Value& v, const char* name, int64_t min, int64_t max);

// An optional paddingIdx for a table of `rows` rows: -1 when absent, else the row it names
// (negative counts from the end, as in PyTorch). RangeError outside [-rows, rows - 1], or for
// an empty table.
int64_t get_padding_row(Napi::Env env, const Napi::Value& v, int64_t rows);

// A live float32 device array.
DeviceBuffer& float32_arg(Napi::Env env, const Napi::Value& v, const char* name);

// A live Int32 / Uint32 / Int64 device array whose summary is known (made by fromHost).
DeviceBuffer& index_arg(Napi::Env env, const Napi::Value& v, const char* name);

// An int32 argmax (embeddingBag's returnArgmax, or fromHost): its values known exactly or
// within bounds.
DeviceBuffer& argmax_arg(Napi::Env env, const Napi::Value& v, const char* name);

// Every value of `indices` in [0, rows): a RangeError naming the smallest or largest value.
void check_index_range(Napi::Env env, const DeviceBuffer& indices, const char* name, int64_t rows);

// All arrays on one device; `out` not the same memory as any input.
void require_same_device(Napi::Env env, const DeviceBuffer& a, const DeviceBuffer& b, const char* b_name);
void require_distinct(Napi::Env env, const DeviceBuffer& out, const DeviceBuffer& in, const char* in_name);

// out.length == expected, else "out.length must be <expected> (<shape>), got <length>".
void require_length(Napi::Env env, const DeviceBuffer& out, int64_t expected, const std::string& shape);

// Bag boundaries (boundsKind 0: offsets, 1: offsets with the end, 2: lengths) for n indices,
// checked from the array's summary as the CPU checks them; returns the number of bags.
int64_t check_bounds(Napi::Env env, const DeviceBuffer& bounds, int kind_code, int64_t n);

}  // namespace embedkit::cuda::binding

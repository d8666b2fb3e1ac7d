{
  # The CPU addon. Built for the base ISA of each platform: the SIMD files enable their own
  # instructions with target pragmas (csrc/kernels/common/target.h) and runtime dispatch
  # picks them, so one binary serves every CPU. Never add -march=native here.
  "targets": [
    {
      "target_name": "embedkit",
      "sources": [
        "csrc/kernels/common/cpu_features.cc",
        "csrc/kernels/common/index_array.cc",
        "csrc/kernels/common/isa.cc",
        "csrc/kernels/common/kernel_stats.cc",
        "csrc/kernels/common/large_array.cc",
        "csrc/kernels/common/memory.cc",
        "csrc/kernels/common/parallel.cc",
        "csrc/kernels/gather/gather.cc",
        "csrc/kernels/gather/ref.cc",
        "csrc/kernels/gather/validate.cc",
        "csrc/kernels/gather/avx2.cc",
        "csrc/kernels/gather/avx512.cc",
        "csrc/kernels/gather/neon.cc",
        "csrc/kernels/rope/rope.cc",
        "csrc/kernels/rope/ref.cc",
        "csrc/kernels/rope/avx2.cc",
        "csrc/kernels/rope/avx512.cc",
        "csrc/kernels/rope/neon.cc",
        "csrc/kernels/jl/jl.cc",
        "csrc/kernels/jl/ref.cc",
        "csrc/kernels/jl/avx2.cc",
        "csrc/kernels/jl/avx512.cc",
        "csrc/kernels/jl/neon.cc",
        "csrc/kernels/scatter/plan.cc",
        "csrc/kernels/scatter/scatter.cc",
        "csrc/kernels/scatter/csr.cc",
        "csrc/kernels/scatter/winners.cc",
        "csrc/kernels/scatter/weights_grad.cc",
        "csrc/kernels/scatter/id_rows.cc",
        "csrc/kernels/scatter/ref.cc",
        "csrc/kernels/scatter/avx2.cc",
        "csrc/kernels/scatter/avx512.cc",
        "csrc/kernels/scatter/neon.cc",
        "csrc/kernels/codebook/vq.cc",
        "csrc/kernels/codebook/assign.cc",
        "csrc/kernels/codebook/pq.cc",
        "csrc/kernels/codebook/ref.cc",
        "csrc/kernels/codebook/avx2.cc",
        "csrc/kernels/codebook/avx512.cc",
        "csrc/kernels/codebook/neon.cc",
        "csrc/kernels/compress/quantize.cc",
        "csrc/binding/args.cc",
        "csrc/binding/env_data.cc",
        "csrc/binding/system.cc",
        "csrc/binding/gather.cc",
        "csrc/binding/rope.cc",
        "csrc/binding/jl.cc",
        "csrc/binding/scatter_args.cc",
        "csrc/binding/scatter.cc",
        "csrc/binding/qr_backward.cc",
        "csrc/binding/codebook.cc",
        "csrc/binding/table_args.cc",
        "csrc/binding/compress.cc",
        "csrc/binding/qr_bag.cc",
        "csrc/binding/addon.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "EMBEDKIT_VERSION=\"<!(node -p \"require('./package.json').version\")\"", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags": ["-O3"],
      # -z nodelete: Node unloads an addon when the last worker thread that loaded it exits,
      # and a thread-exit destructor of the statically linked C++ runtime (the prebuilds link
      # libc++ statically) would then run unmapped code. The addon stays mapped instead.
      "conditions": [
        ["OS=='linux'", {
          "ldflags": ["-Wl,--gc-sections", "-Wl,-z,nodelete", "-pthread"],
          "cflags_cc": ["-ffunction-sections", "-fdata-sections", "-pthread"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fvisibility=hidden"]
          }
        }]
      ]
    }
  ]
}

{
  "variables": {
    "vip_cflags": ["-std=c++20", "-O3", "-fexceptions", "-fopenmp-simd", "-fno-math-errno", "-fPIC", "-Wno-maybe-uninitialized", "-Wno-uninitialized", "-Wno-unused-function"]
  },
  "targets": [
    {
      "target_name": "vipllava_native",
      "sources": ["native/src/addon.cc", "native/src/ops.cc", "native/src/runtime.cc", "native/src/pack.cc", "native/src/kernels_portable.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["<@(vip_cflags)"],
      "conditions": [
        ["target_arch=='x64'", { "defines": ["VIP_X86=1"], "dependencies": ["kernels_avx2", "kernels_avx512"] }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "kernels_avx2",
          "type": "static_library",
          "sources": ["native/src/kernels_avx2.cc"],
          "cflags_cc!": ["-fno-exceptions"],
          "cflags_cc": ["<@(vip_cflags)", "-mavx2", "-mfma", "-mf16c"]
        },
        {
          "target_name": "kernels_avx512",
          "type": "static_library",
          "sources": ["native/src/kernels_avx512.cc"],
          "cflags_cc!": ["-fno-exceptions"],
          "cflags_cc": ["<@(vip_cflags)", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mavx512vnni"]
        }
      ]
    }]
  ]
}

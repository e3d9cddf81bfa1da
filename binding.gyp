{
  "variables": {
    "vip_cflags": ["-std=c++20", "-O3", "-fexceptions", "-fopenmp-simd", "-fno-math-errno", "-fPIC", "-Wno-unused-function"]
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["<@(vip_cflags)"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++20",
      "MACOSX_DEPLOYMENT_TARGET": "11.0",
      "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fopenmp-simd", "-fno-math-errno"]
    },
    "conditions": [
      ["target_arch=='x64'", { "defines": ["VIP_X86=1"] }],
      ["target_arch=='arm64'", { "defines": ["VIP_ARM64=1"] }]
    ]
  },
  "targets": [
    {
      "target_name": "vipllava_native",
      "sources": ["native/src/addon.cc", "native/src/ops.cc", "native/src/runtime.cc", "native/src/pack.cc", "native/src/cpu.cc", "native/src/kernels_portable.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "conditions": [
        ["target_arch=='x64'", { "dependencies": ["kernels_avx2", "kernels_avxvnni", "kernels_avx512"] }],
        ["target_arch=='arm64'", { "dependencies": ["kernels_neon", "kernels_neon_dotprod", "kernels_neon_i8mm"] }]
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
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fopenmp-simd", "-fno-math-errno", "-mavx2", "-mfma", "-mf16c"] }
        },
        {
          "target_name": "kernels_avxvnni",
          "type": "static_library",
          "sources": ["native/src/kernels_avxvnni.cc"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c", "-mavxvnni"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fopenmp-simd", "-fno-math-errno", "-mavx2", "-mfma", "-mf16c", "-mavxvnni"] }
        },
        {
          "target_name": "kernels_avx512",
          "type": "static_library",
          "sources": ["native/src/kernels_avx512.cc"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mavx512vnni", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fopenmp-simd", "-fno-math-errno", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mavx512vnni"] }
        }
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "kernels_neon",
          "type": "static_library",
          "sources": ["native/src/kernels_neon.cc"],
          "cflags_cc": ["-march=armv8-a"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fopenmp-simd", "-fno-math-errno", "-march=armv8-a"] }
        },
        {
          "target_name": "kernels_neon_dotprod",
          "type": "static_library",
          "sources": ["native/src/kernels_neon_dotprod.cc"],
          "cflags_cc": ["-march=armv8.2-a+dotprod"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fopenmp-simd", "-fno-math-errno", "-march=armv8.2-a+dotprod"] }
        },
        {
          "target_name": "kernels_neon_i8mm",
          "type": "static_library",
          "sources": ["native/src/kernels_neon_i8mm.cc"],
          "cflags_cc": ["-march=armv8.6-a+dotprod+i8mm+bf16"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fopenmp-simd", "-fno-math-errno", "-march=armv8.6-a+dotprod+i8mm+bf16"] }
        }
      ]
    }]
  ]
}

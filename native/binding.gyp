{
  "targets": [
    {
      "target_name": "scatter",
      "sources": [
        "src/addon.cc",
        "src/handles.cc",
        "src/entry.cc",
        "src/allocator.cc",
        "src/convert.cc",
        "src/ops.cc",
        "src/direct.cc",
        "src/tensors.cc",
        "src/autograd.cc",
        "src/runtime.cc",
        "src/distributed.cc",
        "src/whitening.cc",
        "src/graphs.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node libtorch.cjs include)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "<!@(node libtorch.cjs cflags)"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "libraries": ["<!@(node libtorch.cjs libs)"]
    },
    {
      "target_name": "scatter_image",
      "sources": ["src/image.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-fexceptions", "-O3", "-ffp-contract=off", "-Wno-unused-parameter"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "conditions": [["<!(node libjpeg.cjs)==1", {"defines": ["SCATTER_WITH_LIBJPEG"], "libraries": ["-ljpeg"]}]]
    }
  ]
}

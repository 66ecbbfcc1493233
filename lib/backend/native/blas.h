// Shared by the CPU GEMM addon's sources (blas.cc opens OpenBLAS; fused.cc builds kernels on it).
#pragma once
#include <node_api.h>

namespace qlora {

// cblas_sgemm's signature; CBLAS enums (cblas.h): row-major 101; no transpose 111, transpose 112.
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112 };

// cblas_sgemm once load() found it; nullptr before.
extern SgemmFn sgemm;

// Adds fused.cc's kernels (attention, SwiGLU) to the module's exports.
void RegisterFusedKernels(napi_env env, napi_value exports);

}  // namespace qlora

// The few cuBLAS entry points qlora-ts uses, declared here and loaded with dlopen at run time:
// no cuBLAS headers or link-time library are needed to build, and the same binary runs against
// libcublas.so.13 or .12 (the signatures below are stable across both).
#pragma once
#include <dlfcn.h>
#include <cstdint>

typedef struct cublasContext* cublasHandle_t;
typedef int cublasStatus_t;  // CUBLAS_STATUS_SUCCESS == 0
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum { CUDA_R_32F_ = 0, CUDA_R_16F_ = 2, CUDA_R_16BF_ = 14 };           // cudaDataType
enum { CUBLAS_COMPUTE_32F_ = 68, CUBLAS_COMPUTE_32F_FAST_TF32_ = 77 };  // cublasComputeType_t
enum { CUBLAS_GEMM_DEFAULT_ = -1 };

struct Cublas {
  void* lib = nullptr;
  cublasStatus_t (*create)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*setStream)(cublasHandle_t, void*) = nullptr;
  // (handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc,
  //  strideC, batchCount, computeType, algo)
  cublasStatus_t (*gemmStridedBatchedEx)(cublasHandle_t, int, int, int, int, int, const void*, const void*, int, int,
                                         long long, const void*, int, int, long long, const void*, void*, int, int,
                                         long long, int, int, int) = nullptr;
  cublasHandle_t handle = nullptr;

  // Returns nullptr on success, else a message saying what is missing.
  const char* load() {
    const char* names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
    for (const char* n : names) {
      lib = dlopen(n, RTLD_NOW | RTLD_LOCAL);
      if (lib) break;
    }
    if (!lib) return "libcublas.so.13 or .12 not found: add the CUDA toolkit's lib64 folder to LD_LIBRARY_PATH";
    create = reinterpret_cast<decltype(create)>(dlsym(lib, "cublasCreate_v2"));
    setStream = reinterpret_cast<decltype(setStream)>(dlsym(lib, "cublasSetStream_v2"));
    gemmStridedBatchedEx = reinterpret_cast<decltype(gemmStridedBatchedEx)>(dlsym(lib, "cublasGemmStridedBatchedEx"));
    if (!create || !setStream || !gemmStridedBatchedEx) return "libcublas lacks cublasCreate_v2/cublasGemmStridedBatchedEx";
    if (create(&handle) != 0) return "cublasCreate failed";
    return nullptr;
  }
};

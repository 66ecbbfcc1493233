// Node-API addon: single-precision GEMM from the system's OpenBLAS on memory that JavaScript owns
// (the wasm backend's heap), so tfjs's wasm BatchMatMul can run on native AVX2/FMA kernels
// (lib/backend/wasm_blas.ts). OpenBLAS is opened at load time with dlopen: no BLAS headers or
// link-time dependency; without it `load` says why and the wasm backend keeps XNNPACK.
// fused.cc adds the library's fused kernels that call the same sgemm (blas.h).
#include "blas.h"
#include <dlfcn.h>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace qlora {
SgemmFn sgemm = nullptr;
}  // namespace qlora

namespace {

using qlora::sgemm;
using qlora::SgemmFn;
using SetThreadsFn = void (*)(int);
using GetThreadsFn = int (*)();
using CorenameFn = char *(*)();

SetThreadsFn setThreads = nullptr;
GetThreadsFn getThreads = nullptr;
CorenameFn getCorename = nullptr;
std::string loadedFrom;

napi_value Throw(napi_env env, const std::string &message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

// The OpenBLAS core type to ask for under `coretype` "auto": OpenBLAS 0.3.21's DYNAMIC_ARCH picks
// its AVX2 "Haswell" kernels on AMD CPUs with AVX-512, whose SkylakeX AVX-512 kernels
// multiply the training step's shapes ≈ 1.7× faster on the AMD EPYC of docs/BENCHMARKS.md (issue 3).
// Only where the CPU and the OS support AVX-512 F/CD/BW/DQ/VL, as SkylakeX
// needs (GCC's __builtin_cpu_supports checks both); "" otherwise.
std::string AutoCoretype() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    return "SKYLAKEX";
  }
#endif
  return "";
}

// load(candidates: string[], coretype?: string) → the library that provided cblas_sgemm. With a
// coretype ("auto" or an OpenBLAS core name) and no OPENBLAS_CORETYPE in the environment, OpenBLAS
// is asked for that core while it loads (the variable is removed again afterwards).
napi_value Load(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint32_t n = 0;
  if (argc < 1 || napi_get_array_length(env, argv[0], &n) != napi_ok) return Throw(env, "load: expected an array of library names");
  std::string coretype;
  if (argc >= 2) {
    char buf[64];
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[1], buf, sizeof buf, &len) == napi_ok) coretype = buf;
  }
  if (coretype == "auto") coretype = AutoCoretype();
  const bool setCore = !coretype.empty() && !getenv("OPENBLAS_CORETYPE");
  if (setCore) setenv("OPENBLAS_CORETYPE", coretype.c_str(), 0);
  std::string tried;
  for (uint32_t i = 0; i < n && !sgemm; i++) {
    napi_value item;
    napi_get_element(env, argv[0], i, &item);
    char name[512];
    size_t len = 0;
    if (napi_get_value_string_utf8(env, item, name, sizeof name, &len) != napi_ok) continue;
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      tried += std::string(tried.empty() ? "" : "; ") + dlerror();
      continue;
    }
    auto fn = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
    if (!fn) {
      tried += std::string(tried.empty() ? "" : "; ") + name + " has no cblas_sgemm";
      dlclose(h);
      continue;
    }
    sgemm = fn;
    setThreads = reinterpret_cast<SetThreadsFn>(dlsym(h, "openblas_set_num_threads"));
    getThreads = reinterpret_cast<GetThreadsFn>(dlsym(h, "openblas_get_num_threads"));
    getCorename = reinterpret_cast<CorenameFn>(dlsym(h, "openblas_get_corename"));
    loadedFrom = name;
  }
  if (setCore) unsetenv("OPENBLAS_CORETYPE");
  if (!sgemm) return Throw(env, "no BLAS with cblas_sgemm could be opened (" + tried + ")");
  napi_value out;
  napi_create_string_utf8(env, loadedFrom.c_str(), loadedFrom.size(), &out);
  return out;
}

// core() → OpenBLAS's kernel family in use ("Haswell", "SkylakeX", …), "" when the library does not say.
napi_value Core(napi_env env, napi_callback_info) {
  const char *name = getCorename ? getCorename() : "";
  napi_value out;
  napi_create_string_utf8(env, name ? name : "", NAPI_AUTO_LENGTH, &out);
  return out;
}

// threads(n) sets OpenBLAS's thread count when it can (n > 0); returns the count in use (0 = unknown).
napi_value Threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t n = 0;
  if (argc >= 1) napi_get_value_int32(env, argv[0], &n);
  if (n > 0 && setThreads) setThreads(n);
  napi_value out;
  napi_create_int32(env, getThreads ? getThreads() : 0, &out);
  return out;
}

// sgemm(heap: Uint8Array, transA, transB, M, N, K, aByte, bByte, cByte, batch, aStride, bStride, cStride):
// for each of `batch` entries, C (M, N) = op(A) · op(B), all row-major and contiguous; A is (M, K)
// or, transposed, (K, M); B is (K, N) or (N, K). Offsets and strides (per entry) are in bytes / floats.
napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (!sgemm) return Throw(env, "sgemm: load() was not called");
  if (argc != 13) return Throw(env, "sgemm: expected 13 arguments");
  napi_typedarray_type type;
  size_t length = 0, byteOffset = 0;
  void *data = nullptr;
  napi_value buffer;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &byteOffset) != napi_ok || type != napi_uint8_array) {
    return Throw(env, "sgemm: the heap must be a Uint8Array");
  }
  double v[12];
  for (int i = 0; i < 12; i++) napi_get_value_double(env, argv[i + 1], &v[i]);
  const int ta = v[0] != 0, tb = v[1] != 0;
  const int M = int(v[2]), N = int(v[3]), K = int(v[4]);
  const double aByte = v[5], bByte = v[6], cByte = v[7];
  const int batch = int(v[8]);
  const double aStride = v[9], bStride = v[10], cStride = v[11];
  // every operand's last byte must lie inside the heap
  auto end = [&](double at, double stride, double elements) { return at + 4.0 * ((batch - 1) * stride + elements); };
  if (M <= 0 || N <= 0 || K <= 0 || batch <= 0 || aByte < 0 || bByte < 0 || cByte < 0 || aStride < 0 || bStride < 0 || cStride < 0 ||
      end(aByte, aStride, double(M) * K) > double(length) || end(bByte, bStride, double(K) * N) > double(length) ||
      end(cByte, cStride, double(M) * N) > double(length)) {
    return Throw(env, "sgemm: shape or offsets outside the heap");
  }
  auto *base = static_cast<uint8_t *>(data);
  for (int i = 0; i < batch; i++) {
    const float *A = reinterpret_cast<const float *>(base + size_t(aByte)) + size_t(i * aStride);
    const float *B = reinterpret_cast<const float *>(base + size_t(bByte)) + size_t(i * bStride);
    float *C = reinterpret_cast<float *>(base + size_t(cByte)) + size_t(i * cStride);
    sgemm(101, ta ? 112 : 111, tb ? 112 : 111, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C, N);
  }
  return nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  const struct { const char *name; napi_callback fn; } fns[] = {{"load", Load}, {"threads", Threads}, {"core", Core}, {"sgemm", Sgemm}};
  for (const auto &f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  qlora::RegisterFusedKernels(env, exports);
  return exports;
}

// qlora-ts CUDA addon: device memory with a caching allocator, host<->device copies, and the
// float32 kernels the `cuda` tfjs backend runs natively (elementwise with broadcasting, row
// reductions, softmax, transpose, batched GEMM through cuBLAS). Node-API (C), no other headers.
#include <node_api.h>
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cmath>
#include <cstdio>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>
#include "cublas_dl.h"

#define MAX_RANK 6

// ---------------------------------------------------------------- N-API helpers
static napi_value throwError(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, ("qlora-ts cuda: " + msg).c_str());
  return nullptr;
}
#define CUDA_OR_THROW(call)                                                              \
  do {                                                                                   \
    cudaError_t e_ = (call);                                                             \
    if (e_ != cudaSuccess) return throwError(env, std::string(#call) + ": " + cudaGetErrorString(e_)); \
  } while (0)

static double argNumber(napi_env env, napi_value v) { double d = 0; napi_get_value_double(env, v, &d); return d; }
static void* argPtr(napi_env env, napi_value v) { return reinterpret_cast<void*>(static_cast<uintptr_t>(argNumber(env, v))); }
static std::vector<long long> argInts(napi_env env, napi_value v) {
  uint32_t n = 0; napi_get_array_length(env, v, &n);
  std::vector<long long> out(n);
  for (uint32_t i = 0; i < n; i++) { napi_value e; napi_get_element(env, v, i, &e); out[i] = (long long)argNumber(env, e); }
  return out;
}
static napi_value num(napi_env env, double d) { napi_value v; napi_create_double(env, d, &v); return v; }
static std::vector<napi_value> args(napi_env env, napi_callback_info info, size_t n) {
  std::vector<napi_value> a(n); size_t got = n; napi_get_cb_info(env, info, &got, a.data(), nullptr, nullptr); return a;
}

// ---------------------------------------------------------------- device state
static bool gReady = false;
static std::string gReason;
static Cublas gBlas;
static cudaStream_t gStream = nullptr;
static double gWaits = 0;  // times the host waited for the stream: downloads, large uploads, staging ring wraps, sync()

static bool ensureInit(napi_env env) {
  if (gReady) return true;
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) { gReason = std::string("no usable CUDA driver/GPU: ") + cudaGetErrorString(e); throwError(env, gReason); return false; }
  if (count == 0) { gReason = "no CUDA GPU found"; throwError(env, gReason); return false; }
  if (cudaStreamCreateWithFlags(&gStream, cudaStreamNonBlocking) != cudaSuccess) { throwError(env, "cudaStreamCreate failed"); return false; }
  if (const char* why = gBlas.load()) { gReason = why; throwError(env, why); return false; }
  gBlas.setStream(gBlas.handle, gStream);
  gReady = true;
  return true;
}

// Caching allocator: freed blocks wait in per-size free lists and are reused, like torch's.
static std::multimap<size_t, void*> gFree;
static size_t gAllocated = 0, gCached = 0, gPeak = 0;
static size_t roundSize(size_t b) { if (b < 512) return 512; size_t s = 512; while (s < b && s < (1u << 20)) s <<= 1; return s >= b ? s : ((b + (1 << 20) - 1) >> 20) << 20; }

static napi_value Alloc(napi_env env, napi_callback_info info) {
  if (!ensureInit(env)) return nullptr;
  auto a = args(env, info, 1);
  size_t bytes = roundSize((size_t)argNumber(env, a[0]));
  void* p = nullptr;
  auto it = gFree.find(bytes);
  if (it != gFree.end()) { p = it->second; gFree.erase(it); gCached -= bytes; }
  else {
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {  // release the cache once, then retry
      for (auto& kv : gFree) cudaFree(kv.second);
      gFree.clear(); gCached = 0;
      CUDA_OR_THROW(cudaMalloc(&p, bytes));
    }
  }
  gAllocated += bytes; if (gAllocated > gPeak) gPeak = gAllocated;
  return num(env, (double)(uintptr_t)p);
}
static napi_value Free(napi_env env, napi_callback_info info) {
  auto a = args(env, info, 2);
  size_t bytes = roundSize((size_t)argNumber(env, a[1]));
  gFree.emplace(bytes, argPtr(env, a[0])); gAllocated -= bytes; gCached += bytes;
  return nullptr;
}
static napi_value EmptyCache(napi_env env, napi_callback_info) {
  cudaStreamSynchronize(gStream);
  for (auto& kv : gFree) cudaFree(kv.second);
  gFree.clear(); gCached = 0;
  return nullptr;
}
static size_t gScratchTotal();
static napi_value MemoryStats(napi_env env, napi_callback_info) {
  napi_value o; napi_create_object(env, &o);
  napi_set_named_property(env, o, "allocated", num(env, (double)gAllocated));
  napi_set_named_property(env, o, "cached", num(env, (double)gCached));
  napi_set_named_property(env, o, "peak", num(env, (double)gPeak));
  napi_set_named_property(env, o, "scratch", num(env, (double)gScratchTotal()));
  napi_set_named_property(env, o, "waits", num(env, gWaits));
  size_t freeB = 0, totalB = 0;
  if (gReady && cudaMemGetInfo(&freeB, &totalB) == cudaSuccess) napi_set_named_property(env, o, "deviceUsed", num(env, (double)(totalB - freeB)));
  return o;
}
static napi_value ResetPeak(napi_env env, napi_callback_info) { gPeak = gAllocated; return nullptr; }

static napi_value Info(napi_env env, napi_callback_info) {
  napi_value o; napi_create_object(env, &o);
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  bool ok = e == cudaSuccess && count > 0;
  napi_value okv; napi_get_boolean(env, ok, &okv);
  napi_set_named_property(env, o, "ok", okv);
  if (!ok) {
    std::string why = e != cudaSuccess ? std::string("no usable CUDA driver/GPU: ") + cudaGetErrorString(e) : "no CUDA GPU found";
    napi_value s; napi_create_string_utf8(env, why.c_str(), NAPI_AUTO_LENGTH, &s);
    napi_set_named_property(env, o, "reason", s);
    return o;
  }
  cudaDeviceProp p; cudaGetDeviceProperties(&p, 0);
  napi_value s; napi_create_string_utf8(env, p.name, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "name", s);
  napi_set_named_property(env, o, "totalMemory", num(env, (double)p.totalGlobalMem));
  napi_set_named_property(env, o, "computeCapability", num(env, p.major * 10 + p.minor));
  return o;
}

// ---------------------------------------------------------------- copies
// Uploads up to 1 MiB (scalars, token ids, masks, RoPE tables) go through a pinned staging ring
// and do not drain the stream: the host bytes are copied into the ring at once, so the caller's
// array may change afterwards. Draining the stream on each of them let the GPU idle while
// JavaScript queued the next kernels. The ring waits for the stream only when it wraps.
static char* gPinned = nullptr;
static size_t gPinnedOff = 0;
static const size_t kPinnedBytes = 32u << 20, kPinnedMaxCopy = 1u << 20;
static bool stagedUpload(void* dst, const void* src, size_t bytes) {
  if (bytes > kPinnedMaxCopy) return false;
  if (!gPinned && cudaHostAlloc((void**)&gPinned, kPinnedBytes, cudaHostAllocDefault) != cudaSuccess) { gPinned = nullptr; return false; }
  if (gPinnedOff + bytes > kPinnedBytes) {  // every copy staged so far must be done before the ring is reused
    if (cudaStreamSynchronize(gStream) != cudaSuccess) return false;
    gWaits++;
    gPinnedOff = 0;
  }
  std::memcpy(gPinned + gPinnedOff, src, bytes);
  if (cudaMemcpyAsync(dst, gPinned + gPinnedOff, bytes, cudaMemcpyHostToDevice, gStream) != cudaSuccess) return false;
  gPinnedOff += (bytes + 255) & ~(size_t)255;
  return true;
}
static napi_value Upload(napi_env env, napi_callback_info info) {  // (ptr, typedArray)
  if (!ensureInit(env)) return nullptr;
  auto a = args(env, info, 2);
  napi_typedarray_type t; size_t len; void* data; napi_value ab; size_t off;
  napi_get_typedarray_info(env, a[1], &t, &len, &data, &ab, &off);
  size_t bytes = len * (t == napi_float64_array ? 8 : (t == napi_uint8_array || t == napi_int8_array ? 1 : 4));
  if (stagedUpload(argPtr(env, a[0]), data, bytes)) return nullptr;
  CUDA_OR_THROW(cudaMemcpyAsync(argPtr(env, a[0]), data, bytes, cudaMemcpyHostToDevice, gStream));
  CUDA_OR_THROW(cudaStreamSynchronize(gStream));
  gWaits++;
  return nullptr;
}
static napi_value Download(napi_env env, napi_callback_info info) {  // (ptr, typedArray)
  if (!ensureInit(env)) return nullptr;
  auto a = args(env, info, 2);
  napi_typedarray_type t; size_t len; void* data; napi_value ab; size_t off;
  napi_get_typedarray_info(env, a[1], &t, &len, &data, &ab, &off);
  size_t bytes = len * (t == napi_float64_array ? 8 : (t == napi_uint8_array || t == napi_int8_array ? 1 : 4));
  CUDA_OR_THROW(cudaMemcpyAsync(data, argPtr(env, a[0]), bytes, cudaMemcpyDeviceToHost, gStream));
  CUDA_OR_THROW(cudaStreamSynchronize(gStream));
  gWaits++;
  return nullptr;
}
static napi_value Sync(napi_env env, napi_callback_info) { CUDA_OR_THROW(cudaStreamSynchronize(gStream)); gWaits++; return nullptr; }

// ---------------------------------------------------------------- kernels
enum UnaryOp { U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_SIGMOID, U_TANH, U_RELU, U_ABS, U_SQUARE, U_RECIPROCAL, U_SIN, U_COS, U_SILU, U_ERF, U_LOG1P, U_EXPM1, U_SIGN };
enum BinaryOp { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_POW, B_SQDIFF };
enum ReduceOp { R_SUM, R_MAX, R_MIN, R_MEAN };

__global__ void kUnary(int op, const float* x, float* y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = x[i], r;
    switch (op) {
      case U_NEG: r = -v; break;
      case U_EXP: r = expf(v); break;
      case U_LOG: r = logf(v); break;
      case U_SQRT: r = sqrtf(v); break;
      case U_RSQRT: r = rsqrtf(v); break;
      case U_SIGMOID: r = 1.f / (1.f + expf(-v)); break;
      case U_TANH: r = tanhf(v); break;
      case U_RELU: r = v > 0.f ? v : 0.f; break;
      case U_ABS: r = fabsf(v); break;
      case U_SQUARE: r = v * v; break;
      case U_RECIPROCAL: r = 1.f / v; break;
      case U_SIN: r = sinf(v); break;
      case U_COS: r = cosf(v); break;
      case U_SILU: r = v / (1.f + expf(-v)); break;
      case U_ERF: r = erff(v); break;
      case U_LOG1P: r = log1pf(v); break;
      case U_EXPM1: r = expm1f(v); break;
      default: r = (v > 0.f) - (v < 0.f); break;
    }
    y[i] = r;
  }
}

struct Bcast { int rank; long long shape[MAX_RANK]; long long sa[MAX_RANK]; long long sb[MAX_RANK]; };

__device__ __forceinline__ float binaryOp(int op, float u, float v) {
  switch (op) {
    case B_ADD: return u + v;
    case B_SUB: return u - v;
    case B_MUL: return u * v;
    case B_DIV: return u / v;
    case B_MAX: return fmaxf(u, v);
    case B_MIN: return fminf(u, v);
    case B_POW: return powf(u, v);
    default: return (u - v) * (u - v);
  }
}
// General broadcasting (dimensions already collapsed on the host); I is 32-bit when n < 2^31.
template <typename I>
__global__ void kBinary(int op, const float* a, const float* b, float* y, I n, Bcast bc) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I rem = i, ia = 0, ib = 0;
    for (int d = bc.rank - 1; d >= 0; d--) {
      I sh = (I)bc.shape[d], c = rem % sh; rem /= sh;
      ia += c * (I)bc.sa[d]; ib += c * (I)bc.sb[d];
    }
    y[i] = binaryOp(op, a[ia], b[ib]);
  }
}
// Rank ≤ 2 after collapsing with n < 2^31 (same shape, scalar, row or column broadcast): 32-bit
// index arithmetic, one division per element at most. Strides are 0 or contiguous.
template <int OP>
__global__ void kBinary2(const float* a, const float* b, float* y, unsigned n, unsigned inner, unsigned sa0, unsigned sa1, unsigned sb0, unsigned sb1) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    unsigned r = i / inner, c = i - r * inner;
    y[i] = binaryOp(OP, a[r * sa0 + c * sa1], b[r * sb0 + c * sb1]);
  }
}

// One block per row: y[row] = reduce(x[row, 0:inner]).
__global__ void kReduceRows(int op, const float* x, float* y, long long inner) {
  extern __shared__ float sh[];
  const float* row = x + blockIdx.x * inner;
  float acc = (op == R_MAX) ? -INFINITY : (op == R_MIN ? INFINITY : 0.f);
  for (long long j = threadIdx.x; j < inner; j += blockDim.x) {
    float v = row[j];
    acc = op == R_MAX ? fmaxf(acc, v) : (op == R_MIN ? fminf(acc, v) : acc + v);
  }
  sh[threadIdx.x] = acc; __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      float o = sh[threadIdx.x + s], m = sh[threadIdx.x];
      sh[threadIdx.x] = op == R_MAX ? fmaxf(m, o) : (op == R_MIN ? fminf(m, o) : m + o);
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) y[blockIdx.x] = op == R_MEAN ? sh[0] / (float)inner : sh[0];
}

// Numerically stable softmax over the last axis, one block per row.
__global__ void kSoftmaxRows(const float* x, float* y, long long cols, int logSoftmax) {
  extern __shared__ float sh[];
  const float* row = x + blockIdx.x * cols;
  float* out = y + blockIdx.x * cols;
  float m = -INFINITY;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, row[j]);
  sh[threadIdx.x] = m; __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) { if (threadIdx.x < s) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]); __syncthreads(); }
  m = sh[0]; __syncthreads();
  float sum = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(row[j] - m);
  sh[threadIdx.x] = sum; __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) { if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s]; __syncthreads(); }
  sum = sh[0];
  float logSum = logf(sum);
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) out[j] = logSoftmax ? row[j] - m - logSum : expf(row[j] - m) / sum;
}

struct Perm { int rank; long long outShape[MAX_RANK]; long long inStride[MAX_RANK]; };
// I is 32-bit when the tensor has < 2^31 elements (integer division is much cheaper there).
template <typename I>
__global__ void kTranspose(const float* x, float* y, I n, Perm p) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I rem = i, src = 0;
    for (int d = p.rank - 1; d >= 0; d--) { I sh = (I)p.outShape[d], c = rem % sh; rem /= sh; src += c * (I)p.inStride[d]; }
    y[i] = x[src];
  }
}
__global__ void kFill(float* y, long long n, float v) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) y[i] = v;
}

static unsigned gridFor(long long n) { long long g = (n + 255) / 256; return (unsigned)(g > 65535 * 8 ? 65535 * 8 : (g < 1 ? 1 : g)); }
#define LAUNCH_CHECK() do { cudaError_t e_ = cudaGetLastError(); if (e_ != cudaSuccess) return throwError(env, std::string("kernel launch: ") + cudaGetErrorString(e_)); } while (0)

static napi_value Unary(napi_env env, napi_callback_info info) {  // (op, x, y, n)
  auto a = args(env, info, 4);
  long long n = (long long)argNumber(env, a[3]);
  kUnary<<<gridFor(n), 256, 0, gStream>>>((int)argNumber(env, a[0]), (const float*)argPtr(env, a[1]), (float*)argPtr(env, a[2]), n);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value Binary(napi_env env, napi_callback_info info) {  // (op, a, b, y, outShape, aStrides, bStrides)
  auto a = args(env, info, 7);
  auto shape = argInts(env, a[4]), sa = argInts(env, a[5]), sb = argInts(env, a[6]);
  if (shape.size() > MAX_RANK) return throwError(env, "binary op rank > 6");
  Bcast bc{}; bc.rank = (int)shape.size(); long long n = 1;
  for (size_t i = 0; i < shape.size(); i++) { bc.shape[i] = shape[i]; bc.sa[i] = sa[i]; bc.sb[i] = sb[i]; n *= shape[i]; }
  if (n == 0) return nullptr;
  int op = (int)argNumber(env, a[0]);
  const float* A = (const float*)argPtr(env, a[1]); const float* Bp = (const float*)argPtr(env, a[2]); float* Y = (float*)argPtr(env, a[3]);
  if (bc.rank <= 2 && n < (1ll << 31)) {
    unsigned inner = bc.rank == 2 ? (unsigned)bc.shape[1] : (unsigned)n;
    unsigned sa0 = bc.rank == 2 ? (unsigned)bc.sa[0] : 0, sa1 = (unsigned)bc.sa[bc.rank - 1];
    unsigned sb0 = bc.rank == 2 ? (unsigned)bc.sb[0] : 0, sb1 = (unsigned)bc.sb[bc.rank - 1];
    unsigned g = gridFor(n), un = (unsigned)n;
    switch (op) {
#define B2(OPC) case OPC: kBinary2<OPC><<<g, 256, 0, gStream>>>(A, Bp, Y, un, inner, sa0, sa1, sb0, sb1); break;
      B2(B_ADD) B2(B_SUB) B2(B_MUL) B2(B_DIV) B2(B_MAX) B2(B_MIN) B2(B_POW) B2(B_SQDIFF)
#undef B2
      default: return throwError(env, "unknown binary op " + std::to_string(op));
    }
  } else {
    if (n < (1ll << 31)) kBinary<unsigned><<<gridFor(n), 256, 0, gStream>>>(op, A, Bp, Y, (unsigned)n, bc);
    else kBinary<long long><<<gridFor(n), 256, 0, gStream>>>(op, A, Bp, Y, n, bc);
  }
  LAUNCH_CHECK(); return nullptr;
}
static napi_value ReduceRows(napi_env env, napi_callback_info info) {  // (op, x, y, outer, inner)
  auto a = args(env, info, 5);
  long long outer = (long long)argNumber(env, a[3]), inner = (long long)argNumber(env, a[4]);
  if (outer == 0) return nullptr;
  kReduceRows<<<(unsigned)outer, 256, 256 * sizeof(float), gStream>>>((int)argNumber(env, a[0]), (const float*)argPtr(env, a[1]), (float*)argPtr(env, a[2]), inner);
  LAUNCH_CHECK(); return nullptr;
}
// Index of each row's largest value, as tfjs's ArgMax scans it (best = 0; best = j when x[j] > x[best]):
// the first index of the row's maximum, NaN never taken past x[0] and a NaN x[0] kept. One block a row.
__global__ void kArgmaxRows(const float* x, int* y, long long cols) {
  const float* row = x + blockIdx.x * cols;
  float best = -INFINITY; long long at = LLONG_MAX;  // at = LLONG_MAX: nothing seen (a NaN-only stretch)
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
    float v = row[j];
    if (v > best || (v == best && j < at)) { best = v; at = j; }
  }
  __shared__ float bestOf[32]; __shared__ long long atOf[32];
  for (int o = 16; o > 0; o >>= 1) {
    float b = __shfl_xor_sync(0xffffffffu, best, o); long long i = __shfl_xor_sync(0xffffffffu, at, o);
    if (b > best || (b == best && i < at)) { best = b; at = i; }
  }
  unsigned warp = threadIdx.x / 32, lane = threadIdx.x & 31, warps = blockDim.x / 32;
  if (lane == 0) { bestOf[warp] = best; atOf[warp] = at; }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (unsigned w = 1; w < warps; w++)
      if (bestOf[w] > best || (bestOf[w] == best && atOf[w] < at)) { best = bestOf[w]; at = atOf[w]; }
    y[blockIdx.x] = isnan(row[0]) || at == LLONG_MAX ? 0 : (int)at;
  }
}
static napi_value ArgmaxRows(napi_env env, napi_callback_info info) {  // (x, y int32, rows, cols)
  auto a = args(env, info, 4);
  long long rows = (long long)argNumber(env, a[2]), cols = (long long)argNumber(env, a[3]);
  if (rows == 0) return nullptr;
  if (cols == 0) return throwError(env, "argmaxRows: rows of zero length have no largest value");
  kArgmaxRows<<<(unsigned)rows, 1024, 0, gStream>>>((const float*)argPtr(env, a[0]), (int*)argPtr(env, a[1]), cols);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value SoftmaxRows(napi_env env, napi_callback_info info) {  // (x, y, rows, cols, log)
  auto a = args(env, info, 5);
  long long rows = (long long)argNumber(env, a[2]), cols = (long long)argNumber(env, a[3]);
  if (rows == 0) return nullptr;
  kSoftmaxRows<<<(unsigned)rows, 256, 256 * sizeof(float), gStream>>>((const float*)argPtr(env, a[0]), (float*)argPtr(env, a[1]), cols, (int)argNumber(env, a[4]));
  LAUNCH_CHECK(); return nullptr;
}
static napi_value Transpose(napi_env env, napi_callback_info info) {  // (x, y, inShape, perm)
  auto a = args(env, info, 4);
  auto in = argInts(env, a[2]), perm = argInts(env, a[3]);
  int r = (int)in.size();
  if (r > MAX_RANK) return throwError(env, "transpose rank > 6");
  long long stride[MAX_RANK]; long long s = 1;
  for (int d = r - 1; d >= 0; d--) { stride[d] = s; s *= in[d]; }
  Perm p{}; p.rank = r;
  for (int d = 0; d < r; d++) { p.outShape[d] = in[perm[d]]; p.inStride[d] = stride[perm[d]]; }
  if (s == 0) return nullptr;
  if (s < (1ll << 31)) kTranspose<unsigned><<<gridFor(s), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (float*)argPtr(env, a[1]), (unsigned)s, p);
  else kTranspose<long long><<<gridFor(s), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (float*)argPtr(env, a[1]), s, p);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value Fill(napi_env env, napi_callback_info info) {  // (y, n, value)
  auto a = args(env, info, 3);
  long long n = (long long)argNumber(env, a[1]);
  if (n == 0) return nullptr;
  kFill<<<gridFor(n), 256, 0, gStream>>>((float*)argPtr(env, a[0]), n, (float)argNumber(env, a[2]));
  LAUNCH_CHECK(); return nullptr;
}
static napi_value Copy(napi_env env, napi_callback_info info) {  // (dst, src, bytes)
  auto a = args(env, info, 3);
  CUDA_OR_THROW(cudaMemcpyAsync(argPtr(env, a[0]), argPtr(env, a[1]), (size_t)argNumber(env, a[2]), cudaMemcpyDeviceToDevice, gStream));
  return nullptr;
}

// ---------------------------------------------------------------- indexing kernels (int32 ids, uint8 masks)
// y[i] = x[base + Σ c_d·inStride_d] over the output's coordinates c: slice, transpose, broadcast copy.
__global__ void kStrided(const float* x, float* y, long long n, Perm p, long long base) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long rem = i, src = base;
    for (int d = p.rank - 1; d >= 0; d--) { long long c = rem % p.outShape[d]; rem /= p.outShape[d]; src += c * p.inStride[d]; }
    y[i] = x[src];
  }
}
// y (outer, nIdx, inner) = x (outer, axisSize, inner) gathered along the middle axis; bad ids give 0.
__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
// x float32, or bfloat16 for a frozen weight stored in bf16 (rows widened to float32 as they are read).
template <typename T>
__global__ void kGather(const T* x, const int* idx, float* y, long long n, long long axisSize, long long nIdx, long long inner) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long j = i % inner, t = (i / inner) % nIdx, o = i / (inner * nIdx);
    int k = idx[t];
    y[i] = (k >= 0 && k < axisSize) ? toFloat(x[(o * axisSize + k) * inner + j]) : 0.f;
  }
}
// y (numSegments, inner) += x (nIds, inner) rows by segment id; y was zeroed.
__global__ void kSegmentSum(const float* x, const int* ids, float* y, long long n, long long inner, long long numSegments) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    int s = ids[i / inner];
    if (s >= 0 && s < numSegments) atomicAdd(y + s * inner + i % inner, x[i]);
  }
}
// Writes float32, or int32 when asInt (a one-hot of labels, cast to float32 later on the device).
__global__ void kOneHot(const int* idx, float* y, long long n, long long depth, float on, float off, int asInt) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = idx[i / depth] == (int)(i % depth) ? on : off;
    if (asInt) reinterpret_cast<int*>(y)[i] = (int)v; else y[i] = v;
  }
}
__global__ void kIntToFloat(const int* x, float* y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) y[i] = (float)x[i];
}
// y[i] = cond[i / condInner] ? a[i] : b[i]
__global__ void kSelect(const unsigned char* cond, const float* a, const float* b, float* y, long long n, long long condInner) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = cond[i / condInner] ? a[i] : b[i];
}
struct PadGeom { int rank; long long outShape[MAX_RANK]; long long inShape[MAX_RANK]; long long before[MAX_RANK]; };
// Pad (constant) when mode 0; Tile (out coordinate modulo in shape) when mode 1.
__global__ void kPadTile(const float* x, float* y, long long n, PadGeom g, float value, int tile) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long rem = i, src = 0, stride = 1; bool inside = true;
    for (int d = g.rank - 1; d >= 0; d--) {
      long long c = rem % g.outShape[d]; rem /= g.outShape[d];
      long long ci = tile ? c % g.inShape[d] : c - g.before[d];
      if (ci < 0 || ci >= g.inShape[d]) inside = false;
      src += ci * stride; stride *= g.inShape[d];
    }
    y[i] = inside ? x[src] : value;
  }
}
// NF4/FP4 dequantization: 8 codes per int32 word (byte e>>1, high nibble first), one scale per block.
// Output (rows, cols), or its transpose (cols, rows) when transpose is set.
__global__ void kDequant4(const unsigned* packed, const float* code, const float* scale, float* y, long long rows, long long cols, int shift, int transpose) {
  long long n = rows * cols;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long e = transpose ? (i % rows) * cols + i / rows : i;
    unsigned q = (packed[e >> 3] >> (8 * ((e >> 1) & 3) + ((e & 1) == 0 ? 4 : 0))) & 15u;
    y[i] = code[q] * scale[e >> shift];
  }
}

static napi_value Strided(napi_env env, napi_callback_info info) {  // (x, y, outShape, inStrides, base)
  auto a = args(env, info, 5);
  auto shape = argInts(env, a[2]), strides = argInts(env, a[3]);
  if (shape.size() > MAX_RANK) return throwError(env, "strided copy rank > 6");
  Perm p{}; p.rank = (int)shape.size(); long long n = 1;
  for (size_t d = 0; d < shape.size(); d++) { p.outShape[d] = shape[d]; p.inStride[d] = strides[d]; n *= shape[d]; }
  if (n == 0) return nullptr;
  kStrided<<<gridFor(n), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (float*)argPtr(env, a[1]), n, p, (long long)argNumber(env, a[4]));
  LAUNCH_CHECK(); return nullptr;
}
static napi_value Copy2d(napi_env env, napi_callback_info info) {  // (dst, dpitch, src, spitch, widthBytes, height)
  auto a = args(env, info, 6);
  size_t w = (size_t)argNumber(env, a[4]), h = (size_t)argNumber(env, a[5]);
  if (w == 0 || h == 0) return nullptr;
  CUDA_OR_THROW(cudaMemcpy2DAsync(argPtr(env, a[0]), (size_t)argNumber(env, a[1]), argPtr(env, a[2]), (size_t)argNumber(env, a[3]), w, h, cudaMemcpyDeviceToDevice, gStream));
  return nullptr;
}
// Concat in one launch: out (outer, Σ widths) gets each part's (outer, width) rows side by side.
constexpr int kMaxJoinParts = 8;
struct JoinParts { const float* src[kMaxJoinParts]; long long width[kMaxJoinParts]; int n; };
__global__ void kJoinRows(JoinParts p, float* out, long long outer, long long total) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < outer * total; i += (long long)gridDim.x * blockDim.x) {
    long long r = i / total, c = i - r * total;
    int k = 0;
    while (k < p.n - 1 && c >= p.width[k]) c -= p.width[k++];
    out[i] = p.src[k][r * p.width[k] + c];
  }
}
static napi_value JoinRows(napi_env env, napi_callback_info info) {  // (out, partPtrs, widths, outer)
  auto a = args(env, info, 4);
  auto ptrs = argInts(env, a[1]), widths = argInts(env, a[2]);
  long long outer = (long long)argNumber(env, a[3]);
  if (ptrs.size() != widths.size() || ptrs.empty() || ptrs.size() > kMaxJoinParts) return throwError(env, "joinRows: 1 to 8 parts, one width each");
  JoinParts p{}; p.n = (int)ptrs.size(); long long total = 0;
  for (int k = 0; k < p.n; k++) { p.src[k] = (const float*)(uintptr_t)ptrs[k]; p.width[k] = widths[k]; total += widths[k]; }
  if (outer * total == 0) return nullptr;
  kJoinRows<<<gridFor(outer * total), 256, 0, gStream>>>(p, (float*)argPtr(env, a[0]), outer, total);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value Gather(napi_env env, napi_callback_info info) {  // (x, idx, y, outer, axisSize, nIdx, inner[, xIsBf16])
  size_t argc = 8; napi_value a[8]; napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  long long outer = (long long)argNumber(env, a[3]), axis = (long long)argNumber(env, a[4]), nIdx = (long long)argNumber(env, a[5]), inner = (long long)argNumber(env, a[6]);
  bool bf16 = argc > 7 && argNumber(env, a[7]) != 0;
  long long n = outer * nIdx * inner;
  if (n == 0) return nullptr;
  if (bf16) kGather<<<gridFor(n), 256, 0, gStream>>>((const __nv_bfloat16*)argPtr(env, a[0]), (const int*)argPtr(env, a[1]), (float*)argPtr(env, a[2]), n, axis, nIdx, inner);
  else kGather<<<gridFor(n), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (const int*)argPtr(env, a[1]), (float*)argPtr(env, a[2]), n, axis, nIdx, inner);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value SegmentSum(napi_env env, napi_callback_info info) {  // (x, ids, y, nIds, inner, numSegments)
  auto a = args(env, info, 6);
  long long nIds = (long long)argNumber(env, a[3]), inner = (long long)argNumber(env, a[4]), segs = (long long)argNumber(env, a[5]);
  float* y = (float*)argPtr(env, a[2]);
  if (segs * inner > 0) CUDA_OR_THROW(cudaMemsetAsync(y, 0, (size_t)(segs * inner) * sizeof(float), gStream));
  long long n = nIds * inner;
  if (n == 0) return nullptr;
  kSegmentSum<<<gridFor(n), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (const int*)argPtr(env, a[1]), y, n, inner, segs);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value IntToFloat(napi_env env, napi_callback_info info) {  // (x, y, n)
  auto a = args(env, info, 3);
  long long n = (long long)argNumber(env, a[2]);
  if (n == 0) return nullptr;
  kIntToFloat<<<gridFor(n), 256, 0, gStream>>>((const int*)argPtr(env, a[0]), (float*)argPtr(env, a[1]), n);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value OneHot(napi_env env, napi_callback_info info) {  // (idx, y, nIdx, depth, on, off, asInt)
  auto a = args(env, info, 7);
  long long n = (long long)argNumber(env, a[2]) * (long long)argNumber(env, a[3]);
  if (n == 0) return nullptr;
  kOneHot<<<gridFor(n), 256, 0, gStream>>>((const int*)argPtr(env, a[0]), (float*)argPtr(env, a[1]), n, (long long)argNumber(env, a[3]), (float)argNumber(env, a[4]), (float)argNumber(env, a[5]), (int)argNumber(env, a[6]));
  LAUNCH_CHECK(); return nullptr;
}
static napi_value Select(napi_env env, napi_callback_info info) {  // (cond u8, a, b, y, n, condInner)
  auto a = args(env, info, 6);
  long long n = (long long)argNumber(env, a[4]);
  if (n == 0) return nullptr;
  kSelect<<<gridFor(n), 256, 0, gStream>>>((const unsigned char*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (const float*)argPtr(env, a[2]), (float*)argPtr(env, a[3]), n, (long long)argNumber(env, a[5]));
  LAUNCH_CHECK(); return nullptr;
}
static napi_value PadTile(napi_env env, napi_callback_info info) {  // (x, y, inShape, outShape, before, value, tile)
  auto a = args(env, info, 7);
  auto in = argInts(env, a[2]), out = argInts(env, a[3]), before = argInts(env, a[4]);
  if (in.size() > MAX_RANK) return throwError(env, "pad/tile rank > 6");
  PadGeom g{}; g.rank = (int)in.size(); long long n = 1;
  for (size_t d = 0; d < in.size(); d++) { g.inShape[d] = in[d]; g.outShape[d] = out[d]; g.before[d] = d < before.size() ? before[d] : 0; n *= out[d]; }
  if (n == 0) return nullptr;
  kPadTile<<<gridFor(n), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (float*)argPtr(env, a[1]), n, g, (float)argNumber(env, a[5]), (int)argNumber(env, a[6]));
  LAUNCH_CHECK(); return nullptr;
}
static napi_value Dequant4(napi_env env, napi_callback_info info) {  // (packed, code, scale, y, rows, cols, shift, transpose)
  auto a = args(env, info, 8);
  long long rows = (long long)argNumber(env, a[4]), cols = (long long)argNumber(env, a[5]);
  if (rows * cols == 0) return nullptr;
  kDequant4<<<gridFor(rows * cols), 256, 0, gStream>>>((const unsigned*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (const float*)argPtr(env, a[2]), (float*)argPtr(env, a[3]), rows, cols, (int)argNumber(env, a[6]), (int)argNumber(env, a[7]));
  LAUNCH_CHECK(); return nullptr;
}

// bf16 GEMM inputs: float32 rounded to bf16 into grow-only scratch buffers (stream-ordered reuse).
__global__ void kToBf16(const float* x, __nv_bfloat16* y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) y[i] = __float2bfloat16(x[i]);
}
// Four values per thread: one 16-byte load, one 8-byte store (x and y 16- and 8-byte aligned, n4 = n / 4).
__global__ void kToBf16x4(const float4* x, uint2* y, unsigned n4) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
    float4 v = x[i];
    __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
    y[i] = make_uint2(*reinterpret_cast<unsigned*>(&lo), *reinterpret_cast<unsigned*>(&hi));
  }
}
// x (float32) rounded to bf16 at y; the vector kernel when the sizes and addresses allow it.
static void launchToBf16(const float* x, __nv_bfloat16* y, long long n) {
  if (n % 4 == 0 && n / 4 < (1ll << 31) && ((uintptr_t)x & 15) == 0 && ((uintptr_t)y & 7) == 0)
    kToBf16x4<<<gridFor(n / 4), 256, 0, gStream>>>((const float4*)x, (uint2*)y, (unsigned)(n / 4));
  else
    kToBf16<<<gridFor(n), 256, 0, gStream>>>(x, y, n);
}
static void* gScratch[2] = {nullptr, nullptr};
static size_t gScratchBytes[2] = {0, 0};
static size_t gScratchTotal() { return gScratchBytes[0] + gScratchBytes[1]; }
static void* scratch(int which, size_t bytes) {
  if (gScratchBytes[which] < bytes) {
    if (gScratch[which]) { cudaStreamSynchronize(gStream); cudaFree(gScratch[which]); }
    gScratch[which] = nullptr; gScratchBytes[which] = 0;
    if (cudaMalloc(&gScratch[which], bytes) != cudaSuccess) return nullptr;
    gScratchBytes[which] = bytes;
  }
  return gScratch[which];
}

// An optional number argument: its value, or dflt when it is not a number.
static double optNumber(napi_env env, napi_value v, double dflt) {
  napi_valuetype t; napi_typeof(env, v, &t);
  return t == napi_number ? argNumber(env, v) : dflt;
}

// The fp32 operand x (n values) rounded to bf16 into GEMM scratch `which`; nullptr when the
// scratch cannot be allocated.
static const void* roundedToBf16(const void* x, long long n, int which) {
  void* y = scratch(which, (size_t)n * 2);
  if (y) launchToBf16((const float*)x, (__nv_bfloat16*)y, n);
  return y;
}

// Row-major C[b] (m×n) = op(A[b]) · op(B[b]); cuBLAS is column-major, so compute Cᵀ = op(B)ᵀ·op(A)ᵀ.
// (a, b, c, batch, m, n, k, transA, transB, strideA, strideB, strideC, mode, alpha?, beta?)
static napi_value Matmul(napi_env env, napi_callback_info info) {
  if (!ensureInit(env)) return nullptr;
  auto a = args(env, info, 15);
  int batch = (int)argNumber(env, a[3]), m = (int)argNumber(env, a[4]), n = (int)argNumber(env, a[5]), k = (int)argNumber(env, a[6]);
  bool ta = argNumber(env, a[7]) != 0, tb = argNumber(env, a[8]) != 0;
  long long sA = (long long)argNumber(env, a[9]), sB = (long long)argNumber(env, a[10]), sC = (long long)argNumber(env, a[11]);
  // 0 fp32, 1 tf32, 2 bf16 inputs with fp32 accumulate, 3 the same with B already bf16 (toBf16), 4 with A already bf16.
  int mode = (int)argNumber(env, a[12]);
  // A skinny product (LoRA's rank-r side) is memory-bound: rounding a large fp32 operand to bf16
  // first would cost more than the GEMM, so it runs on TF32 tensor cores from the fp32 inputs.
  if (mode == 2 && (m <= 64 || n <= 64 || k <= 64)) mode = 1;
  int compute = mode == 1 ? CUBLAS_COMPUTE_32F_FAST_TF32_ : CUBLAS_COMPUTE_32F_;
  // Optional (alpha, beta): C = alpha·op(A)·op(B) + beta·C, so a scaling and a sum need no kernels of their own.
  float alpha = (float)optNumber(env, a[13], 1.0), beta = (float)optNumber(env, a[14], 0.0);
  int lda = ta ? m : k, ldb = tb ? k : n;
  const void* A = argPtr(env, a[0]); const void* B = argPtr(env, a[1]);
  int inType = CUDA_R_32F_;
  // Modes 2–4 multiply bf16 operands: each fp32 one is rounded into its GEMM scratch first.
  const bool roundA = mode == 2 || mode == 3, roundB = mode == 2 || mode == 4;
  if (roundA || roundB) {
    if (roundA) A = roundedToBf16(A, (sA == 0 ? 1 : batch) * (long long)m * k, 0);
    if (roundB) B = roundedToBf16(B, (sB == 0 ? 1 : batch) * (long long)k * n, 1);
    if (!A || !B) return throwError(env, "cudaMalloc failed for the bf16 GEMM scratch");
    LAUNCH_CHECK();
    inType = CUDA_R_16BF_;
  }
  cublasStatus_t st = gBlas.gemmStridedBatchedEx(gBlas.handle, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha,
                                                 B, inType, ldb, sB, A, inType, lda, sA, &beta,
                                                 argPtr(env, a[2]), CUDA_R_32F_, n, sC, batch, compute, CUBLAS_GEMM_DEFAULT_);
  if (st != 0) return throwError(env, "cublasGemmStridedBatchedEx failed with status " + std::to_string(st));
  return nullptr;
}

// ---------------------------------------------------------------- random fill and 4-bit scales
// A counter-based generator: each element hashes (seed, index), so the values do not depend on
// the launch shape. Used to make benchmark weights on the device (no host round trip).
__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
  z += 0x9E3779B97F4A7C15ull; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; z = (z ^ (z >> 27)) * 0x94D049BB133111EBull; return z ^ (z >> 31);
}
// kind 0: normal(a, b) float32; 1: uniform [a, b) float32; 2: uniformly random 32-bit words.
__global__ void kRandom(void* y, long long n, unsigned long long seed, int kind, float a, float b) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    unsigned long long r = mix64(seed * 0x2545F4914F6CDD1Dull + (unsigned long long)i);
    if (kind == 2) { ((unsigned*)y)[i] = (unsigned)r; continue; }
    float u1 = ((r >> 40) + 0.5f) * (1.0f / 16777216.0f), u2 = (((r >> 16) & 0xFFFFFF) + 0.5f) * (1.0f / 16777216.0f);
    ((float*)y)[i] = kind == 1 ? a + (b - a) * u1 : a + b * sqrtf(-2.f * logf(u1)) * cospif(2.f * u2);
  }
}
static napi_value RandomFill(napi_env env, napi_callback_info info) {  // (y, n, seed, kind, a, b)
  if (!ensureInit(env)) return nullptr;
  auto a = args(env, info, 6);
  long long n = (long long)argNumber(env, a[1]);
  if (n == 0) return nullptr;
  kRandom<<<gridFor(n), 256, 0, gStream>>>(argPtr(env, a[0]), n, (unsigned long long)argNumber(env, a[2]), (int)argNumber(env, a[3]), (float)argNumber(env, a[4]), (float)argNumber(env, a[5]));
  LAUNCH_CHECK(); return nullptr;
}
// Dropout: element i is kept when the top 24 bits of its hash of (seed, i) are at least
// `threshold` (2^24 · rate), then multiplied by `scale` (1 / (1 − rate), float32). The hash is
// lib/nn/dropout.ts's dropoutHash (murmur3's finalizer), so every backend draws the same masks. The
// mask is never stored: the gradient runs this again on dy with the same seed. x may be y.
__host__ __device__ __forceinline__ unsigned fmix32(unsigned h) {
  h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; return h ^ (h >> 16);
}
__global__ void kDropout(const float* x, float* y, long long n, unsigned seedHash, unsigned threshold, float scale) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    unsigned h = fmix32(seedHash + (unsigned)i * 0x9e3779b9u);
    y[i] = (h >> 8) >= threshold ? x[i] * scale : 0.f;
  }
}
static napi_value Dropout(napi_env env, napi_callback_info info) {  // (x, y, n, seed, threshold, scale)
  if (!ensureInit(env)) return nullptr;
  auto a = args(env, info, 6);
  long long n = (long long)argNumber(env, a[2]);
  if (n == 0) return nullptr;
  unsigned seed = (unsigned)(unsigned long long)argNumber(env, a[3]);
  kDropout<<<gridFor(n), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (float*)argPtr(env, a[1]), n, fmix32(seed),
                                            (unsigned)argNumber(env, a[4]), (float)argNumber(env, a[5]));
  LAUNCH_CHECK(); return nullptr;
}
// Double-quantized absmax on the device: scale[b] = nestedCode[byte b of words] · nestedAbsmax[b / nestedBlock] + offset.
__global__ void kNestedScales(const unsigned* words, const float* nestedCode, const float* nestedAbsmax, float* scale, long long nBlocks, long long nestedBlock, float offset) {
  for (long long b = blockIdx.x * (long long)blockDim.x + threadIdx.x; b < nBlocks; b += (long long)gridDim.x * blockDim.x) {
    unsigned q = (words[b >> 2] >> (8 * (b & 3))) & 255u;
    scale[b] = nestedCode[q] * nestedAbsmax[b / nestedBlock] + offset;
  }
}
static napi_value NestedScales(napi_env env, napi_callback_info info) {  // (words, nestedCode, nestedAbsmax, scale, nBlocks, nestedBlock, offset)
  auto a = args(env, info, 7);
  long long n = (long long)argNumber(env, a[4]);
  if (n == 0) return nullptr;
  kNestedScales<<<gridFor(n), 256, 0, gStream>>>((const unsigned*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (const float*)argPtr(env, a[2]), (float*)argPtr(env, a[3]), n, (long long)argNumber(env, a[5]), (float)argNumber(env, a[6]));
  LAUNCH_CHECK(); return nullptr;
}

// ---------------------------------------------------------------- fused cross-entropy and AdamW
__device__ float blockReduce(float v, float* sh, bool isMax) {
  unsigned t = threadIdx.x;
  sh[t] = v; __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] = isMax ? fmaxf(sh[t], sh[t + s]) : sh[t] + sh[t + s];
    __syncthreads();
  }
  float r = sh[0]; __syncthreads();
  return r;
}
// One block per row of logits (N, V): lse[row] = logsumexp(x[row]), loss[row] = (lse − x[row, id]) · keep[row].
__global__ void kCeForward(const float* x, const int* ids, const float* keep, float* loss, float* lse, long long V) {
  extern __shared__ float sh[];
  const float* row = x + blockIdx.x * V;
  float m = -INFINITY;
  for (long long c = threadIdx.x; c < V; c += blockDim.x) m = fmaxf(m, row[c]);
  m = blockReduce(m, sh, true);
  float s = 0.f;
  for (long long c = threadIdx.x; c < V; c += blockDim.x) s += __expf(row[c] - m);
  s = blockReduce(s, sh, false);
  if (threadIdx.x == 0) {
    float l = m + logf(s);
    lse[blockIdx.x] = l;
    loss[blockIdx.x] = keep[blockIdx.x] != 0.f ? (l - row[ids[blockIdx.x]]) * keep[blockIdx.x] : 0.f;
  }
}
// dx[row, c] = (exp(x − lse) − [c == id]) · keep[row] · dy / denom, dy read on the device (no host sync).
__global__ void kCeBackward(const float* x, const int* ids, const float* keep, const float* lse, const float* dy, float invDenom, float* dx, long long V) {
  long long r = blockIdx.x;
  float k = keep[r] * dy[0] * invDenom, l = lse[r];
  int id = ids[r];
  const float* row = x + r * V; float* out = dx + r * V;
  for (long long c = threadIdx.x; c < V; c += blockDim.x) out[c] = k == 0.f ? 0.f : (__expf(row[c] - l) - (c == id ? 1.f : 0.f)) * k;
}
static napi_value CeForward(napi_env env, napi_callback_info info) {  // (x, ids, keep, loss, lse, N, V)
  auto a = args(env, info, 7);
  long long N = (long long)argNumber(env, a[5]), V = (long long)argNumber(env, a[6]);
  if (N == 0) return nullptr;
  kCeForward<<<(unsigned)N, 512, 512 * sizeof(float), gStream>>>((const float*)argPtr(env, a[0]), (const int*)argPtr(env, a[1]), (const float*)argPtr(env, a[2]), (float*)argPtr(env, a[3]), (float*)argPtr(env, a[4]), V);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value CeBackward(napi_env env, napi_callback_info info) {  // (x, ids, keep, lse, dy, invDenom, dx, N, V)
  auto a = args(env, info, 9);
  long long N = (long long)argNumber(env, a[7]), V = (long long)argNumber(env, a[8]);
  if (N == 0) return nullptr;
  kCeBackward<<<(unsigned)N, 512, 0, gStream>>>((const float*)argPtr(env, a[0]), (const int*)argPtr(env, a[1]), (const float*)argPtr(env, a[2]), (const float*)argPtr(env, a[3]), (const float*)argPtr(env, a[4]), (float)argNumber(env, a[5]), (float*)argPtr(env, a[6]), V);
  LAUNCH_CHECK(); return nullptr;
}
// torch's AdamW step for one parameter, new tensors out: p' = p·(1 − lr·wd) − lr/bc1 · m' / (√v'/bc2s + eps).
// 1 − β1 and 1 − β2 arrive formed in double, as torch forms them (1 − 0.999f in float is off by 1.3e-5).
__global__ void kAdamW(const float* p, const float* g, const float* m, const float* v, float* po, float* mo, float* vo, long long n,
                       float omb1, float b2, float omb2, float eps, float decay, float stepSize, float bc2s) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float gi = g[i];
    float mi = m[i] + (gi - m[i]) * omb1;
    float vi = v[i] * b2 + gi * gi * omb2;
    mo[i] = mi; vo[i] = vi;
    po[i] = p[i] * decay - stepSize * (mi / (sqrtf(vi) / bc2s + eps));
  }
}
static napi_value AdamWStep(napi_env env, napi_callback_info info) {  // (p, g, m, v, po, mo, vo, n, lr, b1, b2, eps, decay, stepSize, bc2s)
  auto a = args(env, info, 15);
  long long n = (long long)argNumber(env, a[7]);
  if (n == 0) return nullptr;
  kAdamW<<<gridFor(n), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (const float*)argPtr(env, a[2]), (const float*)argPtr(env, a[3]),
    (float*)argPtr(env, a[4]), (float*)argPtr(env, a[5]), (float*)argPtr(env, a[6]), n, (float)(1.0 - argNumber(env, a[9])), (float)argNumber(env, a[10]),
    (float)(1.0 - argNumber(env, a[10])), (float)argNumber(env, a[11]), (float)argNumber(env, a[12]), (float)argNumber(env, a[13]), (float)argNumber(env, a[14]));
  LAUNCH_CHECK(); return nullptr;
}

// ---------------------------------------------------------------- bf16 <-> float32 copies
__global__ void kFromBf16(const __nv_bfloat16* x, float* y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) y[i] = __bfloat162float(x[i]);
}
static napi_value FromBf16(napi_env env, napi_callback_info info) {  // (x bf16, y float32, n)
  auto a = args(env, info, 3);
  long long n = (long long)argNumber(env, a[2]);
  if (n == 0) return nullptr;
  kFromBf16<<<gridFor(n), 256, 0, gStream>>>((const __nv_bfloat16*)argPtr(env, a[0]), (float*)argPtr(env, a[1]), n);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value ToBf16(napi_env env, napi_callback_info info) {  // (x float32, y bf16, n)
  auto a = args(env, info, 3);
  long long n = (long long)argNumber(env, a[2]);
  if (n == 0) return nullptr;
  launchToBf16((const float*)argPtr(env, a[0]), (__nv_bfloat16*)argPtr(env, a[1]), n);
  LAUNCH_CHECK(); return nullptr;
}
// ---------------------------------------------------------------- fused SwiGLU and RMSNorm
// y = silu(g) · u; backward dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·g·σ(g).
__global__ void kSwiglu(const float* g, const float* u, float* y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float x = g[i], sg = 1.f / (1.f + __expf(-x));
    y[i] = x * sg * u[i];
  }
}
__global__ void kSwigluGrad(const float* g, const float* u, const float* dy, float* dg, float* du, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float x = g[i], sg = 1.f / (1.f + __expf(-x)), d = dy[i];
    dg[i] = d * u[i] * sg * (1.f + x * (1.f - sg));
    du[i] = d * x * sg;
  }
}
// Rotary embedding, forward y[d] = x[d]·cos[d] + sign[d]·x[p]·sin[d] (rotate_half: p the partner of d
// across the half, sign −1 in the first half) or its gradient dx[d] = dy[d]·cos[d] − sign[d]·dy[p]·sin[p], one thread per
// output element. Either side may be (B, T, H, D) (a projection's output, heads not yet split) or
// (B, H, T, D), so the head transpose happens in the same pass. cos/sin are (B, T, D).
__global__ void kRope(const float* x, const float* cs, const float* sn, float* y, long long n, int H, int T, int D,
                      int inBTHD, int outBTHD, int grad) {
  int half = D / 2;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    int d = (int)(i % D); long long r = i / D; long long b; int h, t;
    if (outBTHD) { h = (int)(r % H); r /= H; t = (int)(r % T); b = r / T; }
    else { t = (int)(r % T); r /= T; h = (int)(r % H); b = r / H; }
    long long base = inBTHD ? ((b * T + t) * H + h) * D : ((b * H + h) * T + t) * D;
    long long cb = (b * T + t) * D;
    int p = d < half ? d + half : d - half;
    float sign = d < half ? -1.f : 1.f;
    y[i] = grad ? x[base + d] * cs[cb + d] - sign * x[base + p] * sn[cb + p] : x[base + d] * cs[cb + d] + sign * x[base + p] * sn[cb + d];
  }
}
static napi_value Rope(napi_env env, napi_callback_info info) {  // (x, cos, sin, y, B, H, T, D, inBTHD, outBTHD, grad)
  auto a = args(env, info, 11);
  long long B = (long long)argNumber(env, a[4]); int H = (int)argNumber(env, a[5]), T = (int)argNumber(env, a[6]), D = (int)argNumber(env, a[7]);
  long long n = B * H * T * D;
  if (n == 0) return nullptr;
  kRope<<<gridFor(n), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (const float*)argPtr(env, a[2]), (float*)argPtr(env, a[3]),
                                          n, H, T, D, (int)argNumber(env, a[8]), (int)argNumber(env, a[9]), (int)argNumber(env, a[10]));
  LAUNCH_CHECK(); return nullptr;
}
static napi_value Swiglu(napi_env env, napi_callback_info info) {  // (g, u, y, n)
  auto a = args(env, info, 4);
  long long n = (long long)argNumber(env, a[3]);
  if (n == 0) return nullptr;
  kSwiglu<<<gridFor(n), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (float*)argPtr(env, a[2]), n);
  LAUNCH_CHECK(); return nullptr;
}
static napi_value SwigluGrad(napi_env env, napi_callback_info info) {  // (g, u, dy, dg, du, n)
  auto a = args(env, info, 6);
  long long n = (long long)argNumber(env, a[5]);
  if (n == 0) return nullptr;
  kSwigluGrad<<<gridFor(n), 256, 0, gStream>>>((const float*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (const float*)argPtr(env, a[2]), (float*)argPtr(env, a[3]), (float*)argPtr(env, a[4]), n);
  LAUNCH_CHECK(); return nullptr;
}
// One block per row: r = rsqrt(mean(x²) + eps), y = x·r·w; r is kept for the backward pass.
__global__ void kRmsNorm(const float* x, const float* w, float* y, float* rstd, long long d, float eps) {
  extern __shared__ float sh[];
  const float* row = x + blockIdx.x * d; float* out = y + blockIdx.x * d;
  float s = 0.f;
  for (long long c = threadIdx.x; c < d; c += blockDim.x) s += row[c] * row[c];
  s = blockReduce(s, sh, false);
  float r = rsqrtf(s / d + eps);
  for (long long c = threadIdx.x; c < d; c += blockDim.x) out[c] = row[c] * r * w[c];
  if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}
// dx = r·(dy·w) − x·r³·Σ(dy·w·x)/d.
__global__ void kRmsNormGrad(const float* x, const float* w, const float* rstd, const float* dy, float* dx, long long d) {
  extern __shared__ float sh[];
  long long off = blockIdx.x * d;
  float s = 0.f;
  for (long long c = threadIdx.x; c < d; c += blockDim.x) s += dy[off + c] * w[c] * x[off + c];
  s = blockReduce(s, sh, false);
  float r = rstd[blockIdx.x], k = r * r * r * s / d;
  for (long long c = threadIdx.x; c < d; c += blockDim.x) dx[off + c] = r * dy[off + c] * w[c] - x[off + c] * k;
}
static napi_value RmsNorm(napi_env env, napi_callback_info info) {  // (x, w, y, rstd, rows, d, eps)
  auto a = args(env, info, 7);
  long long rows = (long long)argNumber(env, a[4]);
  if (rows == 0) return nullptr;
  kRmsNorm<<<(unsigned)rows, 256, 256 * sizeof(float), gStream>>>((const float*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (float*)argPtr(env, a[2]), (float*)argPtr(env, a[3]), (long long)argNumber(env, a[5]), (float)argNumber(env, a[6]));
  LAUNCH_CHECK(); return nullptr;
}
static napi_value RmsNormGrad(napi_env env, napi_callback_info info) {  // (x, w, rstd, dy, dx, rows, d)
  auto a = args(env, info, 7);
  long long rows = (long long)argNumber(env, a[5]);
  if (rows == 0) return nullptr;
  kRmsNormGrad<<<(unsigned)rows, 256, 256 * sizeof(float), gStream>>>((const float*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (const float*)argPtr(env, a[2]), (const float*)argPtr(env, a[3]), (float*)argPtr(env, a[4]), (long long)argNumber(env, a[6]));
  LAUNCH_CHECK(); return nullptr;
}

// ---------------------------------------------------------------- attention: scale + additive mask + softmax
// scores (B, H, T, S) rows; mask (B or 1, T, S) shared by the H heads. One block per row.
__global__ void kMaskedSoftmax(const float* x, const float* mask, float* y, long long H, long long T, long long S, float scale, int maskBatched) {
  extern __shared__ float sh[];
  long long row = blockIdx.x, t = row % T, b = maskBatched ? row / (H * T) : 0;
  const float* xr = x + row * S; const float* mr = mask + (b * T + t) * S; float* yr = y + row * S;
  float m = -INFINITY;
  for (long long c = threadIdx.x; c < S; c += blockDim.x) m = fmaxf(m, xr[c] * scale + mr[c]);
  m = blockReduce(m, sh, true);
  float sum = 0.f;
  for (long long c = threadIdx.x; c < S; c += blockDim.x) { float e = __expf(xr[c] * scale + mr[c] - m); yr[c] = e; sum += e; }
  sum = blockReduce(sum, sh, false);
  float inv = 1.f / sum;
  for (long long c = threadIdx.x; c < S; c += blockDim.x) yr[c] *= inv;
}
// dx = p · (dy − Σ dy·p) · scale per row.
__global__ void kSoftmaxGrad(const float* p, const float* dy, float* dx, long long S, float scale) {
  extern __shared__ float sh[];
  long long off = blockIdx.x * S;
  float s = 0.f;
  for (long long c = threadIdx.x; c < S; c += blockDim.x) s += dy[off + c] * p[off + c];
  s = blockReduce(s, sh, false);
  for (long long c = threadIdx.x; c < S; c += blockDim.x) dx[off + c] = p[off + c] * (dy[off + c] - s) * scale;
}
// The same with the row in registers (ITEMS values per thread, S ≤ ITEMS·blockDim): x read once,
// y written once, so y may be x (in place). y16, when given, gets a bf16 copy of y: the A operand
// of the next GEMM (matmul mode 4), so that GEMM does not round y in a pass of its own.
template <int ITEMS>
__global__ void kMaskedSoftmaxReg(const float* x, const float* mask, float* y, __nv_bfloat16* y16, long long H, long long T, long long S, float scale, int maskBatched) {
  extern __shared__ float sh[];
  long long row = blockIdx.x, t = row % T, b = maskBatched ? row / (H * T) : 0;
  const float* xr = x + row * S; const float* mr = mask + (b * T + t) * S;
  float v[ITEMS], m = -INFINITY;
#pragma unroll
  for (int i = 0; i < ITEMS; i++) {
    long long c = threadIdx.x + (long long)i * blockDim.x;
    v[i] = c < S ? xr[c] * scale + mr[c] : -INFINITY;
    m = fmaxf(m, v[i]);
  }
  m = blockReduce(m, sh, true);
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < ITEMS; i++) {
    long long c = threadIdx.x + (long long)i * blockDim.x;
    v[i] = c < S ? __expf(v[i] - m) : 0.f;
    sum += v[i];
  }
  sum = blockReduce(sum, sh, false);
  float inv = 1.f / sum;
#pragma unroll
  for (int i = 0; i < ITEMS; i++) {
    long long c = threadIdx.x + (long long)i * blockDim.x;
    if (c >= S) continue;
    float p = v[i] * inv;
    y[row * S + c] = p;
    if (y16) y16[row * S + c] = __float2bfloat16(p);
  }
}
static napi_value MaskedSoftmax(napi_env env, napi_callback_info info) {  // (x, mask, y, B, H, T, S, scale, maskBatched[, y16 bf16 copy or 0])
  size_t argc = 10; napi_value a[10]; napi_get_cb_info(env, info, &argc, a, nullptr, nullptr);
  long long B = (long long)argNumber(env, a[3]), H = (long long)argNumber(env, a[4]), T = (long long)argNumber(env, a[5]), S = (long long)argNumber(env, a[6]);
  if (B * H * T == 0) return nullptr;
  __nv_bfloat16* y16 = argc > 9 ? (__nv_bfloat16*)argPtr(env, a[9]) : nullptr;
  const float* x = (const float*)argPtr(env, a[0]); const float* mask = (const float*)argPtr(env, a[1]); float* y = (float*)argPtr(env, a[2]);
  float scale = (float)argNumber(env, a[7]); int batched = (int)argNumber(env, a[8]);
  unsigned rows = (unsigned)(B * H * T); size_t shb = 256 * sizeof(float);
  if (S <= 256) kMaskedSoftmaxReg<1><<<rows, 256, shb, gStream>>>(x, mask, y, y16, H, T, S, scale, batched);
  else if (S <= 512) kMaskedSoftmaxReg<2><<<rows, 256, shb, gStream>>>(x, mask, y, y16, H, T, S, scale, batched);
  else if (S <= 1024) kMaskedSoftmaxReg<4><<<rows, 256, shb, gStream>>>(x, mask, y, y16, H, T, S, scale, batched);
  else if (S <= 2048) kMaskedSoftmaxReg<8><<<rows, 256, shb, gStream>>>(x, mask, y, y16, H, T, S, scale, batched);
  else {
    kMaskedSoftmax<<<rows, 256, shb, gStream>>>(x, mask, y, H, T, S, scale, batched);
    if (y16) launchToBf16(y, y16, (long long)rows * S);
  }
  LAUNCH_CHECK(); return nullptr;
}
static napi_value SoftmaxGrad(napi_env env, napi_callback_info info) {  // (p, dy, dx, rows, S, scale)
  auto a = args(env, info, 6);
  long long rows = (long long)argNumber(env, a[3]);
  if (rows == 0) return nullptr;
  kSoftmaxGrad<<<(unsigned)rows, 256, 256 * sizeof(float), gStream>>>((const float*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]), (float*)argPtr(env, a[2]), (long long)argNumber(env, a[4]), (float)argNumber(env, a[5]));
  LAUNCH_CHECK(); return nullptr;
}

#include "adamw8bit.cuh"
#include "matmul4bit.cuh"
#include "flash_attention.cuh"

#define EXPORT(name, fn) do { napi_value f; napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f); napi_set_named_property(env, exports, name, f); } while (0)
static napi_value Init(napi_env env, napi_value exports) {
  EXPORT("info", Info); EXPORT("alloc", Alloc); EXPORT("free", Free); EXPORT("emptyCache", EmptyCache);
  EXPORT("memoryStats", MemoryStats); EXPORT("resetPeak", ResetPeak); EXPORT("upload", Upload); EXPORT("download", Download);
  EXPORT("sync", Sync); EXPORT("unary", Unary); EXPORT("binary", Binary); EXPORT("reduceRows", ReduceRows);
  EXPORT("softmaxRows", SoftmaxRows); EXPORT("transpose", Transpose); EXPORT("fill", Fill); EXPORT("copy", Copy); EXPORT("matmul", Matmul); EXPORT("toBf16", ToBf16); EXPORT("fromBf16", FromBf16); EXPORT("rope", Rope);
  EXPORT("strided", Strided); EXPORT("copy2d", Copy2d); EXPORT("argmaxRows", ArgmaxRows); EXPORT("joinRows", JoinRows); EXPORT("gather", Gather); EXPORT("segmentSum", SegmentSum);
  EXPORT("oneHot", OneHot); EXPORT("select", Select); EXPORT("padTile", PadTile); EXPORT("dequant4", Dequant4); EXPORT("intToFloat", IntToFloat);
  EXPORT("randomFill", RandomFill); EXPORT("dropout", Dropout); EXPORT("ceForward", CeForward); EXPORT("ceBackward", CeBackward); EXPORT("adamwStep", AdamWStep); EXPORT("matmul4", Matmul4); EXPORT("float16Overflow", Float16Overflow);
  EXPORT("adamw8bitStep", AdamW8bitStep);
  EXPORT("swiglu", Swiglu); EXPORT("swigluGrad", SwigluGrad); EXPORT("rmsNorm", RmsNorm); EXPORT("rmsNormGrad", RmsNormGrad);
  EXPORT("maskedSoftmax", MaskedSoftmax); EXPORT("softmaxGrad", SoftmaxGrad); EXPORT("nestedScales", NestedScales);
  EXPORT("flashForward", FlashForward); EXPORT("flashBackward", FlashBackward);
  return exports;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

// 4-bit weight × activations on 16-bit tensor cores (#included by addon.cu after its helpers):
// bitsandbytes' Linear4bit with bnb_4bit_compute_dtype bfloat16 or float16. The weight (rows = out,
// cols = in), stored as 4-bit codes, is dequantized straight to the 16-bit type in its own (out, in)
// layout (coalesced, no fp32 copy, no transpose); the activations are rounded to the same type;
// cuBLAS multiplies with fp32 accumulate and writes fp32. Each kernel is a template on that type.
// A forward with a few rows of activations (decoding) skips the 16-bit copy: kGemv4 reads the codes
// and multiplies in one kernel, with the same roundings.
//
// float16 tops out at 65504: a finite float32 of magnitude ≥ 65520 rounds to ±inf (bitsandbytes'
// casts do the same). Such values are not clamped; the kernels raise a flag in host-mapped memory
// instead (float16Overflow() reads it), so the library can say what happened. bfloat16 has
// float32's range and never raises it. The output stays float32, so unlike bitsandbytes (whose
// fp16 GEMM writes fp16) the sums themselves do not overflow.
#include <cuda_fp16.h>
#include <cfloat>

template <typename T> struct Type16;
template <> struct Type16<__nv_bfloat16> {
  static constexpr int cudaType = CUDA_R_16BF_;
  static constexpr bool canOverflow = false;
  static __device__ __forceinline__ __nv_bfloat16 round(float v) { return __float2bfloat16(v); }
  // Two values in one 32-bit word, lo at the lower address.
  static __device__ __forceinline__ unsigned pair(float lo, float hi) {
    __nv_bfloat162 p = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&p);
  }
  // v rounded to bfloat16 and back: the value the GEMM multiplies.
  static __device__ __forceinline__ float rounded(float v) { return __bfloat162float(__float2bfloat16(v)); }
  // The two values of a pair() word as floats.
  static __device__ __forceinline__ float2 widen(unsigned w) { return __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&w)); }
};
template <> struct Type16<__half> {
  static constexpr int cudaType = CUDA_R_16F_;
  static constexpr bool canOverflow = true;
  static __device__ __forceinline__ __half round(float v) { return __float2half_rn(v); }
  static __device__ __forceinline__ unsigned pair(float lo, float hi) {
    __half2 p = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&p);
  }
  static __device__ __forceinline__ float rounded(float v) { return __half2float(__float2half_rn(v)); }
  static __device__ __forceinline__ float2 widen(unsigned w) { return __half22float2(*reinterpret_cast<__half2*>(&w)); }
};

// True for a finite float that float16's round-to-nearest turns into ±inf (65504 is the largest
// half; halfway to the next power of two, 65520, rounds up).
__device__ __forceinline__ bool roundsToHalfInf(float v) {
  float a = fabsf(v);
  return a >= 65520.f && a <= FLT_MAX;
}

// Overflow flags, host-mapped so the host reads them without waiting for the stream:
// [0] an activation rounded to ±inf, [1] a dequantized weight value did. Set by the kernels, never
// cleared by them.
static unsigned* gHalfOverflowHost = nullptr;
static unsigned* gHalfOverflowDevice = nullptr;
static unsigned* halfOverflowFlags() {
  if (gHalfOverflowDevice) return gHalfOverflowDevice;
  void* host = nullptr;
  if (cudaHostAlloc(&host, 2 * sizeof(unsigned), cudaHostAllocMapped) != cudaSuccess) return nullptr;
  memset(host, 0, 2 * sizeof(unsigned));
  void* dev = nullptr;
  if (cudaHostGetDevicePointer(&dev, host, 0) != cudaSuccess) { cudaFreeHost(host); return nullptr; }
  gHalfOverflowHost = (unsigned*)host;
  gHalfOverflowDevice = (unsigned*)dev;
  return gHalfOverflowDevice;
}

// Activations rounded to float16 (bfloat16 takes launchToBf16); overflow[0] set on a value that became ±inf.
__global__ void kToHalf(const float* x, __half* y, long long n, unsigned* overflow) {
  bool over = false;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    y[i] = __float2half_rn(x[i]);
    over |= roundsToHalfInf(x[i]);
  }
  if (over) *(volatile unsigned*)overflow = 1u;
}
// Four values per thread: one 16-byte load, one 8-byte store (x and y 16- and 8-byte aligned, n4 = n / 4).
__global__ void kToHalfx4(const float4* x, uint2* y, unsigned n4, unsigned* overflow) {
  bool over = false;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
    float4 v = x[i];
    y[i] = make_uint2(Type16<__half>::pair(v.x, v.y), Type16<__half>::pair(v.z, v.w));
    over |= roundsToHalfInf(v.x) | roundsToHalfInf(v.y) | roundsToHalfInf(v.z) | roundsToHalfInf(v.w);
  }
  if (over) *(volatile unsigned*)overflow = 1u;
}
template <typename T> static void launchRound16(const float* x, T* y, long long n, unsigned* overflow);
template <> void launchRound16(const float* x, __nv_bfloat16* y, long long n, unsigned*) { launchToBf16(x, y, n); }
template <> void launchRound16(const float* x, __half* y, long long n, unsigned* overflow) {
  if (n % 4 == 0 && n / 4 < (1ll << 31) && ((uintptr_t)x & 15) == 0 && ((uintptr_t)y & 7) == 0)
    kToHalfx4<<<gridFor(n / 4), 256, 0, gStream>>>((const float4*)x, (uint2*)y, (unsigned)(n / 4), overflow);
  else
    kToHalf<<<gridFor(n), 256, 0, gStream>>>(x, y, n, overflow);
}

// The whole weight, n elements in (rows, cols) order, one packed word per thread (any width).
template <typename T>
__global__ void kDequant4To16(const unsigned* packed, const float* code, const float* scale, T* y, long long n, int shift, unsigned* overflow) {
  bool over = false;
  for (long long w = blockIdx.x * (long long)blockDim.x + threadIdx.x; w * 8 < n; w += (long long)gridDim.x * blockDim.x) {
    unsigned word = packed[w];
    long long e0 = w * 8;
    float s = scale[e0 >> shift];  // blocks are ≥ 32 elements and multiples of 8: one scale per word
#pragma unroll
    for (int j = 0; j < 8; j++) {
      long long e = e0 + j;
      if (e >= n) continue;
      float v = code[(word >> (8 * (j >> 1) + ((j & 1) == 0 ? 4 : 0))) & 15u] * s;
      y[e] = Type16<T>::round(v);
      if (Type16<T>::canOverflow) over |= roundsToHalfInf(v);
    }
  }
  if (over) *(volatile unsigned*)(overflow + 1) = 1u;
}
// A tile of the weight, rows [r0, r0 + nr) × columns [c0, c0 + cc) of (rows, cols), dequantized to
// a contiguous (nr, cc) block of T: one packed word per thread, its 8 values written as one 16-byte
// store; the 16-entry code sits in shared memory. cols and cc are multiples of 8, so a word never
// straddles a scale block (blocks are ≥ 32 elements and multiples of 8).
template <typename T>
__global__ void kDequant4To16Tile(const unsigned* packed, const float* code, const float* scale, uint4* y,
                                  long long r0, unsigned nr, long long cols, long long c0, unsigned cc, int shift, unsigned* overflow) {
  __shared__ float table[16];
  if (threadIdx.x < 16) table[threadIdx.x] = code[threadIdx.x];
  __syncthreads();
  bool over = false;
  unsigned wordsPerRow = cc / 8, total = nr * wordsPerRow;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    unsigned r = i / wordsPerRow, j = i - r * wordsPerRow;
    long long e = (r0 + r) * cols + c0 + 8ll * j;
    unsigned word = packed[e >> 3];
    float s = scale[e >> shift];
    unsigned out[4];
#pragma unroll
    for (int b = 0; b < 4; b++) {  // byte b holds elements 2b (high nibble) and 2b + 1 (low nibble)
      unsigned byte = (word >> (8 * b)) & 255u;
      float lo = table[byte >> 4] * s, hi = table[byte & 15u] * s;
      out[b] = Type16<T>::pair(lo, hi);
      if (Type16<T>::canOverflow) over |= roundsToHalfInf(lo) | roundsToHalfInf(hi);
    }
    y[i] = make_uint4(out[0], out[1], out[2], out[3]);
  }
  if (over) *(volatile unsigned*)(overflow + 1) = 1u;
}

// Few rows of x (decoding: one token per sequence): y (N, rows) = x (N, cols) · Wᵀ straight from the
// packed codes, no 16-bit copy of W and no GEMM. Each block first rounds x to T into shared memory
// (the flag [0] as kToHalf sets it), then each warp takes whole rows of W: lane l reads words
// l, l + 32, … of the row (128 contiguous bytes a warp per load, four loads in flight), dequantizes
// each value to T as the tile kernel does (flag [1]), and adds the products in fp32; the warp's
// partial sums are added by shuffles. The products of two T values are exact in fp32, so the result
// differs from the GEMM path's only in the order of the fp32 sums. cols is a multiple of 8 (a row
// starts on a word) and N ≤ kGemvMaxRows; N·cols values of T fit in kGemvSmemBytes.
constexpr int kGemvMaxRows = 8;
constexpr int kGemvWarps = 8;
constexpr size_t kGemvSmemBytes = 48 * 1024;
template <typename T>
__global__ void __launch_bounds__(kGemvWarps * 32) kGemv4(const float* x, const unsigned* packed, const float* code, const float* scale, float* y,
                                                          int N, unsigned rows, unsigned cols, int shift, unsigned* overflow) {
  extern __shared__ uint4 xsRaw[];
  T* xs = reinterpret_cast<T*>(xsRaw);  // (N, cols)
  __shared__ float table[16];
  if (threadIdx.x < 16) table[threadIdx.x] = code[threadIdx.x];
  bool overX = false, overW = false;
  for (unsigned i = threadIdx.x; i < N * cols; i += blockDim.x) {
    float v = x[i];
    xs[i] = Type16<T>::round(v);
    if (Type16<T>::canOverflow) overX |= roundsToHalfInf(v);
  }
  __syncthreads();
  const unsigned lane = threadIdx.x & 31, wordsPerRow = cols / 8;
  for (unsigned r = blockIdx.x * kGemvWarps + threadIdx.x / 32; r < rows; r += gridDim.x * kGemvWarps) {
    const unsigned* row = packed + (size_t)r * wordsPerRow;
    const long long e0 = (long long)r * cols;
    float acc[kGemvMaxRows];
#pragma unroll
    for (int n = 0; n < kGemvMaxRows; n++) acc[n] = 0.f;
    for (unsigned j0 = lane; j0 < wordsPerRow; j0 += 4 * 32) {
      unsigned word[4]; float s[4];
#pragma unroll
      for (int u = 0; u < 4; u++) {
        unsigned j = j0 + 32 * u;
        word[u] = j < wordsPerRow ? __ldg(row + j) : 0u;
        s[u] = j < wordsPerRow ? __ldg(scale + ((e0 + 8ll * j) >> shift)) : 0.f;
      }
#pragma unroll
      for (int u = 0; u < 4; u++) {
        unsigned j = j0 + 32 * u;
        if (j >= wordsPerRow) break;
        float w[8];
#pragma unroll
        for (int b = 0; b < 4; b++) {  // byte b holds elements 2b (high nibble) and 2b + 1 (low nibble)
          unsigned byte = (word[u] >> (8 * b)) & 255u;
          float lo = table[byte >> 4] * s[u], hi = table[byte & 15u] * s[u];
          w[2 * b] = Type16<T>::rounded(lo);
          w[2 * b + 1] = Type16<T>::rounded(hi);
          if (Type16<T>::canOverflow) overW |= roundsToHalfInf(lo) | roundsToHalfInf(hi);
        }
#pragma unroll
        for (int n = 0; n < kGemvMaxRows; n++) {
          if (n >= N) break;
          uint4 xv = *reinterpret_cast<const uint4*>(xs + (size_t)n * cols + 8 * j);
          float2 x01 = Type16<T>::widen(xv.x), x23 = Type16<T>::widen(xv.y), x45 = Type16<T>::widen(xv.z), x67 = Type16<T>::widen(xv.w);
          float a = acc[n];
          a = fmaf(x01.x, w[0], a); a = fmaf(x01.y, w[1], a); a = fmaf(x23.x, w[2], a); a = fmaf(x23.y, w[3], a);
          a = fmaf(x45.x, w[4], a); a = fmaf(x45.y, w[5], a); a = fmaf(x67.x, w[6], a); a = fmaf(x67.y, w[7], a);
          acc[n] = a;
        }
      }
    }
#pragma unroll
    for (int n = 0; n < kGemvMaxRows; n++) {
      if (n >= N) break;
      float a = acc[n];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) a += __shfl_xor_sync(0xffffffffu, a, o);
      if (lane == 0) y[(size_t)n * rows + r] = a;
    }
  }
  if (overX) *(volatile unsigned*)overflow = 1u;
  if (overW) *(volatile unsigned*)(overflow + 1) = 1u;
}

// Rows of x up to which the forward takes kGemv4 instead of dequantize + GEMM: QLORA_TS_CUDA_GEMV_ROWS
// (0 turns it off, at most kGemvMaxRows), default kGemvDefaultRows.
constexpr int kGemvDefaultRows = 4;
static int gemvMaxRows() {
  const char* v = getenv("QLORA_TS_CUDA_GEMV_ROWS");
  int n = v ? atoi(v) : kGemvDefaultRows;
  return n < 0 ? 0 : n > kGemvMaxRows ? kGemvMaxRows : n;
}

static int gemvGrid(unsigned rows, size_t smemBytes) {
  static int sms = 0;
  if (!sms && cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess) sms = 1;
  int perSm = (int)((200 * 1024) / (smemBytes + 1024));  // blocks resident per SM, bounded by shared memory
  perSm = perSm < 1 ? 1 : perSm > 8 ? 8 : perSm;
  long long want = ((long long)rows + kGemvWarps - 1) / kGemvWarps, most = (long long)sms * perSm;
  return (int)(want < most ? want : most);
}

// Weight elements dequantized per GEMM: 2^26 (128 MiB of 16-bit values) unless QLORA_TS_CUDA_DEQUANT_CHUNK
// names another count. A larger weight is multiplied in slices of output columns, so its 16-bit copy
// never exists whole. Each slice adds a GEMM with a partly filled last wave, so the default holds
// the 8B shape's largest weight (14336 × 4096) whole: an 8B 4 × 512 checkpointed step (H200,
// bench/cuda/results/2026-11-29-s4-chunk) did 8,272–8,327 tok/s at 7.91 GiB with 2^24 (3 slices),
// 8,561 at 7.93 with 2^25, 8,615–8,692 at 7.99 with 2^26. A 70B MLP weight (28672 × 8192) takes 4.
static long long dequantChunkElems() {
  const char* v = getenv("QLORA_TS_CUDA_DEQUANT_CHUNK");
  long long c = v ? atoll(v) : 0;
  return c > 0 ? c : (1ll << 26);
}

// gradInput false: y (N, rows) = x (N, cols) · Wᵀ; true: y (N, cols) = x (N, rows) · W, W (rows, cols) in
// 4-bit codes, T the compute type. overflow: the flags for float16, unused for bfloat16.
template <typename T>
static napi_value matmul4As(napi_env env, const float* x, const unsigned* packed, const float* code, const float* scale, float* y,
                            long long N, long long rows, long long cols, int shift, bool gradInput, unsigned* overflow) {
  long long k = gradInput ? rows : cols, nOut = gradInput ? cols : rows;
  size_t gemvSmem = (size_t)(N * cols) * sizeof(T);
  if (!gradInput && N <= gemvMaxRows() && cols % 8 == 0 && gemvSmem <= kGemvSmemBytes && rows < (1ll << 31)) {
    kGemv4<T><<<gemvGrid((unsigned)rows, gemvSmem), kGemvWarps * 32, gemvSmem, gStream>>>(x, packed, code, scale, y, (int)N, (unsigned)rows, (unsigned)cols, shift, overflow);
    LAUNCH_CHECK();
    return nullptr;
  }
  // Slices: forward, nr rows of W (columns [r0, r0 + nr) of y); input gradient, nc columns of W (columns of y).
  // Each slice is a multiple of 8 elements wide, balanced over ceil(rows·cols / chunk) slices.
  long long slices = cols % 8 == 0 ? (rows * cols + dequantChunkElems() - 1) / dequantChunkElems() : 1;
  long long span = gradInput ? cols : rows;
  long long step = slices <= 1 ? span : ((span + slices - 1) / slices + 7) / 8 * 8;
  if (step >= span) step = span;
  long long sliceElems = step * (gradInput ? rows : cols);
  void* x16 = scratch(0, (size_t)(N * k) * 2); void* w16 = scratch(1, (size_t)(cols % 8 == 0 ? sliceElems : rows * cols) * 2);
  if (!x16 || !w16) return throwError(env, "cudaMalloc failed for the 4-bit GEMM scratch");
  launchRound16<T>(x, (T*)x16, N * k, overflow);
  float alpha = 1.f, beta = 0.f;
  for (long long s0 = 0; s0 < span; s0 += step) {
    long long w = span - s0 < step ? span - s0 : step;
    if (cols % 8 != 0)  // odd widths: the whole weight at once, element by element
      kDequant4To16<T><<<gridFor((rows * cols + 7) / 8), 256, 0, gStream>>>(packed, code, scale, (T*)w16, rows * cols, shift, overflow);
    else if (gradInput)
      kDequant4To16Tile<T><<<gridFor(rows * w / 8), 256, 0, gStream>>>(packed, code, scale, (uint4*)w16, 0, (unsigned)rows, cols, s0, (unsigned)w, shift, overflow);
    else
      kDequant4To16Tile<T><<<gridFor(w * cols / 8), 256, 0, gStream>>>(packed, code, scale, (uint4*)w16, s0, (unsigned)w, cols, 0, (unsigned)cols, shift, overflow);
    LAUNCH_CHECK();
    // Row-major y[:, s0 : s0 + w] (ld nOut) = x · op(slice); cuBLAS (column-major) computes its transpose:
    // forward op(slice)ᵀ = slice (w, cols) read transposed; input gradient slice (rows, w) as it is.
    const int type = Type16<T>::cudaType;
    cublasStatus_t st = gBlas.gemmStridedBatchedEx(gBlas.handle, gradInput ? CUBLAS_OP_N : CUBLAS_OP_T, CUBLAS_OP_N, (int)w, (int)N, (int)k, &alpha,
                                                   w16, type, gradInput ? (int)w : (int)k, 0, x16, type, (int)k, 0, &beta,
                                                   y + s0, CUDA_R_32F_, (int)nOut, 0, 1, CUBLAS_COMPUTE_32F_, CUBLAS_GEMM_DEFAULT_);
    if (st != 0) return throwError(env, "cublasGemmStridedBatchedEx (4-bit) failed with status " + std::to_string(st));
  }
  return nullptr;
}

// (x, packed, code, scale, y, N, rows, cols, shift, gradInput[, dtype]): dtype 0 (default) bfloat16, 1 float16.
static napi_value Matmul4(napi_env env, napi_callback_info info) {
  if (!ensureInit(env)) return nullptr;
  auto a = args(env, info, 11);
  long long N = (long long)argNumber(env, a[5]), rows = (long long)argNumber(env, a[6]), cols = (long long)argNumber(env, a[7]);
  int shift = (int)argNumber(env, a[8]); bool gradInput = argNumber(env, a[9]) != 0;
  int dtype = (int)optNumber(env, a[10], 0);
  if (N * (gradInput ? cols : rows) == 0) return nullptr;
  const float* x = (const float*)argPtr(env, a[0]); const unsigned* packed = (const unsigned*)argPtr(env, a[1]);
  const float* code = (const float*)argPtr(env, a[2]); const float* scale = (const float*)argPtr(env, a[3]);
  float* y = (float*)argPtr(env, a[4]);
  if (dtype == 0) return matmul4As<__nv_bfloat16>(env, x, packed, code, scale, y, N, rows, cols, shift, gradInput, nullptr);
  if (dtype != 1) return throwError(env, "matmul4: dtype must be 0 (bfloat16) or 1 (float16), got " + std::to_string(dtype));
  unsigned* overflow = halfOverflowFlags();
  if (!overflow) return throwError(env, "cudaHostAlloc failed for the float16 overflow flags");
  return matmul4As<__half>(env, x, packed, code, scale, y, N, rows, cols, shift, gradInput, overflow);
}

// () → bits: 1 an activation, 2 a dequantized weight value rounded to ±inf in a float16 Matmul4 since
// the last reset. Read without waiting: kernels still queued have not set theirs yet. (reset) zeroes
// them; call sync() first, or a kernel in flight may set its flag before or after the reset.
static napi_value Float16Overflow(napi_env env, napi_callback_info info) {
  auto a = args(env, info, 1);
  unsigned bits = 0;
  if (gHalfOverflowHost) {
    volatile unsigned* f = gHalfOverflowHost;
    bits = (f[0] ? 1u : 0u) | (f[1] ? 2u : 0u);
    if (optNumber(env, a[0], 0) != 0) { f[0] = 0; f[1] = 0; }
  }
  return num(env, bits);
}

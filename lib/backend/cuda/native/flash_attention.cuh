// Flash-style attention (included by addon.cu): softmax(q·kᵀ·scale + mask)·v with grouped-query
// heads, never holding the (T, S) scores in device memory. Inputs are float32 in global memory,
// rounded to bf16 as they are staged in shared memory; products run on bf16 tensor cores
// (mma.sync m16n8k16) with fp32 accumulation.
//
// K and V are first rounded into contiguous bf16 copies (B, Hkv, Sp, D), Sp = S rounded up to 64
// keys, zeros past S: the kernels copy whole 64-key tiles from them with cp.async. Fragments come
// from shared memory by ldmatrix (.trans for the operands read along their rows).
// Forward: one block of 4 warps per (batch, head, 64 query rows), each warp 16 rows; a loop over
// blocks of 64 keys keeps a running max and sum per row (online softmax); two stages: the next
// block's K, V and (64, 64) mask tiles are copied while this one multiplies. Writes O and, per row,
// the max m of the scaled masked scores and 1/Σexp(score − m): the backward pass rebuilds P from
// them. (A logsumexp alone would lose Σexp for a row whose every key is masked: −1e30 + log Σ
// rounds to −1e30 in float32.)
// Backward (FlashAttention-2): Delta = rowsum(dO ∘ O) first; then one block per (batch, query
// head, 64 keys) loops over the blocks of 32 query rows that see those keys (their Q, dO, mask
// tile and row statistics prefetched by cp.async while the previous block multiplies), rebuilds P,
// accumulates dV = Pᵀ·dO and dK = dSᵀ·Q·scale in registers and writes dS (bf16) to a (B, H, T, Sp)
// scratch; dQ = scale·dS·K then comes from a third kernel, per 64 query rows over the key blocks
// they see: no dQ atomics (they held the backward at 0.41–0.45 ms at 8B; 0.36 ms with dQ as one
// cuBLAS GEMM over the whole (T, S) dS, H200 flash2 call 1). At the end each
// block adds its head's share of dK and dV (a group's query heads share one kv head) to zeroed
// outputs with fp32 atomics (float2 on sm_90). One block per query head rather than per kv head:
// 4× the blocks at the benchmarks' shapes, so the causal imbalance between key blocks spreads over
// the whole GPU.
//
// Any (b, head, row) view: element d of row t of head h in batch b sits at p[b·sb + h·sh + t·st + d],
// so q, k, v, O, dO, dK and dV may each be (B, heads, T, D) or (B, T, heads·D) (no transposes).
#pragma once

namespace flash {

constexpr int kThreads = 128;  // 4 warps
constexpr int kRowsFwd = 64;   // query rows per forward block (16 per warp)
constexpr int kKeys = 64;      // keys per forward step and per backward block (16 per warp)
constexpr int kRowsBwd = 32;   // query rows per backward step
constexpr int kPad = 8;        // bf16 padding per shared-memory row: fragment loads fall in distinct banks
constexpr int kMaskLdFwd = kKeys + 8;  // float row of the forward's mask tile: float2 reads fall in distinct banks
constexpr int kMaskLdBwd = kKeys + 4;  // the backward reads a column of it per instruction

struct View { const float* p; long long sb, sh, st; };
struct OutView { float* p; long long sb, sh, st; };
struct Dims { int B, H, Hkv, T, S, maskBatched, causal; float scale; };

__device__ __forceinline__ void mma(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ unsigned pack(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<unsigned*>(&v);
}

// Rows [r0, r0 + ROWS) of head h of batch b into a (ROWS, D + kPad) bf16 tile; rows at or past
// `limit` are zeros. 16-byte loads (D is a multiple of 4 and views are 16-byte aligned), eight of
// a thread's loads issued before their stores so that their latencies overlap (more would spill
// next to the forward's accumulators at D = 128).
template <int D, int ROWS>
__device__ __forceinline__ void stage(__nv_bfloat16* dst, const View v, int b, int h, int r0, int limit) {
  constexpr int kVec = D / 4, kPer = ROWS * kVec / kThreads, kBatch = kPer < 8 ? kPer : 8;
  static_assert(ROWS * kVec % kThreads == 0 && kPer % kBatch == 0, "whole rows per pass");
  const float* base = v.p + b * v.sb + h * v.sh;
#pragma unroll
  for (int u0 = 0; u0 < kPer; u0 += kBatch) {
    float4 x[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; u++) {
      const int i = threadIdx.x + (u0 + u) * kThreads, r = i / kVec, c = (i % kVec) * 4;
      x[u] = r0 + r < limit ? *reinterpret_cast<const float4*>(base + (long long)(r0 + r) * v.st + c) : make_float4(0.f, 0.f, 0.f, 0.f);
    }
#pragma unroll
    for (int u = 0; u < kBatch; u++) {
      const int i = threadIdx.x + (u0 + u) * kThreads, r = i / kVec, c = (i % kVec) * 4;
      *reinterpret_cast<uint2*>(dst + r * (D + kPad) + c) = make_uint2(pack(x[u].x, x[u].y), pack(x[u].z, x[u].w));
    }
  }
}

__device__ __forceinline__ void cpAsync16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"((unsigned)__cvta_generic_to_shared(smem)), "l"(gmem));
}
__device__ __forceinline__ void cpAsync4(void* smem, const void* gmem) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"((unsigned)__cvta_generic_to_shared(smem)), "l"(gmem));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cpAsyncWait() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

// Rows [r0, r0 + ROWS) of head h of batch b copied as float32 into a (ROWS, D) tile by cp.async, so
// the loads of the next block run while this one is multiplied. Rows at or past `limit` repeat row
// limit − 1 (finite values that the callers never weigh).
template <int D, int ROWS>
__device__ __forceinline__ void prefetch(float* dst, const View v, int b, int h, int r0, int limit) {
  constexpr int kVec = D / 4, kPer = ROWS * kVec / kThreads;
  const float* base = v.p + b * v.sb + h * v.sh;
#pragma unroll
  for (int u = 0; u < kPer; u++) {
    const int i = threadIdx.x + u * kThreads, r = i / kVec, c = (i % kVec) * 4;
    cpAsync16(dst + r * D + c, base + (long long)min(r0 + r, limit - 1) * v.st + c);
  }
}
// This thread's chunks of a prefetched tile (the ones it copied: visible to it after cpAsyncWait)
// rounded into a (ROWS, D + kPad) bf16 tile.
template <int D, int ROWS>
__device__ __forceinline__ void convert(__nv_bfloat16* dst, const float* src) {
  constexpr int kVec = D / 4, kPer = ROWS * kVec / kThreads;
#pragma unroll
  for (int u = 0; u < kPer; u++) {
    const int i = threadIdx.x + u * kThreads, r = i / kVec, c = (i % kVec) * 4;
    const float4 x = *reinterpret_cast<const float4*>(src + r * D + c);
    *reinterpret_cast<uint2*>(dst + r * (D + kPad) + c) = make_uint2(pack(x.x, x.y), pack(x.z, x.w));
  }
}

// The additive mask's (ROWS, 64 keys) tile at rows m0.., keys n0.. by cp.async into a tile with
// leading dimension ld. Rows past T and keys past S repeat the last ones (never weighed).
template <int ROWS>
__device__ __forceinline__ void prefetchMask(float* dst, int ld, const float* mask, int m0, int n0, int T, int S) {
  if ((S & 3) == 0) {  // 16-byte rows of 4 keys (S − 4 ≥ n0 + c whenever n0 + c < S)
#pragma unroll
    for (int u = 0; u < ROWS * kKeys / 4 / kThreads; u++) {
      const int i = threadIdx.x + u * kThreads, r = i / (kKeys / 4), c = (i % (kKeys / 4)) * 4;
      cpAsync16(dst + r * ld + c, mask + (long long)min(m0 + r, T - 1) * S + min(n0 + c, S - 4));
    }
  } else {
    for (int i = threadIdx.x; i < ROWS * kKeys; i += kThreads) {
      const int r = i / kKeys, c = i % kKeys;
      cpAsync4(dst + r * ld + c, mask + (long long)min(m0 + r, T - 1) * S + min(n0 + c, S - 1));
    }
  }
}
// Two fp32 values added to p and p + 1 (8-byte aligned): one vector atomic on sm_90.
__device__ __forceinline__ void atomicAdd2(float* p, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float2*>(p), make_float2(a, b));
#else
  atomicAdd(p, a);
  atomicAdd(p + 1, b);
#endif
}

// Four 8 × 8 bf16 matrices from shared memory; lane l gives the address of row l % 8 of matrix l / 8.
__device__ __forceinline__ void ldsm4(unsigned (&r)[4], const __nv_bfloat16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"((unsigned)__cvta_generic_to_shared(p)));
}
// The same, each matrix transposed on the way (a row-major (k, n) tile read as mma's column-major B).
__device__ __forceinline__ void ldsm4t(unsigned (&r)[4], const __nv_bfloat16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"((unsigned)__cvta_generic_to_shared(p)));
}
// The A fragment (16 × 16, row-major) at rows r0.., columns c0.. of a bf16 tile with leading dimension ld.
__device__ __forceinline__ void loadA(unsigned (&a)[4], const __nv_bfloat16* tile, int ld, int r0, int c0, int lane) {
  ldsm4(a, tile + (r0 + (lane & 15)) * ld + c0 + (lane >> 4) * 8);
}
// B fragments of Xᵀ for two 8-column tiles (n0.., n0 + 8..) and k0..k0 + 15, from a row-major (n, k) tile X:
// b[0], b[1] for the first tile, b[2], b[3] for the second.
__device__ __forceinline__ void loadBnk2(unsigned (&b)[4], const __nv_bfloat16* tile, int ld, int n0, int k0, int lane) {
  ldsm4(b, tile + (n0 + (lane & 7) + (lane >> 4) * 8) * ld + k0 + ((lane >> 3) & 1) * 8);
}
// B fragments for rows k0..k0 + 15 and two 8-column tiles (n0.., n0 + 8..) of a row-major (k, n) tile.
__device__ __forceinline__ void loadBkn2(unsigned (&b)[4], const __nv_bfloat16* tile, int ld, int k0, int n0, int lane) {
  ldsm4t(b, tile + (k0 + (lane & 15)) * ld + n0 + (lane >> 4) * 8);
}
// A (64 keys, D) bf16 tile by cp.async from a (rows, D) contiguous bf16 head (padded to whole key blocks).
template <int D>
__device__ __forceinline__ void copyKeys(__nv_bfloat16* dst, const __nv_bfloat16* src) {
  constexpr int kVec = D / 8;
#pragma unroll
  for (int u = 0; u < kKeys * kVec / kThreads; u++) {
    const int i = threadIdx.x + u * kThreads, r = i / kVec, c = (i % kVec) * 8;
    cpAsync16(dst + r * (D + kPad) + c, src + r * D + c);
  }
}

// K (blockIdx.y 0) and V (1), any views of heads of S rows, rounded to bf16 into contiguous (B, heads,
// Sp, D) copies whose rows S..Sp − 1 are zeros: the kernels then copy whole 64-key tiles with cp.async.
// chunks: 8-value pieces of one copy.
__global__ void kHeadsToBf16(View k, View v, uint4* y, int heads, int S, int Sp, int D, long long chunks) {
  const View x = blockIdx.y == 0 ? k : v;
  y += blockIdx.y * chunks;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < chunks; i += (long long)gridDim.x * blockDim.x) {
    const int perRow = D / 8, c = (int)(i % perRow) * 8;
    const long long row = i / perRow;
    const int t = (int)(row % Sp);
    const long long bh = row / Sp;
    uint4 out = make_uint4(0u, 0u, 0u, 0u);
    if (t < S) {
      const float* p = x.p + (bh / heads) * x.sb + (bh % heads) * x.sh + (long long)t * x.st + c;
      const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
      out = make_uint4(pack(a.x, a.y), pack(a.z, a.w), pack(b.x, b.y), pack(b.z, b.w));
    }
    y[i] = out;
  }
}

// One pipeline stage of the forward pass: K and V tiles (bf16) and the mask tile (float).
template <int D>
constexpr int kForwardStage = 2 * kKeys * (D + kPad) * 2 + kRowsFwd * kMaskLdFwd * 4;

// kb, vb: K and V as contiguous bf16 (B, Hkv, Sp, D) (kHeadsToBf16). Two stages: the copies of the
// next key block run (cp.async) while this one is multiplied.
template <int D>
__global__ void __launch_bounds__(kThreads, D == 64 ? 3 : 2) kForward(View q, const __nv_bfloat16* kb, const __nv_bfloat16* vb, int Sp, const float* mask, OutView o, float* stats, Dims s) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int LD = D + kPad;
  auto Ks = [&](int st) { return reinterpret_cast<__nv_bfloat16*>(smem + st * kForwardStage<D>); };  // (64 keys, D)
  auto Vs = [&](int st) { return Ks(st) + kKeys * LD; };                                                    // (64 keys, D)
  auto maskS = [&](int st) { return reinterpret_cast<float*>(Vs(st) + kKeys * LD); };                      // (64 rows, 64 keys)
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(maskS(1));  // (64 rows, D) until stage 1's first copies
  const int b = blockIdx.y / s.H, h = blockIdx.y % s.H, hk = h / (s.H / s.Hkv);
  const int m0 = (gridDim.x - 1 - blockIdx.x) * kRowsFwd;  // the longest causal rows start first
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tg = lane % 4;
  const int row0 = m0 + warp * 16 + g, row1 = row0 + 8;  // this thread's two query rows (may be ≥ T)
  const float* maskB = mask + (s.maskBatched ? (long long)b * s.T * s.S : 0);
  const long long head = ((long long)b * s.Hkv + hk) * Sp * D;
  // Key block n0's K, V and mask tiles into stage st (one cp.async group).
  auto issue = [&](int n0, int st) {
    copyKeys<D>(Ks(st), kb + head + (long long)n0 * D);
    copyKeys<D>(Vs(st), vb + head + (long long)n0 * D);
    prefetchMask<kRowsFwd>(maskS(st), kMaskLdFwd, maskB, m0, n0, s.T, s.S);
    cpAsyncCommit();
  };
  issue(0, 0);
  stage<D, kRowsFwd>(Qs, q, b, h, m0, s.T);
  __syncthreads();
  unsigned qa[D / 16][4];
#pragma unroll
  for (int kc = 0; kc < D / 16; kc++) loadA(qa[kc], Qs, LD, warp * 16, kc * 16, lane);
  float acc[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  float mRow[2] = {-INFINITY, -INFINITY}, lRow[2] = {0.f, 0.f};
  // Causal: key n is visible to row t only when n ≤ (S − T) + t, so keys past the block's last row's diagonal are skipped.
  const int nEnd = s.causal ? min(s.S, s.S - s.T + m0 + kRowsFwd) : s.S;
  for (int n0 = 0, st = 0; n0 < nEnd; n0 += kKeys, st ^= 1) {
    cpAsyncWait();
    __syncthreads();  // this block's tiles are whole; every warp is done with the other stage (at first: with Q)
    if (n0 + kKeys < nEnd) issue(n0 + kKeys, st ^ 1);
    const __nv_bfloat16* K = Ks(st);
    const float* maskT = maskS(st);
    float sc[kKeys / 8][4];
#pragma unroll
    for (int j = 0; j < kKeys / 8; j++) sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.f;
#pragma unroll
    for (int kc = 0; kc < D / 16; kc++) {  // neighbouring products into different accumulators: no chain of dependent mma
#pragma unroll
      for (int j = 0; j < kKeys / 8; j += 2) {
        unsigned bf[4];
        loadBnk2(bf, K, LD, j * 8, kc * 16, lane);
        mma(sc[j], qa[kc], bf[0], bf[1]);
        mma(sc[j + 1], qa[kc], bf[2], bf[3]);
      }
    }
    float mx[2] = {mRow[0], mRow[1]};
#pragma unroll
    for (int j = 0; j < kKeys / 8; j++) {
      const float* mp = maskT + (warp * 16 + g) * kMaskLdFwd + j * 8 + 2 * tg;  // float2 reads: no bank conflicts
      const float2 mLo = *reinterpret_cast<const float2*>(mp), mHi = *reinterpret_cast<const float2*>(mp + 8 * kMaskLdFwd);
      const float m4[4] = {mLo.x, mLo.y, mHi.x, mHi.y};
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int col = n0 + j * 8 + 2 * tg + (e & 1);
        float x = -INFINITY;  // keys past S weigh nothing
        if (col < s.S) x = sc[j][e] * s.scale + m4[e];
        sc[j][e] = x;
        mx[e >> 1] = fmaxf(mx[e >> 1], x);
      }
    }
    float base[2], corr[2], sum[2] = {0.f, 0.f};
#pragma unroll
    for (int i = 0; i < 2; i++) {  // the 4 threads of a quad share a row
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
      base[i] = mx[i] == -INFINITY ? 0.f : mx[i];  // a user mask of −inf everywhere: no NaN from −inf − −inf
      corr[i] = __expf(mRow[i] - base[i]);
      mRow[i] = mx[i];
    }
#pragma unroll
    for (int j = 0; j < kKeys / 8; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float p = __expf(sc[j][e] - base[e >> 1]);
        sc[j][e] = p;
        sum[e >> 1] += p;
      }
    }
#pragma unroll
    for (int i = 0; i < 2; i++) lRow[i] = lRow[i] * corr[i] + sum[i];  // this thread's share of the row sum
#pragma unroll
    for (int j = 0; j < D / 8; j++) { acc[j][0] *= corr[0]; acc[j][1] *= corr[0]; acc[j][2] *= corr[1]; acc[j][3] *= corr[1]; }
    // O += P·V: the score accumulators of two neighbouring 8-key tiles are the A fragment of 16 keys.
#pragma unroll
    for (int kc = 0; kc < kKeys / 16; kc++) {
      const unsigned pa[4] = {pack(sc[2 * kc][0], sc[2 * kc][1]), pack(sc[2 * kc][2], sc[2 * kc][3]),
                              pack(sc[2 * kc + 1][0], sc[2 * kc + 1][1]), pack(sc[2 * kc + 1][2], sc[2 * kc + 1][3])};
#pragma unroll
      for (int j = 0; j < D / 8; j += 2) {
        unsigned bf[4];
        loadBkn2(bf, Vs(st), LD, kc * 16, j * 8, lane);
        mma(acc[j], pa, bf[0], bf[1]);
        mma(acc[j + 1], pa, bf[2], bf[3]);
      }
    }
  }
  float inv[2];
#pragma unroll
  for (int i = 0; i < 2; i++) {
    lRow[i] += __shfl_xor_sync(0xffffffffu, lRow[i], 1);
    lRow[i] += __shfl_xor_sync(0xffffffffu, lRow[i], 2);
    inv[i] = lRow[i] > 0.f ? 1.f / lRow[i] : 0.f;
  }
#pragma unroll
  for (int i = 0; i < 2; i++) {
    const int row = i == 0 ? row0 : row1;
    if (row >= s.T) continue;
    float* out = o.p + b * o.sb + h * o.sh + (long long)row * o.st + 2 * tg;
#pragma unroll
    for (int j = 0; j < D / 8; j++) *reinterpret_cast<float2*>(out + j * 8) = make_float2(acc[j][2 * i] * inv[i], acc[j][2 * i + 1] * inv[i]);
    if (tg == 0) {
      float* st = stats + 2 * (((long long)b * s.H + h) * s.T + row);
      st[0] = mRow[i] == -INFINITY ? 0.f : mRow[i];
      st[1] = inv[i];
    }
  }
}

// Delta[b, h, t] = Σ_d dO·O, one warp per row.
__global__ void kDelta(View dO, View O, float* delta, int H, int T, int D, long long rows) {
  long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (row >= rows) return;
  int t = (int)(row % T), h = (int)((row / T) % H), b = (int)(row / ((long long)T * H));
  const float* a = dO.p + b * dO.sb + h * dO.sh + (long long)t * dO.st;
  const float* c = O.p + b * O.sb + h * O.sh + (long long)t * O.st;
  float sum = 0.f;
  for (int d = lane; d < D; d += 32) sum += a[d] * c[d];
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (lane == 0) delta[row] = sum;
}

template <int D>
__global__ void __launch_bounds__(kThreads, D == 64 ? 3 : 2) kBackward(View q, const __nv_bfloat16* kb, const __nv_bfloat16* vb, int Sp, View dO, const float* mask,
                                                      const float* stats, const float* delta, __nv_bfloat16* dS, OutView dk, OutView dv, Dims s) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int LD = D + kPad, LDS = kKeys + kPad;
  __nv_bfloat16* Ks = reinterpret_cast<__nv_bfloat16*>(smem);  // (64 keys, D)
  __nv_bfloat16* Vs = Ks + kKeys * LD;                            // (64 keys, D)
  __nv_bfloat16* Qs = Vs + kKeys * LD;                            // (32 rows, D)
  __nv_bfloat16* dOs = Qs + kRowsBwd * LD;                        // (32 rows, D)
  __nv_bfloat16* dSs = dOs + kRowsBwd * LD;                       // (32 rows, 64 keys)
  float* rowM = reinterpret_cast<float*>(dSs + kRowsBwd * LDS);   // per query row: max, 1/sum, Delta
  float* rowInv = rowM + kRowsBwd;
  float* rowDelta = rowInv + kRowsBwd;
  float* nextQ = rowDelta + kRowsBwd;                              // (32 rows, D) float32, prefetched
  float* nextdO = nextQ + kRowsBwd * D;                            // (32 rows, D)
  float* nextStats = nextdO + kRowsBwd * D;                        // (32 rows, 2): max, 1/sum
  float* nextDelta = nextStats + 2 * kRowsBwd;                     // (32 rows)
  float* nextMask = nextDelta + kRowsBwd;                          // (32 rows, 64 keys) of the mask
  float* maskS = nextMask + kRowsBwd * kKeys;                      // the same for the rows being multiplied
  const int n0 = blockIdx.x * kKeys;
  const int b = blockIdx.y / s.H, h = blockIdx.y % s.H, hk = h / (s.H / s.Hkv);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tg = lane % 4;
  const int key0 = n0 + warp * 16 + g, key1 = key0 + 8;  // this thread's two keys (may be ≥ S)
  float dka[D / 8][4], dva[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; j++) {
    dka[j][0] = dka[j][1] = dka[j][2] = dka[j][3] = 0.f;
    dva[j][0] = dva[j][1] = dva[j][2] = dva[j][3] = 0.f;
  }
  const float* maskB = mask + (s.maskBatched ? (long long)b * s.T * s.S : 0);
  // Causal: rows t < n0 − (S − T) see none of these keys.
  const int mStart = s.causal ? max(0, n0 - (s.S - s.T)) / kRowsBwd * kRowsBwd : 0;
  const long long rows = ((long long)b * s.H + h) * s.T;  // this head's first row in stats, delta and dS
  // kDq reads these keys' dS from row zStart on (its 64-row blocks that see them): rows before mStart are zeros
  // (none when S − T is a multiple of 64, as in training).
  const int zStart = s.causal ? max(0, n0 - (s.S - s.T)) / kRowsFwd * kRowsFwd : 0;
  for (int i = threadIdx.x; i < (mStart - zStart) * (kKeys / 8); i += kThreads)
    *reinterpret_cast<uint4*>(dS + (rows + zStart + i / (kKeys / 8)) * Sp + n0 + (i % (kKeys / 8)) * 8) = make_uint4(0u, 0u, 0u, 0u);
  // Q, dO and the row statistics of rows [m0, m0 + 32) into the prefetch area (rows past T repeat row T − 1).
  auto prefetchRows = [&](int m0) {
    prefetch<D, kRowsBwd>(nextQ, q, b, h, m0, s.T);
    prefetch<D, kRowsBwd>(nextdO, dO, b, h, m0, s.T);
    const int i = threadIdx.x;
    if (i < 2 * kRowsBwd) cpAsync4(nextStats + i, stats + 2 * (rows + min(m0 + i / 2, s.T - 1)) + (i & 1));
    else if (i < 3 * kRowsBwd) cpAsync4(nextDelta + i - 2 * kRowsBwd, delta + rows + min(m0 + i - 2 * kRowsBwd, s.T - 1));
    prefetchMask<kRowsBwd>(nextMask, kKeys, maskB, m0, n0, s.T, s.S);
    cpAsyncCommit();
  };
  if (mStart < s.T) {  // K and V join the first rows' copies
    const long long head = ((long long)b * s.Hkv + hk) * Sp * D + (long long)n0 * D;
    copyKeys<D>(Ks, kb + head);
    copyKeys<D>(Vs, vb + head);
    prefetchRows(mStart);
  }
  for (int m0 = mStart; m0 < s.T; m0 += kRowsBwd) {
    cpAsyncWait();
    __syncthreads();  // the previous rows' tiles are consumed; every thread's copies have landed
    convert<D, kRowsBwd>(Qs, nextQ);
    convert<D, kRowsBwd>(dOs, nextdO);
    if (threadIdx.x < kRowsBwd) {
      rowM[threadIdx.x] = nextStats[2 * threadIdx.x];
      rowInv[threadIdx.x] = nextStats[2 * threadIdx.x + 1];
      rowDelta[threadIdx.x] = nextDelta[threadIdx.x];
    }
#pragma unroll
    for (int u = 0; u < kRowsBwd * kKeys / 4 / kThreads; u++) {  // every copy has landed: any thread may move any chunk
      const int i = threadIdx.x + u * kThreads, r = i / (kKeys / 4), c = (i % (kKeys / 4)) * 4;
      *reinterpret_cast<float4*>(maskS + r * kMaskLdBwd + c) = *reinterpret_cast<const float4*>(nextMask + r * kKeys + c);
    }
    __syncthreads();  // tiles, mask and row statistics whole; the prefetch area is free
    if (m0 + kRowsBwd < s.T) prefetchRows(m0 + kRowsBwd);
    // Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ for the warp's 16 keys × 32 rows.
    float st[kRowsBwd / 8][4], dp[kRowsBwd / 8][4];
#pragma unroll
    for (int j = 0; j < kRowsBwd / 8; j++) st[j][0] = st[j][1] = st[j][2] = st[j][3] = dp[j][0] = dp[j][1] = dp[j][2] = dp[j][3] = 0.f;
#pragma unroll
    for (int kc = 0; kc < D / 16; kc++) {
      unsigned ka[4], va[4];
      loadA(ka, Ks, LD, warp * 16, kc * 16, lane);
      loadA(va, Vs, LD, warp * 16, kc * 16, lane);
#pragma unroll
      for (int j = 0; j < kRowsBwd / 8; j += 2) {
        unsigned bq[4], bo[4];
        loadBnk2(bq, Qs, LD, j * 8, kc * 16, lane);
        loadBnk2(bo, dOs, LD, j * 8, kc * 16, lane);
        mma(st[j], ka, bq[0], bq[1]);
        mma(dp[j], va, bo[0], bo[1]);
        mma(st[j + 1], ka, bq[2], bq[3]);
        mma(dp[j + 1], va, bo[2], bo[3]);
      }
    }
    // Pᵀ from the saved row statistics; dSᵀ = Pᵀ ∘ (dPᵀ − Delta), turned to (rows, keys) in shared memory for dS.
#pragma unroll
    for (int j = 0; j < kRowsBwd / 8; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int key = e < 2 ? key0 : key1, r = j * 8 + 2 * tg + (e & 1), t = m0 + r;
        float p = 0.f;
        if (key < s.S && t < s.T) p = __expf(st[j][e] * s.scale + maskS[r * kMaskLdBwd + key - n0] - rowM[r]) * rowInv[r];
        st[j][e] = p;
        dp[j][e] = p * (dp[j][e] - rowDelta[r]);
        dSs[r * LDS + warp * 16 + g + (e < 2 ? 0 : 8)] = __float2bfloat16(dp[j][e]);
      }
    }
    // dV += Pᵀ·dO and dK += dSᵀ·Q (scaled at the end): the accumulators of two 8-row tiles are the A fragment of 16 rows.
#pragma unroll
    for (int kc = 0; kc < kRowsBwd / 16; kc++) {
      const unsigned pa[4] = {pack(st[2 * kc][0], st[2 * kc][1]), pack(st[2 * kc][2], st[2 * kc][3]),
                              pack(st[2 * kc + 1][0], st[2 * kc + 1][1]), pack(st[2 * kc + 1][2], st[2 * kc + 1][3])};
      const unsigned sa[4] = {pack(dp[2 * kc][0], dp[2 * kc][1]), pack(dp[2 * kc][2], dp[2 * kc][3]),
                              pack(dp[2 * kc + 1][0], dp[2 * kc + 1][1]), pack(dp[2 * kc + 1][2], dp[2 * kc + 1][3])};
#pragma unroll
      for (int j = 0; j < D / 8; j += 2) {
        unsigned bo[4], bq[4];
        loadBkn2(bo, dOs, LD, kc * 16, j * 8, lane);
        loadBkn2(bq, Qs, LD, kc * 16, j * 8, lane);
        mma(dva[j], pa, bo[0], bo[1]);
        mma(dka[j], sa, bq[0], bq[1]);
        mma(dva[j + 1], pa, bo[2], bo[3]);
        mma(dka[j + 1], sa, bq[2], bq[3]);
      }
    }
    // The warp's 16 keys of dS for the 32 rows to global memory: two 16-byte stores per lane.
    __syncwarp();
#pragma unroll
    for (int u = 0; u < 2; u++) {
      const int i = lane + 32 * u, r = i / 2, c = warp * 16 + (i & 1) * 8;
      if (m0 + r < s.T) *reinterpret_cast<uint4*>(dS + (rows + m0 + r) * Sp + n0 + c) = *reinterpret_cast<const uint4*>(dSs + r * LDS + c);
    }
  }
#pragma unroll
  for (int i = 0; i < 2; i++) {
    const int key = i == 0 ? key0 : key1;
    if (key >= s.S) continue;
    float* kOut = dk.p + b * dk.sb + hk * dk.sh + (long long)key * dk.st + 2 * tg;
    float* vOut = dv.p + b * dv.sb + hk * dv.sh + (long long)key * dv.st + 2 * tg;
#pragma unroll
    for (int j = 0; j < D / 8; j++) {
      atomicAdd2(kOut + j * 8, dka[j][2 * i] * s.scale, dka[j][2 * i + 1] * s.scale);
      atomicAdd2(vOut + j * 8, dva[j][2 * i], dva[j][2 * i + 1]);
    }
  }
}

// dQ = scale · dS·K: one block per (batch, query head, 64 query rows), each warp 16 rows, over the
// key blocks those rows see (the causal skip of kForward), two stages of dS and K tiles by cp.async.
// dS (B, H, T, Sp) bf16 from kBackward; kb the bf16 K copy; dq (B, H, T, D) contiguous.
template <int D>
__global__ void __launch_bounds__(kThreads, 3) kDq(const __nv_bfloat16* dS, const __nv_bfloat16* kb, int Sp, float* dq, Dims s) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int LD = D + kPad, LDS = kKeys + kPad, kStage = (kRowsFwd * LDS + kKeys * LD) * 2;
  auto dSs = [&](int st) { return reinterpret_cast<__nv_bfloat16*>(smem + st * kStage); };  // (64 rows, 64 keys)
  auto Ks = [&](int st) { return dSs(st) + kRowsFwd * LDS; };                              // (64 keys, D)
  const int b = blockIdx.y / s.H, h = blockIdx.y % s.H, hk = h / (s.H / s.Hkv);
  const int m0 = (gridDim.x - 1 - blockIdx.x) * kRowsFwd;  // the longest causal rows start first
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tg = lane % 4;
  const long long rows = ((long long)b * s.H + h) * s.T;
  const __nv_bfloat16* head = kb + ((long long)b * s.Hkv + hk) * Sp * D;
  auto issue = [&](int n0, int st) {
#pragma unroll
    for (int u = 0; u < kRowsFwd * kKeys / 8 / kThreads; u++) {  // rows past T repeat row T − 1 (not stored)
      const int i = threadIdx.x + u * kThreads, r = i / (kKeys / 8), c = (i % (kKeys / 8)) * 8;
      cpAsync16(dSs(st) + r * LDS + c, dS + (rows + min(m0 + r, s.T - 1)) * Sp + n0 + c);
    }
    copyKeys<D>(Ks(st), head + (long long)n0 * D);
    cpAsyncCommit();
  };
  float acc[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  const int nEnd = s.causal ? min(s.S, s.S - s.T + m0 + kRowsFwd) : s.S;
  issue(0, 0);
  for (int n0 = 0, st = 0; n0 < nEnd; n0 += kKeys, st ^= 1) {
    cpAsyncWait();
    __syncthreads();  // this stage is whole; every warp is done with the other one
    if (n0 + kKeys < nEnd) issue(n0 + kKeys, st ^ 1);
#pragma unroll
    for (int kc = 0; kc < kKeys / 16; kc++) {
      unsigned a[4];
      loadA(a, dSs(st), LDS, warp * 16, kc * 16, lane);
#pragma unroll
      for (int j = 0; j < D / 8; j += 2) {
        unsigned bf[4];
        loadBkn2(bf, Ks(st), LD, kc * 16, j * 8, lane);
        mma(acc[j], a, bf[0], bf[1]);
        mma(acc[j + 1], a, bf[2], bf[3]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < 2; i++) {
    const int t = m0 + warp * 16 + g + 8 * i;
    if (t >= s.T) continue;
    float* out = dq + (rows + t) * D + 2 * tg;
#pragma unroll
    for (int j = 0; j < D / 8; j++) *reinterpret_cast<float2*>(out + j * 8) = make_float2(acc[j][2 * i] * s.scale, acc[j][2 * i + 1] * s.scale);
  }
}
constexpr size_t dqSmem(int D) { return (size_t)2 * (kRowsFwd * (kKeys + kPad) + kKeys * (D + kPad)) * 2; }

// Forward: two stages of K, V and mask tiles (stage 1's mask tile first holds Q's tile).
constexpr size_t forwardSmem(int D) { return D == 64 ? 2 * kForwardStage<64> : 2 * kForwardStage<128>; }
static_assert(kRowsFwd * (128 + kPad) * 2 <= kRowsFwd * kMaskLdFwd * 4, "Q's tile fits the mask tile");
// Backward: K, V, Q, dO and dS tiles (bf16), row statistics, the next rows' float32 Q, dO and statistics.
constexpr size_t backwardSmem(int D) {
  return (size_t)(2 * kKeys + 2 * kRowsBwd) * (D + kPad) * 2 + (size_t)kRowsBwd * (kKeys + kPad) * 2 + 3 * kRowsBwd * 4 + (size_t)2 * kRowsBwd * D * 4 +
         3 * kRowsBwd * 4 + (size_t)kRowsBwd * (kKeys + kMaskLdBwd) * 4;
}

}  // namespace flash

// ---------------------------------------------------------------- N-API: flashForward, flashBackward
// views: [ptr, sb, sh, st] per operand (element strides; d contiguous); dims: [B, H, Hkv, T, S, D, maskBatched, causal].
static bool flashDims(napi_env env, napi_value v, flash::Dims& d, int& D) {
  auto x = argInts(env, v);
  if (x.size() != 8) { throwError(env, "flash attention: dims must be [B, H, Hkv, T, S, D, maskBatched, causal]"); return false; }
  d = flash::Dims{(int)x[0], (int)x[1], (int)x[2], (int)x[3], (int)x[4], (int)x[6], (int)x[7], 0.f};
  D = (int)x[5];
  if (D != 64 && D != 128) { throwError(env, "flash attention: head dimension " + std::to_string(D) + " (64 or 128 only)"); return false; }
  if (d.Hkv <= 0 || d.H % d.Hkv != 0 || d.T <= 0 || d.S <= 0 || d.B <= 0) { throwError(env, "flash attention: bad sizes"); return false; }
  return true;
}
static bool flashView(napi_env env, napi_value v, flash::View& out) {
  auto x = argInts(env, v);
  out = flash::View{reinterpret_cast<const float*>(static_cast<uintptr_t>(x[0])), x[1], x[2], x[3]};
  if ((x[0] & 15) || (x[1] & 3) || (x[2] & 3) || (x[3] & 3)) { throwError(env, "flash attention: an operand is not 16-byte aligned"); return false; }
  return true;
}
static flash::OutView writable(const flash::View& v) { return flash::OutView{const_cast<float*>(v.p), v.sb, v.sh, v.st}; }
// Lets a kernel take more than 48 KB of dynamic shared memory (asked once per kernel).
template <typename K>
static void allowSmem(K kernel, size_t bytes) {
  static std::map<const void*, size_t> asked;
  size_t& done = asked[(const void*)kernel];
  if (done < bytes) { cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes); done = bytes; }
}

// Sp: S rounded up to whole key blocks (the bf16 K/V copies' and dS's row count and row length).
static int flashSp(const flash::Dims& d) { return (d.S + flash::kKeys - 1) / flash::kKeys * flash::kKeys; }
// bytes of the bf16 K and V copies (kvScratch of both kernels).
static size_t flashKvBytes(const flash::Dims& d, int D) { return (size_t)2 * d.B * d.Hkv * flashSp(d) * D * 2; }
// K and V rounded into kvScratch: [K (B, Hkv, Sp, D), V] bf16.
static void flashKvToBf16(const flash::View& k, const flash::View& v, __nv_bfloat16* kv, const flash::Dims& d, int D) {
  const int Sp = flashSp(d);
  const long long chunks = (long long)d.B * d.Hkv * Sp * D / 8;
  flash::kHeadsToBf16<<<dim3(gridFor(chunks), 2), 256, 0, gStream>>>(k, v, reinterpret_cast<uint4*>(kv), d.Hkv, d.S, Sp, D, chunks);
}

// (q, k, v, o views, mask, stats, dims, scale, kvScratch): o (B, H, T, D) viewed, stats (B, H, T, 2) = [max, 1/sum],
// kvScratch flashKvBytes.
static napi_value FlashForward(napi_env env, napi_callback_info info) {
  if (!ensureInit(env)) return nullptr;
  auto a = args(env, info, 9);
  flash::View q, k, v, o; flash::Dims d; int D;
  if (!flashView(env, a[0], q) || !flashView(env, a[1], k) || !flashView(env, a[2], v) || !flashView(env, a[3], o) || !flashDims(env, a[6], d, D)) return nullptr;
  d.scale = (float)argNumber(env, a[7]);
  const float* mask = (const float*)argPtr(env, a[4]); float* stats = (float*)argPtr(env, a[5]);
  __nv_bfloat16* kv = (__nv_bfloat16*)argPtr(env, a[8]);
  flashKvToBf16(k, v, kv, d, D);
  const int Sp = flashSp(d);
  const __nv_bfloat16* vb = kv + (size_t)d.B * d.Hkv * Sp * D;
  dim3 grid((d.T + flash::kRowsFwd - 1) / flash::kRowsFwd, d.B * d.H);
  if (D == 64) {
    allowSmem(flash::kForward<64>, flash::forwardSmem(64));
    flash::kForward<64><<<grid, flash::kThreads, flash::forwardSmem(64), gStream>>>(q, kv, vb, Sp, mask, writable(o), stats, d);
  } else {
    allowSmem(flash::kForward<128>, flash::forwardSmem(128));
    flash::kForward<128><<<grid, flash::kThreads, flash::forwardSmem(128), gStream>>>(q, kv, vb, Sp, mask, writable(o), stats, d);
  }
  LAUNCH_CHECK(); return nullptr;
}

// (q, k, v, dO, o views, dq (B, H, T, D) contiguous, dk, dv views of whole (B·Hkv·S·D) buffers, mask, stats,
// delta scratch (B·H·T floats), dims, scale, scratch of flashKvBytes + B·H·T·Sp·2 bytes: bf16 K, V and dS).
// dQ = scale · dS·K by kDq after the kernel (over the key blocks each query block sees).
static napi_value FlashBackward(napi_env env, napi_callback_info info) {
  if (!ensureInit(env)) return nullptr;
  auto a = args(env, info, 14);
  flash::View q, k, v, dO, o, dk, dv; flash::Dims d; int D;
  if (!flashView(env, a[0], q) || !flashView(env, a[1], k) || !flashView(env, a[2], v) || !flashView(env, a[3], dO) || !flashView(env, a[4], o) ||
      !flashView(env, a[6], dk) || !flashView(env, a[7], dv) || !flashDims(env, a[11], d, D)) return nullptr;
  d.scale = (float)argNumber(env, a[12]);
  float* dq = (float*)argPtr(env, a[5]);
  const float* mask = (const float*)argPtr(env, a[8]); const float* stats = (const float*)argPtr(env, a[9]); float* delta = (float*)argPtr(env, a[10]);
  __nv_bfloat16* kv = (__nv_bfloat16*)argPtr(env, a[13]);
  const int Sp = flashSp(d);
  const __nv_bfloat16* vb = kv + (size_t)d.B * d.Hkv * Sp * D;
  __nv_bfloat16* dS = kv + flashKvBytes(d, D) / 2;  // (B, H, T, Sp)
  long long rows = (long long)d.B * d.H * d.T;
  const size_t kvBytes = (size_t)d.B * d.Hkv * d.S * D * sizeof(float);
  CUDA_OR_THROW(cudaMemsetAsync(const_cast<float*>(dk.p), 0, kvBytes, gStream));
  CUDA_OR_THROW(cudaMemsetAsync(const_cast<float*>(dv.p), 0, kvBytes, gStream));
  flashKvToBf16(k, v, kv, d, D);
  flash::kDelta<<<(unsigned)((rows * 32 + 255) / 256), 256, 0, gStream>>>(dO, o, delta, d.H, d.T, D, rows);
  dim3 grid((d.S + flash::kKeys - 1) / flash::kKeys, d.B * d.H);
  if (D == 64) {
    allowSmem(flash::kBackward<64>, flash::backwardSmem(64));
    flash::kBackward<64><<<grid, flash::kThreads, flash::backwardSmem(64), gStream>>>(q, kv, vb, Sp, dO, mask, stats, delta, dS, writable(dk), writable(dv), d);
  } else {
    allowSmem(flash::kBackward<128>, flash::backwardSmem(128));
    flash::kBackward<128><<<grid, flash::kThreads, flash::backwardSmem(128), gStream>>>(q, kv, vb, Sp, dO, mask, stats, delta, dS, writable(dk), writable(dv), d);
  }
  LAUNCH_CHECK();
  dim3 qgrid((d.T + flash::kRowsFwd - 1) / flash::kRowsFwd, d.B * d.H);
  if (D == 64) {
    allowSmem(flash::kDq<64>, flash::dqSmem(64));
    flash::kDq<64><<<qgrid, flash::kThreads, flash::dqSmem(64), gStream>>>(dS, kv, Sp, dq, d);
  } else {
    allowSmem(flash::kDq<128>, flash::dqSmem(128));
    flash::kDq<128><<<qgrid, flash::kThreads, flash::dqSmem(128), gStream>>>(dS, kv, Sp, dq, d);
  }
  LAUNCH_CHECK();
  return nullptr;
}

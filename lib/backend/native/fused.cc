// The library's fused CPU kernels for the wasm backend (lib/backend/wasm_fused.ts), in place on
// the wasm heap like blas.cc's sgemm: attention forward and backward (GQA, additive mask; the
// products through OpenBLAS's sgemm, scale + mask + softmax and the softmax gradient as loops
// between them), also from the q/k/v projections' layout with RoPE and the head split and merge
// folded in (ropeAttention), and SwiGLU forward and backward, each one call instead of the 8–45
// small tfjs kernels of its composite form; and native forms of the RMSNorm, RoPE and
// cross-entropy kernels that wasm_kernels.ts otherwise runs as JS loops. Row loops are plain C++
// that -O3 vectorises (VECTOR_CLONES below); the exponential is a polynomial so that it does too.
#include "blas.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

using qlora::kNoTrans;
using qlora::kRowMajor;
using qlora::kTrans;

// e^x for float32 within ≈ 2 ulp; 0 below −87.3 (where e^x leaves the normal range), e^88.3 above
// 88.3. Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-7 polynomial, 2^n through
// the exponent bits. Rounding to n uses the 1.5·2²³ trick, so no rounding instruction is needed.
inline float Exp(float x) {
  const bool under = x < -87.3f;
  x = std::min(std::max(x, -87.3f), 88.3f);
  const float t = x * 1.44269504088896341f + 12582912.0f;
  const float n = t - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &t, 4);
  const int32_t scale = (bits - 0x4B400000 + 127) << 23;  // n + 127 in the exponent field
  float s;
  std::memcpy(&s, &scale, 4);
  return under ? 0.0f : p * s;
}

// Row loops are compiled twice where GCC can dispatch at load time: for x86-64-v3 (AVX2 + FMA,
// ≈ 3× the exponential throughput of the baseline's SSE2) and for the baseline, which any x86-64
// runs. Elsewhere (other compilers, arm64) once, for the baseline.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

// Σ x and max x over n floats in 8 interleaved lanes, so that the loops vectorise (a single float
// accumulator fixes the order of the additions and keeps them scalar).
inline float SumOf(const float *x, int n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) lane[j] += x[i + j];
  float sum = 0;
  for (; i < n; i++) sum += x[i];
  for (int j = 0; j < 8; j++) sum += lane[j];
  return sum;
}

inline float DotOf(const float *x, const float *y, int n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) lane[j] += x[i + j] * y[i + j];
  float sum = 0;
  for (; i < n; i++) sum += x[i] * y[i];
  for (int j = 0; j < 8; j++) sum += lane[j];
  return sum;
}

inline float MaxOf(const float *x, int n) {
  float lane[8];
  for (int j = 0; j < 8; j++) lane[j] = -INFINITY;
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) lane[j] = lane[j] > x[i + j] ? lane[j] : x[i + j];
  float mx = -INFINITY;
  for (; i < n; i++) mx = mx > x[i] ? mx : x[i];
  for (int j = 0; j < 8; j++) mx = mx > lane[j] ? mx : lane[j];
  return mx;
}

// p = softmax(p + m) over one row of S scores.
VECTOR_CLONES void MaskedSoftmaxRow(float *p, const float *m, int S) {
  for (int s = 0; s < S; s++) p[s] += m[s];
  const float mx = MaxOf(p, S);
  for (int s = 0; s < S; s++) p[s] = Exp(p[s] - mx);
  const float inv = 1.0f / SumOf(p, S);
  for (int s = 0; s < S; s++) p[s] *= inv;
}

// d = p ⊙ (d − Σ d⊙p) over one row: the softmax gradient.
VECTOR_CLONES void SoftmaxGradRow(float *d, const float *p, int S) {
  const float dot = DotOf(d, p, S);
  for (int s = 0; s < S; s++) d[s] = p[s] * (d[s] - dot);
}

VECTOR_CLONES void SwigluLoop(const float *G, const float *U, float *Y, size_t n) {
  for (size_t i = 0; i < n; i++) Y[i] = G[i] / (1.0f + Exp(-G[i])) * U[i];
}

VECTOR_CLONES void SwigluGradLoop(const float *G, const float *U, const float *DY, float *DG, float *DU, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float s = 1.0f / (1.0f + Exp(-G[i]));
    const float gs = G[i] * s;
    DU[i] = DY[i] * gs;
    DG[i] = DY[i] * U[i] * (s + gs * (1.0f - s));
  }
}

// e = exp(x − shift) · scale over one row.
VECTOR_CLONES void ExpRow(const float *x, float shift, float scale, float *e, int n) {
  for (int i = 0; i < n; i++) e[i] = Exp(x[i] - shift) * scale;
}

// acc += x ⊙ y · scale over one row.
VECTOR_CLONES void AxpyProductRow(const float *x, const float *y, float scale, float *acc, size_t n) {
  for (size_t i = 0; i < n; i++) acc[i] += x[i] * y[i] * scale;
}

// One row of RoPE: with h = D/2 and i < h, forward y[i] = x[i]·c[i] − x[i+h]·s[i] and
// y[i+h] = x[i+h]·c[i+h] + x[i]·s[i+h]; backward (the transpose) y[i] = x[i]·c[i] + x[i+h]·s[i+h] and
// y[i+h] = x[i+h]·c[i+h] − x[i]·s[i].
inline void RotateRow(const float *x, const float *c, const float *s, float *y, int D, bool forward) {
  const int h = D / 2;
  if (forward) {
    for (int i = 0; i < h; i++) {
      y[i] = x[i] * c[i] - x[i + h] * s[i];
      y[i + h] = x[i + h] * c[i + h] + x[i] * s[i + h];
    }
  } else {
    for (int i = 0; i < h; i++) {
      y[i] = x[i] * c[i] + x[i + h] * s[i + h];
      y[i + h] = x[i + h] * c[i + h] - x[i] * s[i];
    }
  }
}

napi_value Throw(napi_env env, const std::string &message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

// A call's arguments: the heap (a Uint8Array) then `count` numbers.
struct Args {
  uint8_t *heap = nullptr;
  size_t bytes = 0;
  double v[20] = {};
  bool ok = false;
};

Args Parse(napi_env env, napi_callback_info info, size_t count, const char *name) {
  Args a;
  size_t argc = 21;
  napi_value argv[21];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (!qlora::sgemm) {
    Throw(env, std::string(name) + ": load() was not called");
    return a;
  }
  if (argc != count + 1) {
    Throw(env, std::string(name) + ": expected " + std::to_string(count + 1) + " arguments");
    return a;
  }
  napi_typedarray_type type;
  size_t length = 0, byteOffset = 0;
  void *data = nullptr;
  napi_value buffer;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &byteOffset) != napi_ok || type != napi_uint8_array) {
    Throw(env, std::string(name) + ": the heap must be a Uint8Array");
    return a;
  }
  for (size_t i = 0; i < count; i++) {
    if (napi_get_value_double(env, argv[i + 1], &a.v[i]) != napi_ok) {
      Throw(env, std::string(name) + ": argument " + std::to_string(i + 1) + " must be a number");
      return a;
    }
  }
  a.heap = static_cast<uint8_t *>(data);
  a.bytes = length;
  a.ok = true;
  return a;
}

// The float32 array of `elements` at byte offset `at`, or nullptr when it does not lie inside the heap.
float *At(const Args &a, double at, double elements) {
  if (at < 0 || elements < 0 || std::fmod(at, 4.0) != 0 || at + 4.0 * elements > double(a.bytes)) return nullptr;
  return reinterpret_cast<float *>(a.heap + size_t(at));
}

// attention(heap, q, k, v, mask, out, probs, B, H, Hkv, T, S, D, maskBatch, scale) — byte offsets, then sizes:
// q (B, H, T, D), k and v (B, Hkv, S, D), mask (maskBatch ∈ {1, B}, T, S) additive → out (B, H, T, D) and
// probs (B, H, T, S) = softmax(q kᵀ · scale + mask). The g = H / Hkv query heads of a key/value head are
// consecutive, so each group is one (g·T, D) matrix and needs one product per side.
napi_value Attention(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 14, "attention");
  if (!a.ok) return nullptr;
  const int B = int(a.v[6]), H = int(a.v[7]), Hkv = int(a.v[8]), T = int(a.v[9]), S = int(a.v[10]), D = int(a.v[11]), MB = int(a.v[12]);
  const float scale = float(a.v[13]);
  if (B <= 0 || H <= 0 || Hkv <= 0 || H % Hkv != 0 || T <= 0 || S <= 0 || D <= 0 || (MB != 1 && MB != B)) return Throw(env, "attention: bad sizes");
  const double q = double(B) * H * T * D, kv = double(B) * Hkv * S * D;
  float *Q = At(a, a.v[0], q), *K = At(a, a.v[1], kv), *V = At(a, a.v[2], kv), *M = At(a, a.v[3], double(MB) * T * S);
  float *O = At(a, a.v[4], q), *P = At(a, a.v[5], double(B) * H * T * S);
  if (!Q || !K || !V || !M || !O || !P) return Throw(env, "attention: an operand lies outside the heap");
  const int g = H / Hkv, rows = g * T;
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < Hkv; h++) {
      const size_t grp = size_t(b * H + h * g);
      const float *Qg = Q + grp * T * D, *Kh = K + size_t(b * Hkv + h) * S * D, *Vh = V + size_t(b * Hkv + h) * S * D;
      float *Pg = P + grp * T * S;
      qlora::sgemm(kRowMajor, kNoTrans, kTrans, rows, S, D, scale, Qg, D, Kh, D, 0.0f, Pg, S);
      for (int r = 0; r < rows; r++) {
        MaskedSoftmaxRow(Pg + size_t(r) * S, M + (size_t(MB == 1 ? 0 : b) * T + r % T) * S, S);
      }
      qlora::sgemm(kRowMajor, kNoTrans, kNoTrans, rows, D, S, 1.0f, Pg, S, Vh, D, 0.0f, O + grp * T * D, D);
    }
  }
  return nullptr;
}

// attentionGrad(heap, dout, q, k, v, probs, dq, dk, dv, B, H, Hkv, T, S, D, scale): the gradients of
// attention's inputs from dout (B, H, T, D) and the forward's probs. Per group, with dS = P ⊙ (dP − rowΣ dP⊙P):
// dP = dO·Vᵀ, dV = Pᵀ·dO, dQ = scale·dS·K, dK = scale·dSᵀ·Q (dK and dV sum over the group's query heads).
napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 15, "attentionGrad");
  if (!a.ok) return nullptr;
  const int B = int(a.v[8]), H = int(a.v[9]), Hkv = int(a.v[10]), T = int(a.v[11]), S = int(a.v[12]), D = int(a.v[13]);
  const float scale = float(a.v[14]);
  if (B <= 0 || H <= 0 || Hkv <= 0 || H % Hkv != 0 || T <= 0 || S <= 0 || D <= 0) return Throw(env, "attentionGrad: bad sizes");
  const double q = double(B) * H * T * D, kv = double(B) * Hkv * S * D;
  float *dO = At(a, a.v[0], q), *Q = At(a, a.v[1], q), *K = At(a, a.v[2], kv), *V = At(a, a.v[3], kv), *P = At(a, a.v[4], double(B) * H * T * S);
  float *dQ = At(a, a.v[5], q), *dK = At(a, a.v[6], kv), *dV = At(a, a.v[7], kv);
  if (!dO || !Q || !K || !V || !P || !dQ || !dK || !dV) return Throw(env, "attentionGrad: an operand lies outside the heap");
  const int g = H / Hkv, rows = g * T;
  std::vector<float> dP(size_t(rows) * S);
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < Hkv; h++) {
      const size_t grp = size_t(b * H + h * g), kvAt = size_t(b * Hkv + h) * S * D;
      const float *dOg = dO + grp * T * D, *Qg = Q + grp * T * D, *Pg = P + grp * T * S;
      qlora::sgemm(kRowMajor, kNoTrans, kTrans, rows, S, D, 1.0f, dOg, D, V + kvAt, D, 0.0f, dP.data(), S);
      qlora::sgemm(kRowMajor, kTrans, kNoTrans, S, D, rows, 1.0f, Pg, S, dOg, D, 0.0f, dV + kvAt, D);
      for (int r = 0; r < rows; r++) SoftmaxGradRow(dP.data() + size_t(r) * S, Pg + size_t(r) * S, S);
      qlora::sgemm(kRowMajor, kNoTrans, kNoTrans, rows, D, S, scale, dP.data(), S, K + kvAt, D, 0.0f, dQ + grp * T * D, D);
      qlora::sgemm(kRowMajor, kTrans, kNoTrans, S, D, rows, scale, dP.data(), S, Qg, D, 0.0f, dK + kvAt, D);
    }
  }
  return nullptr;
}

// swiglu(heap, g, u, y, n): y = silu(g)·u = g·σ(g)·u over n floats.
napi_value Swiglu(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 4, "swiglu");
  if (!a.ok) return nullptr;
  const double n = a.v[3];
  const float *G = At(a, a.v[0], n), *U = At(a, a.v[1], n);
  float *Y = At(a, a.v[2], n);
  if (!G || !U || !Y || n < 0) return Throw(env, "swiglu: an operand lies outside the heap");
  SwigluLoop(G, U, Y, size_t(n));
  return nullptr;
}

// swigluGrad(heap, g, u, dy, dg, du, n): du = dy·g·σ(g), dg = dy·u·σ(g)·(1 + g·(1 − σ(g))).
napi_value SwigluGrad(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 6, "swigluGrad");
  if (!a.ok) return nullptr;
  const double n = a.v[5];
  const float *G = At(a, a.v[0], n), *U = At(a, a.v[1], n), *DY = At(a, a.v[2], n);
  float *DG = At(a, a.v[3], n), *DU = At(a, a.v[4], n);
  if (!G || !U || !DY || !DG || !DU || n < 0) return Throw(env, "swigluGrad: an operand lies outside the heap");
  SwigluGradLoop(G, U, DY, DG, DU, size_t(n));
  return nullptr;
}

// Dropout's mask bit for element i: murmur3's finalizer of the seed's hash plus i times the
// golden-ratio constant — lib/nn/dropout.ts's dropoutHash; the cuda kernel computes the same bits.
static inline uint32_t Fmix32(uint32_t h) {
  h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; return h ^ (h >> 16);
}

VECTOR_CLONES void DropoutLoop(const float *X, float *Y, size_t n, uint32_t seedHash, uint32_t threshold, float scale) {
  for (size_t i = 0; i < n; i++) Y[i] = (Fmix32(seedHash + uint32_t(i) * 0x9e3779b9u) >> 8) >= threshold ? X[i] * scale : 0.0f;
}

// dropout(heap, x, y, n, seed, threshold, scale): y = x·scale where the hash of (seed, i) >> 8 ≥
// threshold, else 0 — lib/nn/dropout.ts's dropoutValues, in place on the heap.
napi_value Dropout(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 6, "dropout");
  if (!a.ok) return nullptr;
  const double n = a.v[2];
  const float *X = At(a, a.v[0], n);
  float *Y = At(a, a.v[1], n);
  if (!X || !Y || n < 0) return Throw(env, "dropout: an operand lies outside the heap");
  DropoutLoop(X, Y, size_t(n), Fmix32(uint32_t(a.v[3])), uint32_t(a.v[4]), float(a.v[5]));
  return nullptr;
}

// dequant4(heap, packed, code, absmax, nestedAbsmax, nestedCode, out, rows, cols, blocksize, transpose,
// nested, nestedBlocksize, offset): lib/quant/dequantize_op.ts's dequantizeWords on the heap, bit for
// bit — 4-bit codes (8 per int32 word, element e in byte e >> 1, high nibble when e is even) times
// their block's absmax (double-quantized: an 8-bit code times the nested absmax, plus offset) into
// out (rows, cols), or its transpose (cols, rows) in 32 × 32 tiles. nestedAbsmax and nestedCode are
// read only when nested.
napi_value Dequant4(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 13, "dequant4");
  if (!a.ok) return nullptr;
  const double rows = a.v[6], cols = a.v[7], n = rows * cols, blocksize = a.v[8];
  const bool transpose = a.v[9] != 0, nested = a.v[10] != 0;
  const double nestedBlocksize = a.v[11];
  if (!(blocksize >= 8) || std::fmod(std::log2(blocksize), 1.0) != 0 || (nested && !(nestedBlocksize >= 1))) return Throw(env, "dequant4: bad block sizes");
  const double nBlocks = std::ceil(n / blocksize);
  const uint32_t *P = reinterpret_cast<const uint32_t *>(At(a, a.v[0], std::ceil(n / 8)));
  const float *C = At(a, a.v[1], 16);
  const float *A = At(a, a.v[2], nested ? std::ceil(nBlocks / 4) : nBlocks);
  const float *NA = nested ? At(a, a.v[3], std::ceil(nBlocks / nestedBlocksize)) : nullptr;
  const float *NC = nested ? At(a, a.v[4], 256) : nullptr;
  float *Y = At(a, a.v[5], n);
  if (!P || !C || !A || !Y || (nested && (!NA || !NC)) || n < 0) return Throw(env, "dequant4: an operand lies outside the heap");
  std::vector<float> expanded;
  const float *S = A;
  if (nested) {
    const uint32_t *words = reinterpret_cast<const uint32_t *>(A);
    expanded.resize(size_t(nBlocks));
    const size_t nb = size_t(nestedBlocksize);
    // As the JavaScript does it: the float32 product (exact in double, then rounded), plus offset in
    // double, rounded to float32 — no fused multiply-add can merge the two roundings.
    for (size_t b = 0; b < expanded.size(); b++) {
      const float prod = float(double(NC[(words[b >> 2] >> (8 * (b & 3))) & 255u]) * double(NA[b / nb]));
      expanded[b] = float(double(prod) + a.v[12]);
    }
    S = expanded.data();
  }
  const int shift = int(std::log2(blocksize));
  const size_t R = size_t(rows), K = size_t(cols), N = size_t(n);
  auto at = [&](size_t e) { return C[(P[e >> 3] >> (8 * ((e >> 1) & 3) + ((e & 1) == 0 ? 4 : 0))) & 15u] * S[e >> shift]; };
  if (!transpose) {
    for (size_t e = 0; e < N; e++) Y[e] = at(e);
    return nullptr;
  }
  const size_t tile = 32;
  for (size_t r0 = 0; r0 < R; r0 += tile) {
    const size_t r1 = std::min(r0 + tile, R);
    for (size_t c0 = 0; c0 < K; c0 += tile) {
      const size_t c1 = std::min(c0 + tile, K);
      for (size_t c = c0; c < c1; c++) for (size_t r = r0; r < r1; r++) Y[c * R + r] = at(r * K + c);
    }
  }
  return nullptr;
}

// rmsNorm(heap, x, weight, y, rstd, N, D, eps): per row of x (N, D), rstd = 1 / √(mean(x²) + eps) and
// y = (x · rstd) · weight, rounded where the composite form of tf ops rounds.
napi_value RmsNorm(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 7, "rmsNorm");
  if (!a.ok) return nullptr;
  const double N = a.v[4], D = a.v[5];
  const float eps = float(a.v[6]);
  const float *X = At(a, a.v[0], N * D), *W = At(a, a.v[1], D);
  float *Y = At(a, a.v[2], N * D), *R = At(a, a.v[3], N);
  if (!X || !W || !Y || !R || D <= 0) return Throw(env, "rmsNorm: an operand lies outside the heap");
  const size_t d = size_t(D);
  for (size_t n = 0; n < size_t(N); n++) {
    const float *x = X + n * d;
    float *y = Y + n * d;
    float ss = 0;
    for (size_t i = 0; i < d; i++) ss += x[i] * x[i];
    const float r = 1.0f / std::sqrt(ss / float(D) + eps);
    R[n] = r;
    for (size_t i = 0; i < d; i++) y[i] = (x[i] * r) * W[i];
  }
  return nullptr;
}

// rmsNormGrad(heap, dy, x, weight, rstd, dx, N, D): dx = r·dy·w − x·r³/D · Σ dy·w·x per row.
napi_value RmsNormGrad(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 7, "rmsNormGrad");
  if (!a.ok) return nullptr;
  const double N = a.v[5], D = a.v[6];
  const float *DY = At(a, a.v[0], N * D), *X = At(a, a.v[1], N * D), *W = At(a, a.v[2], D), *R = At(a, a.v[3], N);
  float *DX = At(a, a.v[4], N * D);
  if (!DY || !X || !W || !R || !DX || D <= 0) return Throw(env, "rmsNormGrad: an operand lies outside the heap");
  const size_t d = size_t(D);
  for (size_t n = 0; n < size_t(N); n++) {
    const float *dy = DY + n * d, *x = X + n * d;
    float *dx = DX + n * d;
    const float r = R[n];
    double dot = 0;
    for (size_t i = 0; i < d; i++) dot += double(dy[i] * W[i]) * x[i];
    const float c = float(dot * r * r * r / D);
    for (size_t i = 0; i < d; i++) dx[i] = r * dy[i] * W[i] - x[i] * c;
  }
  return nullptr;
}

// rmsNormWeightGrad(heap, x, rstd, dy, dweight, N, D): dweight = Σ over the N rows of dy·x·rstd.
napi_value RmsNormWeightGrad(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 6, "rmsNormWeightGrad");
  if (!a.ok) return nullptr;
  const double N = a.v[4], D = a.v[5];
  const float *X = At(a, a.v[0], N * D), *R = At(a, a.v[1], N), *DY = At(a, a.v[2], N * D);
  float *DW = At(a, a.v[3], D);
  if (!X || !R || !DY || !DW || D <= 0) return Throw(env, "rmsNormWeightGrad: an operand lies outside the heap");
  const size_t d = size_t(D);
  std::fill(DW, DW + d, 0.0f);
  for (size_t n = 0; n < size_t(N); n++) AxpyProductRow(DY + n * d, X + n * d, R[n], DW, d);
  return nullptr;
}

// rope(heap, x, cos, sin, y, B, H, T, D, sign): the rotation of RoPE (sign 1) or its transpose (sign −1),
// x and y (B, H, T, D), cos and sin (B, 1, T, D); RotateRow has the formulas.
napi_value Rope(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 9, "rope");
  if (!a.ok) return nullptr;
  const int B = int(a.v[4]), H = int(a.v[5]), T = int(a.v[6]), D = int(a.v[7]);
  const bool forward = a.v[8] > 0;
  if (B <= 0 || H <= 0 || T <= 0 || D <= 0 || D % 2 != 0) return Throw(env, "rope: bad sizes");
  const double n = double(B) * H * T * D, table = double(B) * T * D;
  const float *X = At(a, a.v[0], n), *C = At(a, a.v[1], table), *S = At(a, a.v[2], table);
  float *Y = At(a, a.v[3], n);
  if (!X || !C || !S || !Y) return Throw(env, "rope: an operand lies outside the heap");
  for (int b = 0; b < B; b++) {
    for (int head = 0; head < H; head++) {
      for (int t = 0; t < T; t++) {
        const size_t row = (size_t(b * H + head) * T + t) * D, table = (size_t(b) * T + t) * D;
        RotateRow(X + row, C + table, S + table, Y + row, D, forward);
      }
    }
  }
  return nullptr;
}

// Query rows per block in ropeAttention: each block multiplies only the keys its rows can see.
constexpr int kRowBlock = 32;

// limit[t] = 1 + the last key s that query t sees (mask > −1e20: masked entries are −1e30, whose
// probability is exactly 0), or T for a fully masked row (its softmax is uniform over every key).
void KeyLimits(const float *mask, int T, int *limit) {
  for (int t = 0; t < T; t++) {
    const float *m = mask + size_t(t) * T;
    int last = T - 1;
    while (last >= 0 && m[last] <= -1e20f) last--;
    limit[t] = last < 0 ? T : last + 1;
  }
}

// The same limits from the forward's probabilities (B's H heads share a mask): 1 + the last nonzero
// probability of row t over all heads.
void ProbLimits(const float *P, int H, int T, int *limit) {
  for (int t = 0; t < T; t++) {
    int lim = 0;
    for (int h = 0; h < H; h++) {
      const float *p = P + (size_t(h) * T + t) * T;
      int last = T - 1;
      while (last >= lim && p[last] == 0.0f) last--;
      lim = std::max(lim, last + 1);
    }
    limit[t] = lim == 0 ? T : lim;
  }
}

// ropeAttention(heap, q, k, v, cos, sin, mask, out, qr, kr, vh, probs, B, H, Hkv, T, D, maskBatch, scale):
// Llama's attention from the projections' outputs, without a cache: q (B, T, H·D), k and v (B, T, Hkv·D),
// cos and sin (B, 1, T, D), mask (maskBatch, T, T) → out (B, T, H·D), the heads merged, as
// attention(rope(q), rope(k), v) in (B, heads, T, D) layout would give after its transposes; the rotated
// heads qr (B, H, T, D), kr (B, Hkv, T, D), the value heads vh and probs (B, H, T, T) are kept for backward.
napi_value RopeAttention(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 18, "ropeAttention");
  if (!a.ok) return nullptr;
  const int B = int(a.v[11]), H = int(a.v[12]), Hkv = int(a.v[13]), T = int(a.v[14]), D = int(a.v[15]), MB = int(a.v[16]);
  const float scale = float(a.v[17]);
  if (B <= 0 || H <= 0 || Hkv <= 0 || H % Hkv != 0 || T <= 0 || D <= 0 || D % 2 != 0 || (MB != 1 && MB != B)) return Throw(env, "ropeAttention: bad sizes");
  const double q = double(B) * H * T * D, kv = double(B) * Hkv * T * D, table = double(B) * T * D;
  const float *Q = At(a, a.v[0], q), *K = At(a, a.v[1], kv), *V = At(a, a.v[2], kv), *C = At(a, a.v[3], table), *Sn = At(a, a.v[4], table);
  const float *M = At(a, a.v[5], double(MB) * T * T);
  float *O = At(a, a.v[6], q), *QR = At(a, a.v[7], q), *KR = At(a, a.v[8], kv), *VH = At(a, a.v[9], kv), *P = At(a, a.v[10], double(B) * H * T * T);
  if (!Q || !K || !V || !C || !Sn || !M || !O || !QR || !KR || !VH || !P) return Throw(env, "ropeAttention: an operand lies outside the heap");
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      const size_t tab = (size_t(b) * T + t) * D;
      for (int h = 0; h < H; h++) RotateRow(Q + (size_t(b * T + t) * H + h) * D, C + tab, Sn + tab, QR + (size_t(b * H + h) * T + t) * D, D, true);
      for (int h = 0; h < Hkv; h++) {
        const size_t from = (size_t(b * T + t) * Hkv + h) * D, to = (size_t(b * Hkv + h) * T + t) * D;
        RotateRow(K + from, C + tab, Sn + tab, KR + to, D, true);
        std::memcpy(VH + to, V + from, sizeof(float) * D);
      }
    }
  }
  // Per head and block of query rows, only the keys up to the block's last visible one: with a
  // causal mask ≈ 60 % of the products (their probabilities are exactly 0).
  std::vector<int> limit(T);
  for (int b = 0; b < B; b++) {
    const float *Mb = M + size_t(MB == 1 ? 0 : b) * T * T;
    KeyLimits(Mb, T, limit.data());
    for (int head = 0; head < H; head++) {
      const size_t kvAt = size_t(b * Hkv + head / (H / Hkv)) * T * D;
      const float *Qh = QR + size_t(b * H + head) * T * D;
      float *Ph = P + size_t(b * H + head) * T * T;
      float *Oh = O + size_t(b) * T * H * D + size_t(head) * D;  // (T, D) with row stride H·D in (B, T, H·D)
      for (int t0 = 0; t0 < T; t0 += kRowBlock) {
        const int n = std::min(kRowBlock, T - t0), L = *std::max_element(limit.data() + t0, limit.data() + t0 + n);
        qlora::sgemm(kRowMajor, kNoTrans, kTrans, n, L, D, scale, Qh + size_t(t0) * D, D, KR + kvAt, D, 0.0f, Ph + size_t(t0) * T, T);
        for (int r = t0; r < t0 + n; r++) {
          MaskedSoftmaxRow(Ph + size_t(r) * T, Mb + size_t(r) * T, L);
          std::fill(Ph + size_t(r) * T + L, Ph + size_t(r + 1) * T, 0.0f);
        }
        qlora::sgemm(kRowMajor, kNoTrans, kNoTrans, n, D, L, 1.0f, Ph + size_t(t0) * T, T, VH + kvAt, D, 0.0f, Oh + size_t(t0) * H * D, H * D);
      }
    }
  }
  return nullptr;
}

// ropeAttentionGrad(heap, dout, qr, kr, vh, probs, cos, sin, dq, dk, dv, B, H, Hkv, T, D, scale): the gradients
// of ropeAttention's q, k, v (in their (B, T, heads·D) layouts) from dout (B, T, H·D). As attentionGrad per
// group, reading dout and writing dv through row strides, then RoPE's transpose on dq and dk.
napi_value RopeAttentionGrad(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 16, "ropeAttentionGrad");
  if (!a.ok) return nullptr;
  const int B = int(a.v[10]), H = int(a.v[11]), Hkv = int(a.v[12]), T = int(a.v[13]), D = int(a.v[14]);
  const float scale = float(a.v[15]);
  if (B <= 0 || H <= 0 || Hkv <= 0 || H % Hkv != 0 || T <= 0 || D <= 0 || D % 2 != 0) return Throw(env, "ropeAttentionGrad: bad sizes");
  const double q = double(B) * H * T * D, kv = double(B) * Hkv * T * D, table = double(B) * T * D;
  const float *dO = At(a, a.v[0], q), *QR = At(a, a.v[1], q), *KR = At(a, a.v[2], kv), *VH = At(a, a.v[3], kv), *P = At(a, a.v[4], double(B) * H * T * T);
  const float *C = At(a, a.v[5], table), *Sn = At(a, a.v[6], table);
  float *dQ = At(a, a.v[7], q), *dK = At(a, a.v[8], kv), *dV = At(a, a.v[9], kv);
  if (!dO || !QR || !KR || !VH || !P || !C || !Sn || !dQ || !dK || !dV) return Throw(env, "ropeAttentionGrad: an operand lies outside the heap");
  // As the forward, per block of query rows only the keys up to the block's last nonzero probability.
  const int g = H / Hkv, rows = g * T;
  std::vector<float> dP(size_t(kRowBlock) * T), dQg(size_t(rows) * D), dKh(size_t(T) * D);
  std::vector<int> limit(T);
  for (int b = 0; b < B; b++) {
    ProbLimits(P + size_t(b) * H * T * T, H, T, limit.data());
    for (int h = 0; h < Hkv; h++) {
      const size_t grp = size_t(b * H + h * g), kvAt = size_t(b * Hkv + h) * T * D;
      float *dVh = dV + size_t(b) * T * Hkv * D + size_t(h) * D;  // (T, D) with row stride Hkv·D
      for (int t = 0; t < T; t++) std::fill(dVh + size_t(t) * Hkv * D, dVh + size_t(t) * Hkv * D + D, 0.0f);
      std::fill(dKh.begin(), dKh.end(), 0.0f);
      for (int i = 0; i < g; i++) {
        const float *dOh = dO + size_t(b) * T * H * D + size_t(h * g + i) * D;  // (T, D) with row stride H·D
        const float *Ph = P + (grp + i) * T * T, *Qh = QR + (grp + i) * T * D;
        for (int t0 = 0; t0 < T; t0 += kRowBlock) {
          const int n = std::min(kRowBlock, T - t0), L = *std::max_element(limit.data() + t0, limit.data() + t0 + n);
          const float *dOb = dOh + size_t(t0) * H * D, *Pb = Ph + size_t(t0) * T;
          qlora::sgemm(kRowMajor, kNoTrans, kTrans, n, L, D, 1.0f, dOb, H * D, VH + kvAt, D, 0.0f, dP.data(), T);
          qlora::sgemm(kRowMajor, kTrans, kNoTrans, L, D, n, 1.0f, Pb, T, dOb, H * D, 1.0f, dVh, Hkv * D);
          for (int r = 0; r < n; r++) SoftmaxGradRow(dP.data() + size_t(r) * T, Pb + size_t(r) * T, L);
          qlora::sgemm(kRowMajor, kNoTrans, kNoTrans, n, D, L, scale, dP.data(), T, KR + kvAt, D, 0.0f, dQg.data() + (size_t(i) * T + t0) * D, D);
          qlora::sgemm(kRowMajor, kTrans, kNoTrans, L, D, n, scale, dP.data(), T, Qh + size_t(t0) * D, D, 1.0f, dKh.data(), D);
        }
      }
      for (int t = 0; t < T; t++) {
        const size_t tab = (size_t(b) * T + t) * D;
        for (int i = 0; i < g; i++) {
          RotateRow(dQg.data() + (size_t(i) * T + t) * D, C + tab, Sn + tab, dQ + (size_t(b * T + t) * H + h * g + i) * D, D, false);
        }
        RotateRow(dKh.data() + size_t(t) * D, C + tab, Sn + tab, dK + (size_t(b * T + t) * Hkv + h) * D, D, false);
      }
    }
  }
  return nullptr;
}

// crossEntropy(heap, logits, ids, keep, loss, lse, N, V): per row of logits (N, V) with int32 target ids (N)
// and weights keep (N): lse = logsumexp(row), loss = keep · (lse − row[id]).
napi_value CrossEntropy(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 7, "crossEntropy");
  if (!a.ok) return nullptr;
  const double N = a.v[5], V = a.v[6];
  const float *X = At(a, a.v[0], N * V), *K = At(a, a.v[2], N);
  const int32_t *I = reinterpret_cast<const int32_t *>(At(a, a.v[1], N));
  float *L = At(a, a.v[3], N), *LSE = At(a, a.v[4], N);
  if (!X || !I || !K || !L || !LSE || V <= 0) return Throw(env, "crossEntropy: an operand lies outside the heap");
  const size_t v = size_t(V);
  std::vector<float> e(v);
  for (size_t n = 0; n < size_t(N); n++) {
    const float *x = X + n * v;
    const float mx = MaxOf(x, int(v));
    ExpRow(x, mx, 1.0f, e.data(), int(v));
    const float lse = mx + std::log(SumOf(e.data(), int(v)));
    LSE[n] = lse;
    const int32_t id = I[n];
    L[n] = K[n] == 0 || id < 0 || size_t(id) >= v ? 0.0f : K[n] * (lse - x[id]);
  }
  return nullptr;
}

// crossEntropyGrad(heap, logits, ids, keep, lse, dlogits, N, V, dy · invDenom):
// dlogits = (softmax(row) − onehot(id)) · keep · dy · invDenom, the softmax as e^(x − lse).
napi_value CrossEntropyGrad(napi_env env, napi_callback_info info) {
  const Args a = Parse(env, info, 8, "crossEntropyGrad");
  if (!a.ok) return nullptr;
  const double N = a.v[5], V = a.v[6];
  const float scale = float(a.v[7]);
  const float *X = At(a, a.v[0], N * V), *K = At(a, a.v[2], N), *LSE = At(a, a.v[3], N);
  const int32_t *I = reinterpret_cast<const int32_t *>(At(a, a.v[1], N));
  float *DX = At(a, a.v[4], N * V);
  if (!X || !I || !K || !LSE || !DX || V <= 0) return Throw(env, "crossEntropyGrad: an operand lies outside the heap");
  const size_t v = size_t(V);
  for (size_t n = 0; n < size_t(N); n++) {
    const float *x = X + n * v;
    float *dx = DX + n * v;
    const float k = K[n] * scale, lse = LSE[n];
    ExpRow(x, lse, k, dx, int(v));
    const int32_t id = I[n];
    if (id >= 0 && size_t(id) < v) dx[id] -= k;
  }
  return nullptr;
}

}  // namespace

namespace qlora {

void RegisterFusedKernels(napi_env env, napi_value exports) {
  const struct { const char *name; napi_callback fn; } fns[] = {
      {"attention", Attention}, {"attentionGrad", AttentionGrad}, {"swiglu", Swiglu}, {"swigluGrad", SwigluGrad}, {"dropout", Dropout}, {"dequant4", Dequant4},
      {"ropeAttention", RopeAttention}, {"ropeAttentionGrad", RopeAttentionGrad}, {"rmsNorm", RmsNorm}, {"rmsNormGrad", RmsNormGrad}, {"rmsNormWeightGrad", RmsNormWeightGrad}, {"rope", Rope},
      {"crossEntropy", CrossEntropy}, {"crossEntropyGrad", CrossEntropyGrad}};
  for (const auto &f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
}

}  // namespace qlora

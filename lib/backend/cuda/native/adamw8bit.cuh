// bitsandbytes' blockwise 8-bit AdamW on the device (#included by addon.cu after its helpers).
// The host form (lib/train/optim/adamw_8bit.ts) computes in JavaScript doubles; this kernel does the
// same operations in double, in the same order, each one rounded explicitly (no FMA contraction),
// and rounds to float exactly where the host stores into a Float32Array. Codes, absmax and
// parameters therefore come out bit-identical to the host form's.

// Largest of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ double blockMaxDouble(double v, double* sh) {
  for (int o = 16; o > 0; o >>= 1) {
    double w = __shfl_down_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
  __syncthreads();
  double r = sh[0];
  for (unsigned w = 1; w < blockDim.x / 32; w++) r = sh[w] > r ? sh[w] : r;
  __syncthreads();
  return r;
}

// Index of the map entry nearest to x, the lower one on a tie (quantizeNearest in the host form;
// the host's bucketed search gives the same index). NaN gets code 0, as the host's Uint8Array stores it.
__device__ unsigned char nearestCode(const float* map, double x) {
  if (x != x) return 0;
  int lo = 0, hi = 255;
  while (hi - lo > 1) {
    int mid = (lo + hi) >> 1;
    if ((double)map[mid] <= x) lo = mid;
    else hi = mid;
  }
  return __dsub_rn(x, (double)map[lo]) <= __dsub_rn((double)map[hi], x) ? lo : hi;
}

// One thread block per quantization block of `blockSize` elements: dequantize m and v (code × block
// absmax), AdamW update of p, the block's new absmax, re-quantize. Shared memory: both maps, then
// the block's new m and v rounded to float (the host keeps them in Float32Arrays).
__global__ void kAdamW8bit(const float* p, const float* g, const unsigned char* c1, const unsigned char* c2, const float* a1, const float* a2,
                           const float* map1g, const float* map2g, float* po, unsigned char* c1o, unsigned char* c2o, float* a1o, float* a2o,
                           long long n, int blockSize, double b1, double b2, double eps, double shrink, double stepSize, double bc2s) {
  extern __shared__ float sh8[];
  __shared__ double red[32];
  float* map1 = sh8;
  float* map2 = sh8 + 256;
  float* ms = sh8 + 512;
  float* vs = ms + blockSize;
  for (int i = threadIdx.x; i < 256; i += blockDim.x) { map1[i] = map1g[i]; map2[i] = map2g[i]; }
  __syncthreads();
  const long long start = (long long)blockIdx.x * blockSize;
  const int len = (int)(n - start < blockSize ? n - start : blockSize);
  const double A1 = a1[blockIdx.x], A2 = a2[blockIdx.x];
  const double omb1 = __dsub_rn(1.0, b1), omb2 = __dsub_rn(1.0, b2);
  double max1 = 0, max2 = 0;
  for (int k = threadIdx.x; k < len; k += blockDim.x) {
    const long long j = start + k;
    const double gj = g[j];
    // m2 = MAP1[c1]·a1·b1 + (1 − b1)·g;  v2 = MAP2[c2]·a2·b2 + (1 − b2)·g·g
    const double m2 = __dadd_rn(__dmul_rn(__dmul_rn((double)map1[c1[j]], A1), b1), __dmul_rn(omb1, gj));
    const double v2 = __dadd_rn(__dmul_rn(__dmul_rn((double)map2[c2[j]], A2), b2), __dmul_rn(__dmul_rn(omb2, gj), gj));
    // p = p·shrink − stepSize · (m2 / (√v2 / bc2Sqrt + eps))
    const double den = __dadd_rn(__ddiv_rn(__dsqrt_rn(v2), bc2s), eps);
    po[j] = __double2float_rn(__dsub_rn(__dmul_rn((double)p[j], shrink), __dmul_rn(stepSize, __ddiv_rn(m2, den))));
    ms[k] = __double2float_rn(m2);
    vs[k] = __double2float_rn(v2);
    if (fabs(m2) > max1) max1 = fabs(m2);
    if (v2 > max2) max2 = v2;
  }
  max1 = blockMaxDouble(max1, red);
  max2 = blockMaxDouble(max2, red);
  if (threadIdx.x == 0) { a1o[blockIdx.x] = __double2float_rn(max1); a2o[blockIdx.x] = __double2float_rn(max2); }
  for (int k = threadIdx.x; k < len; k += blockDim.x) {
    const long long j = start + k;
    c1o[j] = nearestCode(map1, max1 > 0 ? __ddiv_rn((double)ms[k], max1) : 0.0);
    c2o[j] = nearestCode(map2, max2 > 0 ? __ddiv_rn((double)vs[k], max2) : 0.0);
  }
}

// (p, g, c1, c2, a1, a2, map1, map2, po, c1o, c2o, a1o, a2o, n, blockSize, b1, b2, eps, shrink, stepSize, bc2Sqrt):
// one step of one parameter into new buffers; codes are one byte per element, absmax one float per block.
static napi_value AdamW8bitStep(napi_env env, napi_callback_info info) {
  auto a = args(env, info, 21);
  long long n = (long long)argNumber(env, a[13]);
  int blockSize = (int)argNumber(env, a[14]);
  if (blockSize < 1 || blockSize > 4096) return throwError(env, "adamw8bitStep: blockSize must be in [1, 4096], got " + std::to_string(blockSize));
  if (n == 0) return nullptr;
  long long blocks = (n + blockSize - 1) / blockSize;
  size_t shared = (512 + 2 * (size_t)blockSize) * sizeof(float);
  kAdamW8bit<<<(unsigned)blocks, 256, shared, gStream>>>((const float*)argPtr(env, a[0]), (const float*)argPtr(env, a[1]),
    (const unsigned char*)argPtr(env, a[2]), (const unsigned char*)argPtr(env, a[3]), (const float*)argPtr(env, a[4]), (const float*)argPtr(env, a[5]),
    (const float*)argPtr(env, a[6]), (const float*)argPtr(env, a[7]), (float*)argPtr(env, a[8]), (unsigned char*)argPtr(env, a[9]),
    (unsigned char*)argPtr(env, a[10]), (float*)argPtr(env, a[11]), (float*)argPtr(env, a[12]), n, blockSize,
    argNumber(env, a[15]), argNumber(env, a[16]), argNumber(env, a[17]), argNumber(env, a[18]), argNumber(env, a[19]), argNumber(env, a[20]));
  LAUNCH_CHECK(); return nullptr;
}

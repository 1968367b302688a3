// Selective-scan CPU kernel for one instruction set, vectorised across channels.
//
// Deliberately WITHOUT an include guard: selective_scan_cpu.cpp includes this file once per instruction
// set, each time inside its own namespace with `kVecBytes` defined and the matching target pragma active
// (and MMVM_AVX512 defined for AVX-512, where <immintrin.h> intrinsics are used).
// Hence the rules for this file: no #include, no calls into the standard library or ATen (an inline
// function instantiated here would be compiled for this target yet could be shared with baseline code),
// only builtins, `ScanParams` and code defined in this file.
//
// One work item is one batch row b and a tile of W = kVecBytes / sizeof(S) adjacent channels that share
// one group of B and one group of C. The W channels are the vector lanes, so B_t[n] and C_t[n] are
// broadcasts and the states h[n] of all W channels form one vector per n. Per chunk of kChunk steps the
// (channel, time) inputs are transposed into (time, lane) scratch rows.

template <typename S>
struct VecOf;
template <>
struct VecOf<float> {
  typedef float V __attribute__((vector_size(kVecBytes)));
  typedef int I __attribute__((vector_size(kVecBytes)));
  static constexpr int kLogTerms = 8;  // atanh series up to s^15: (1/9)^8 / 17 < 2e-9
};
template <>
struct VecOf<double> {
  typedef double V __attribute__((vector_size(kVecBytes)));
  typedef long long I __attribute__((vector_size(kVecBytes)));
  static constexpr int kLogTerms = 17;  // up to s^33: (1/9)^17 / 35 < 2e-18
};

#define MMVM_INLINE inline __attribute__((always_inline))
#define MMVM_UNROLL _Pragma("GCC unroll 16")

template <typename S>
using VT = typename VecOf<S>::V;

template <typename S>
constexpr int lanes() {
  return kVecBytes / static_cast<int>(sizeof(S));
}

template <typename V, typename S>
MMVM_INLINE V splat(S s) {
  return V{} + s;
}

// exp in double, about 1 ulp (Cody-Waite reduction, degree-13 Taylor polynomial), computed as
// 2 p(r) 2^(k - 1) with k = round(x / ln2): x is clamped below where k = -1022, and 2^(k - 1) is then the
// bit pattern 0 (results below DBL_MIN are flushed to zero); k is capped at 1025, where 2^(k - 1) is inf.
MMVM_INLINE VT<double> vexp(VT<double> x) {
  typedef VT<double> V;
  typedef VecOf<double>::I I;
  const double lo = -708.3964185322641, magic = 6755399441055744.0;
  const V xc = x < lo ? splat<V>(lo) : x;
  const V t = xc * 1.4426950408889634074 + magic;
  const V kf = t - magic;
  I k = (I)t - (I)splat<V>(magic);
  V r = xc - kf * 6.93147180369123816490e-01;
  r = r - kf * 1.90821492927058770002e-10;
  V p = splat<V>(2.0 / 6227020800.0);
  p = p * r + 2.0 / 479001600.0;
  p = p * r + 2.0 / 39916800.0;
  p = p * r + 2.0 / 3628800.0;
  p = p * r + 2.0 / 362880.0;
  p = p * r + 2.0 / 40320.0;
  p = p * r + 2.0 / 5040.0;
  p = p * r + 2.0 / 720.0;
  p = p * r + 2.0 / 120.0;
  p = p * r + 2.0 / 24.0;
  p = p * r + 2.0 / 6.0;
  p = p * r + 1.0;
  const V e2 = p * (r * r) + (r * 2.0 + 2.0);
  k = k > 1025 ? splat<I>(1025) : k;
  return e2 * (V)((k + 1022) << 52);
}

// The decay exp(delta A) of the recurrence. Float: 2^t with t = delta (A log2(e)), A pre-scaled by
// prepare_A; 2^t = 2^k 2^r, k = round(t), Cephes' exp2f polynomial on r in [-1/2, 1/2] (relative error
// about 2e-7 from rounding t); 0 below t = -125.5, so no denormal results. Double: vexp (1 ulp).
MMVM_INLINE float prepare_A(float a) { return a * 1.44269504088896341f; }
MMVM_INLINE double prepare_A(double a) { return a; }

MMVM_INLINE VT<float> exp2_poly(VT<float> r) {
  VT<float> p = splat<VT<float>>(1.535336188319500e-4f);
  p = p * r + 1.339887440266574e-3f;
  p = p * r + 9.618437357674640e-3f;
  p = p * r + 5.550332471162809e-2f;
  p = p * r + 2.402264791363012e-1f;
  p = p * r + 6.931472028550421e-1f;
  return p * r + 1.0f;
}

#if defined(MMVM_AVX512)
MMVM_INLINE VT<float> decay(VT<float> dt, VT<float> a2) {
  const __m512 t = (__m512)(dt * a2);
  const __m512 k = _mm512_maskz_roundscale_ps(0xFFFF, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 p = (__m512)exp2_poly((VT<float>)_mm512_sub_ps(t, k));
  const __mmask16 keep = _mm512_cmp_ps_mask(t, _mm512_set1_ps(-125.5f), _CMP_NLT_UQ);  // NaN kept
  return (VT<float>)_mm512_maskz_scalef_ps(keep, p, k);
}
#else
MMVM_INLINE VT<float> decay(VT<float> dt, VT<float> a2) {
  typedef VT<float> V;
  typedef VecOf<float>::I I;
  const float magic = 12582912.0f;
  V t = dt * a2;
  t = t < -126.0f ? splat<V>(-126.0f) : t;  // below -125.5, k = -126: 2^(k - 1) is the bit pattern 0
  const V tm = t + magic;
  I k = (I)tm - (I)splat<V>(magic);
  const V r = t - (tm - magic);
  k = k > 129 ? splat<I>(129) : k;  // 2^(k - 1) = inf
  return (exp2_poly(r) * 2.0f) * (V)((k + 126) << 23);
}
#endif

MMVM_INLINE VT<double> decay(VT<double> dt, VT<double> a) { return vexp(dt * a); }

// exp for softplus and silu, on x <= 0: the decay's exp2 for float (relative error below 2e-6 for
// x >= -20, where the result stays well above the other terms' rounding), vexp for double.
MMVM_INLINE VT<float> vexp_neg(VT<float> x) { return decay(x, splat<VT<float>>(1.44269504088896341f)); }
MMVM_INLINE VT<double> vexp_neg(VT<double> x) { return vexp(x); }

// log1p(y) for y in [0, 1] as 2 atanh(s) = 2 (s + s^3 / 3 + s^5 / 5 + ...), s = y / (2 + y) in [0, 1/3].
template <typename S>
MMVM_INLINE VT<S> vlog1p_unit(VT<S> y) {
  typedef VT<S> V;
  const V s = y / (y + S(2));
  const V s2 = s * s;
  constexpr int kTerms = VecOf<S>::kLogTerms;
  V p = splat<V>(S(2) / S(2 * kTerms - 1));
  MMVM_UNROLL
  for (int i = kTerms - 2; i >= 0; --i) p = p * s2 + S(2) / S(2 * i + 1);
  return s * p;
}

// softplus(x) with PyTorch's threshold 20 (x > 20 ? x : log1p(exp(x))) and its derivative sigmoid(x).
template <typename S>
MMVM_INLINE void vsoftplus(VT<S> x, VT<S>& sp, VT<S>& sig) {
  typedef VT<S> V;
  const V ax = x < S(0) ? -x : x;
  const V e = vexp_neg(-ax);
  const V l = vlog1p_unit<S>(e);
  sp = (x > S(0) ? x : splat<V>(S(0))) + l;
  sp = x > S(20) ? x : sp;
  const V inv = S(1) / (e + S(1));
  sig = x >= S(0) ? inv : e * inv;
  sig = x > S(20) ? splat<V>(S(1)) : sig;
}

// silu(z) = z sigmoid(z) and its derivative sigmoid(z) (1 + z (1 - sigmoid(z))).
template <typename S>
MMVM_INLINE void vsilu(VT<S> z, VT<S>& silu, VT<S>& dsilu) {
  typedef VT<S> V;
  const V e = vexp_neg(z < S(0) ? z : -z);
  const V inv = S(1) / (e + S(1));
  const V s = z >= S(0) ? inv : e * inv;
  silu = z * s;
  dsilu = s * (S(1) + z * (S(1) - s));
}

// Lanes 0..nl-1 from p[0], p[stride], ...; the other lanes are zero.
template <typename S>
MMVM_INLINE VT<S> load_lanes(const S* p, long long stride, long long nl) {
  VT<S> v = {};
  for (long long w = 0; w < nl; ++w) v[w] = p[w * stride];
  return v;
}

template <typename S>
MMVM_INLINE void store_lanes(VT<S> v, S* p, long long stride, long long nl) {
  for (long long w = 0; w < nl; ++w) p[w * stride] = v[w];
}

template <typename S>
MMVM_INLINE void add_lanes(VT<S> v, S* p, long long stride, long long nl) {
  for (long long w = 0; w < nl; ++w) p[w * stride] += v[w];
}

template <int... I>
struct Seq {};
template <int N, int... I>
struct MakeSeq : MakeSeq<N - 1, N - 1, I...> {};
template <int... I>
struct MakeSeq<0, I...> {
  typedef Seq<I...> type;
};

// Lane i of the result is lane c_i of the concatenation (a, b).
template <int... c, typename V>
MMVM_INLINE V shuffle2(V a, V b) {
#if defined(__clang__) || __GNUC__ >= 12
  return __builtin_shufflevector(a, b, c...);
#else
  typedef decltype(a < a) I;  // the integer vector of V's lane width
  return __builtin_shuffle(a, b, I{c...});
#endif
}

// One stage of a W x W transpose: rows a and b (b = a + h) swap their off-diagonal blocks of width h.
template <int W, int h, typename V, int... c>
MMVM_INLINE void swap_blocks(V& a, V& b, Seq<c...>) {
  const V lo = shuffle2<((c & h) ? W + c - h : c)...>(a, b);
  const V hi = shuffle2<((c & h) ? W + c : c + h)...>(a, b);
  a = lo;
  b = hi;
}

template <typename S, int h>
struct Transpose {
  static MMVM_INLINE void run(VT<S>* v) {
    constexpr int W = lanes<S>();
    MMVM_UNROLL
    for (int i = 0; i < W; ++i)
      if (!(i & h)) swap_blocks<W, h>(v[i], v[i + h], typename MakeSeq<W>::type());
    Transpose<S, h / 2>::run(v);
  }
};
template <typename S>
struct Transpose<S, 0> {
  static MMVM_INLINE void run(VT<S>*) {}
};

// Each block of width B of a and of b folded to width B / 2 (sum of its halves); blocks alternate a, b.
template <int W, int B, typename V, int... c>
MMVM_INLINE V fold_pair(V a, V b, Seq<c...>) {
  constexpr int H = B / 2;
  const V x = shuffle2<(((c / H) % 2) * W + (c / H / 2) * B + c % H)...>(a, b);
  const V y = shuffle2<(((c / H) % 2) * W + (c / H / 2) * B + c % H + H)...>(a, b);
  return x + y;
}

template <typename S, int B>
struct LaneSums {
  // v: B vectors, each made of W / B blocks of width B, one per row of the original W.
  static MMVM_INLINE VT<S> run(VT<S>* v) {
    constexpr int W = lanes<S>(), K = B;
    MMVM_UNROLL
    for (int i = 0; i < K / 2; ++i) v[i] = fold_pair<W, B>(v[i], v[i + K / 2], typename MakeSeq<W>::type());
    return LaneSums<S, B / 2>::run(v);
  }
};
template <typename S>
struct LaneSums<S, 1> {
  static MMVM_INLINE VT<S> run(VT<S>* v) { return v[0]; }
};

// Lane j of the result is the sum of the lanes of v[j]; v is overwritten.
template <typename S>
MMVM_INLINE VT<S> lane_sums(VT<S>* v) {
  return LaneSums<S, lanes<S>()>::run(v);
}

template <typename S>
MMVM_INLINE VT<S> load_unaligned(const S* p) {
  VT<S> v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}

template <typename S>
MMVM_INLINE void store_unaligned(VT<S> v, S* p) {
  __builtin_memcpy(p, &v, sizeof(v));
}

// (nl channels, len steps) starting at src, channel stride ld -> rows[t * W + lane]; padding lanes are 0.
template <typename S>
MMVM_INLINE void to_rows(const S* src, long long ld, long long nl, long long len, S* rows) {
  typedef VT<S> V;
  constexpr int W = lanes<S>();
  long long t = 0;
  for (; t + W <= len; t += W) {
    V v[W];
    MMVM_UNROLL
    for (int w = 0; w < W; ++w) v[w] = w < nl ? load_unaligned(src + w * ld + t) : V{};
    Transpose<S, W / 2>::run(v);
    MMVM_UNROLL
    for (int j = 0; j < W; ++j) reinterpret_cast<V*>(rows)[t + j] = v[j];
  }
  for (long long w = 0; w < W; ++w)
    for (long long tt = t; tt < len; ++tt) rows[tt * W + w] = w < nl ? src[w * ld + tt] : S(0);
}

template <typename S>
MMVM_INLINE void from_rows(const S* rows, long long ld, long long nl, long long len, S* dst) {
  typedef VT<S> V;
  constexpr int W = lanes<S>();
  long long t = 0;
  for (; t + W <= len; t += W) {
    V v[W];
    MMVM_UNROLL
    for (int j = 0; j < W; ++j) v[j] = reinterpret_cast<const V*>(rows)[t + j];
    Transpose<S, W / 2>::run(v);
    for (int w = 0; w < nl; ++w) store_unaligned(v[w], dst + w * ld + t);
  }
  for (long long w = 0; w < nl; ++w)
    for (long long tt = t; tt < len; ++tt) dst[w * ld + tt] = rows[tt * W + w];
}

template <typename S>
MMVM_INLINE VT<S>* rows_at(S* base, long long t) {
  return reinterpret_cast<VT<S>*>(base + t * lanes<S>());
}

template <typename S>
MMVM_INLINE const VT<S>* rows_at(const S* base, long long t) {
  return reinterpret_cast<const VT<S>*>(base + t * lanes<S>());
}

// Adds bias and applies softplus to the delta rows in place; `sig` (may be null) gets softplus'.
template <typename S>
MMVM_INLINE void prepare_delta(S* rows, S* sig, long long len, VT<S> bias, bool softplus) {
  typedef VT<S> V;
  for (long long t = 0; t < len; ++t) {
    V x = *rows_at(rows, t) + bias;
    if (softplus) {
      V s;
      vsoftplus<S>(x, x, s);
      if (sig) *rows_at(sig, t) = s;
    }
    *rows_at(rows, t) = x;
  }
}

// Scratch sizes in elements of S (each region a multiple of W elements, so that all stay vector-aligned).
// Forward: 4 rows, then h and A for a runtime N. Backward: 9 rows, HAs, As, then h, g, A, prepared A and
// dA for a runtime N, then accB and accC, (L, N, W) each.
template <typename S>
long long forward_workspace(long long N) {
  return (4 * kChunk + 2 * N) * lanes<S>();
}

template <typename S>
long long backward_workspace(long long N, long long L) {
  return (9 * kChunk + 2 * kChunk * N + 5 * N + 2 * L * N) * lanes<S>();
}

// Forward of one work item (batch row b, channel tile `tile`). NS: N when it is a compile-time constant.
template <typename S, int NS>
void forward_item(const ScanParams<S>& p, long long b, long long tile, S* ws) {
  typedef VT<S> V;
  constexpr int W = lanes<S>();
  const long long N = NS > 0 ? NS : p.N, L = p.L, dim = p.dim;
  const long long d0 = p.tile_d0[tile], nl = p.tile_nl[tile];
  const S* Bp = p.B + (b * p.GB + d0 / (dim / p.GB)) * N * L;
  const S* Cp = p.C + (b * p.GC + d0 / (dim / p.GC)) * N * L;
  S* ru = ws;
  S* rd = ru + kChunk * W;
  S* rz = rd + kChunk * W;
  S* ry = rz + kChunk * W;
  const bool has_z = p.z != nullptr;
  V h_local[NS > 0 ? NS : 1], a_local[NS > 0 ? NS : 1];
  V* h = NS > 0 ? h_local : reinterpret_cast<V*>(ry + kChunk * W);
  V* Av = NS > 0 ? a_local : h + N;

  for (long long n = 0; n < N; ++n) {
    Av[n] = load_lanes(p.A + d0 * N + n, N, nl);
    for (int w = 0; w < W; ++w) Av[n][w] = prepare_A(Av[n][w]);
    h[n] = V{};
  }
  const V Dv = p.D ? load_lanes(p.D + d0, 1, nl) : V{};
  const V bias = p.bias ? load_lanes(p.bias + d0, 1, nl) : V{};

  for (long long c = 0; c < p.nchunks; ++c) {
    const long long t0 = c * kChunk, len = L - t0 < kChunk ? L - t0 : kChunk;
    const long long base = (b * dim + d0) * L + t0;
    to_rows(p.u + base, L, nl, len, ru);
    to_rows(p.delta + base, L, nl, len, rd);
    if (has_z) to_rows(p.z + base, L, nl, len, rz);
    prepare_delta<S>(rd, nullptr, len, bias, p.softplus);
    S* ck = p.ckpt + ((b * dim + d0) * p.nchunks + c) * N;
    for (long long n = 0; n < N; ++n) store_lanes(h[n], ck + n, p.nchunks * N, nl);

    for (long long t = 0; t < len; ++t) {
      const V dt = *rows_at(rd, t), ut = *rows_at(ru, t);
      const V dtu = dt * ut;
      const S* Bt = Bp + t0 + t;
      const S* Ct = Cp + t0 + t;
      V y = Dv * ut;
      MMVM_UNROLL
      for (long long n = 0; n < N; ++n) {
        h[n] = decay(dt, Av[n]) * h[n] + dtu * Bt[n * L];
        y += h[n] * Ct[n * L];
      }
      if (has_z) {
        V silu, dsilu;
        vsilu<S>(*rows_at(rz, t), silu, dsilu);
        y *= silu;
      }
      *rows_at(ry, t) = y;
    }
    from_rows(ry, L, nl, len, p.out + base);
  }
  for (long long n = 0; n < N; ++n) store_lanes(h[n], p.last + (b * dim + d0) * N + n, N, nl);
}

// Recomputes one chunk's states from h (the chunk's checkpoint, updated in place): HAs[t] = a_t h_{t-1}
// and As[t] = a_t (h_t = a_t h_{t-1} + delta_t u_t B_t is cheaper to redo than to store), and with kY,
// y_t before the gate into the rows ry.
template <typename S, int NS, bool kY>
MMVM_INLINE void recompute_chunk(long long N_, long long L, long long len, const S* rd, const S* ru,
                                 const S* Bp, const S* Cp, const VT<S>* A2v, VT<S> Dv, VT<S>* h, VT<S>* HAs,
                                 VT<S>* As, S* ry) {
  typedef VT<S> V;
  const long long N = NS > 0 ? NS : N_;
  for (long long t = 0; t < len; ++t) {
    const V dt = *rows_at(rd, t), ut = *rows_at(ru, t);
    const V dtu = dt * ut;
    const S* Bt = Bp + t;
    const S* Ct = Cp + t;
    V* HA = HAs + t * N;
    V* An = As + t * N;
    V y = Dv * ut;
    MMVM_UNROLL
    for (long long n = 0; n < N; ++n) {
      const V a = decay(dt, A2v[n]);
      const V ha = a * h[n];
      h[n] = ha + dtu * Bt[n * L];
      HA[n] = ha;
      An[n] = a;
      if (kY) y += h[n] * Ct[n * L];
    }
    if (kY) *rows_at(ry, t) = y;
  }
}

// Backward of one work item. accB / accC: per-lane gradient sums of B and C, (L, N, W), added to.
//
// Per chunk (last first): recompute the states from the chunk's checkpoint, keeping a_t h_{t-1} and
// a_t = exp(delta_t A); then walk back with g = dL/dh_t = dy_t C_t + a_{t+1} dL/dh_{t+1}.
template <typename S, int NS>
void backward_item(const ScanParams<S>& p, long long part, long long b, long long tile, S* ws, S* accB,
                   S* accC) {
  typedef VT<S> V;
  constexpr int W = lanes<S>();
  const long long N = NS > 0 ? NS : p.N, L = p.L, dim = p.dim;
  const long long d0 = p.tile_d0[tile], nl = p.tile_nl[tile];
  const S* Bp = p.B + (b * p.GB + d0 / (dim / p.GB)) * N * L;
  const S* Cp = p.C + (b * p.GC + d0 / (dim / p.GC)) * N * L;
  S* ru = ws;
  S* rd = ru + kChunk * W;  // delta after bias and softplus
  S* rs = rd + kChunk * W;  // softplus'
  S* rz = rs + kChunk * W;
  S* rdo = rz + kChunk * W;  // dout
  S* ry = rdo + kChunk * W;  // y before the gate
  S* rdu = ry + kChunk * W;
  S* rdd = rdu + kChunk * W;
  S* rdz = rdd + kChunk * W;
  const bool has_z = p.z != nullptr;
  V* HAs = reinterpret_cast<V*>(rdz + kChunk * W);  // (kChunk, N): a_t h_{t-1}
  V* As = HAs + kChunk * N;                        // (kChunk, N): a_t
  constexpr int NL = NS > 0 ? NS : 1;
  V h_local[NL], g_local[NL], a_local[NL], a2_local[NL], da_local[NL];
  V* h = NS > 0 ? h_local : As + kChunk * N;
  V* g = NS > 0 ? g_local : h + N;  // a_{t+1} dL/dh_{t+1}: the part of dL/dh_t from later steps
  V* Av = NS > 0 ? a_local : g + N;
  V* A2v = NS > 0 ? a2_local : Av + N;  // prepare_A(A)
  V* dA = NS > 0 ? da_local : A2v + N;

  for (long long n = 0; n < N; ++n) {
    Av[n] = load_lanes(p.A + d0 * N + n, N, nl);
    for (int w = 0; w < W; ++w) A2v[n][w] = prepare_A(Av[n][w]);
    g[n] = p.dlast ? load_lanes(p.dlast + (b * dim + d0) * N + n, N, nl) : V{};
    dA[n] = V{};
  }
  const V Dv = p.D ? load_lanes(p.D + d0, 1, nl) : V{};
  const V bias = p.bias ? load_lanes(p.bias + d0, 1, nl) : V{};
  V dD = {}, dbias = {};

  for (long long c = p.nchunks - 1; c >= 0; --c) {
    const long long t0 = c * kChunk, len = L - t0 < kChunk ? L - t0 : kChunk;
    const long long base = (b * dim + d0) * L + t0;
    to_rows(p.u + base, L, nl, len, ru);
    to_rows(p.delta + base, L, nl, len, rd);
    to_rows(p.dout + base, L, nl, len, rdo);
    if (has_z) to_rows(p.z + base, L, nl, len, rz);
    prepare_delta<S>(rd, rs, len, bias, p.softplus);

    const S* ck = p.ckpt + ((b * dim + d0) * p.nchunks + c) * N;
    for (long long n = 0; n < N; ++n) h[n] = load_lanes(ck + n, p.nchunks * N, nl);
    if (has_z)  // y before the gate is needed for dz
      recompute_chunk<S, NS, true>(N, L, len, rd, ru, Bp + t0, Cp + t0, A2v, Dv, h, HAs, As, ry);
    else
      recompute_chunk<S, NS, false>(N, L, len, rd, ru, Bp + t0, Cp + t0, A2v, Dv, h, HAs, As, ry);

    for (long long t = len - 1; t >= 0; --t) {
      V dy = *rows_at(rdo, t);
      if (has_z) {
        V silu, dsilu;
        const V zt = *rows_at(rz, t);
        vsilu<S>(zt, silu, dsilu);
        *rows_at(rdz, t) = dy * *rows_at(ry, t) * dsilu;
        dy *= silu;
      }
      const V dt = *rows_at(rd, t), ut = *rows_at(ru, t);
      const V dtu = dt * ut;
      const S* Bt = Bp + t0 + t;
      const S* Ct = Cp + t0 + t;
      const V* HA = HAs + t * N;
      const V* An = As + t * N;
      V* aB = reinterpret_cast<V*>(accB + (t0 + t) * N * W);
      V* aC = reinterpret_cast<V*>(accC + (t0 + t) * N * W);
      V gB = {}, daA = {};  // sum_n g_n B_n and sum_n (dL/da_n) a_n A_n
      MMVM_UNROLL
      for (long long n = 0; n < N; ++n) {
        const V gn = g[n] + dy * Ct[n * L];
        const V bn = splat<V>(Bt[n * L]);
        aC[n] += dy * (HA[n] + dtu * bn);  // dy h_t
        aB[n] += gn * dtu;
        gB += gn * bn;
        const V daa = gn * HA[n];  // dL/da_t a_t
        daA += daa * Av[n];
        dA[n] += daa * dt;
        g[n] = gn * An[n];
      }
      V ddt = gB * ut + daA;
      if (p.softplus) ddt *= *rows_at(rs, t);
      dD += dy * ut;
      dbias += ddt;
      *rows_at(rdu, t) = gB * dt + dy * Dv;
      *rows_at(rdd, t) = ddt;
    }
    from_rows(rdu, L, nl, len, p.du + base);
    from_rows(rdd, L, nl, len, p.ddelta + base);
    if (has_z) from_rows(rdz, L, nl, len, p.dz + base);
  }
  for (long long n = 0; n < N; ++n) add_lanes(dA[n], p.dA_part + (part * dim + d0) * N + n, N, nl);
  add_lanes(dD, p.dD_part + part * dim + d0, 1, nl);
  add_lanes(dbias, p.dbias_part + part * dim + d0, 1, nl);
}

template <typename S, int NS>
void forward_range(const ScanParams<S>& p, long long item_begin, long long item_end, S* ws) {
  for (long long i = item_begin; i < item_end; ++i) forward_item<S, NS>(p, i / p.ntiles, i % p.ntiles, ws);
}

// Sums the lanes of the (L, N, W) accumulator of group `key` into dX (key, N, L) when this part owns
// all tiles of the key, else into the part's boundary slot (first or last key of its range).
template <typename S>
void flush_group(const S* acc, long long key, bool owned, bool first, long long part, long long N,
                 long long L, S* dX, S* slots, long long* slot_keys) {
  constexpr int W = lanes<S>();
  S* dst = dX + key * N * L;
  if (!owned) {
    const long long s = part * 2 + (first ? 0 : 1);
    slot_keys[s] = key;
    dst = slots + s * N * L;
  }
  typedef VT<S> V;
  const V* av = reinterpret_cast<const V*>(acc);
  for (long long t = 0; t < L; t += W) {
    const long long len = L - t < W ? L - t : W;
    for (long long n = 0; n < N; ++n) {
      V v[W];
      MMVM_UNROLL
      for (int j = 0; j < W; ++j) v[j] = j < len ? av[(t + j) * N + n] : V{};
      const V sums = lane_sums<S>(v);
      if (len == W)
        store_unaligned(sums, dst + n * L + t);
      else
        for (long long j = 0; j < len; ++j) dst[n * L + t + j] = sums[j];
    }
  }
}

template <typename S, int NS>
void backward_range(const ScanParams<S>& p, long long part, long long item_begin, long long item_end,
                    S* ws) {
  constexpr int W = lanes<S>();
  const long long N = p.N, L = p.L, nt = p.ntiles;
  S* accB = ws + backward_workspace<S>(N, L) - 2 * L * N * W;
  S* accC = accB + L * N * W;
  long long key[2] = {-1, -1}, key_item[2] = {0, 0};
  const long long groups[2] = {p.GB, p.GC};
  S* accs[2] = {accB, accC};
  S* grads[2] = {p.dB, p.dC};
  S* slots[2] = {p.slotB, p.slotC};
  long long* slot_keys[2] = {p.slotB_key, p.slotC_key};
  const long long* gfirst[2] = {p.tile_firstB, p.tile_firstC};
  const long long* glast[2] = {p.tile_lastB, p.tile_lastC};

  auto flush = [&](int x) {
    if (key[x] < 0) return;
    const long long i = key_item[x], b = i / nt, tile = i % nt;
    const long long lo = b * nt + gfirst[x][tile], hi = b * nt + glast[x][tile];
    const bool owned = lo >= item_begin && hi < item_end;
    flush_group<S>(accs[x], key[x], owned, lo <= item_begin, part, N, L, grads[x], slots[x],
                   slot_keys[x]);
  };
  for (long long i = item_begin; i < item_end; ++i) {
    const long long b = i / nt, tile = i % nt;
    for (int x = 0; x < 2; ++x) {
      const long long k = b * groups[x] + p.tile_d0[tile] / (p.dim / groups[x]);
      if (k != key[x]) {
        flush(x);
        key[x] = k;
        key_item[x] = i;
        for (long long j = 0; j < L * N * W; ++j) accs[x][j] = S(0);
      }
    }
    backward_item<S, NS>(p, part, b, tile, ws, accB, accC);
  }
  flush(0);
  flush(1);
}

template <typename S>
void forward_dispatch(const ScanParams<S>& p, long long item_begin, long long item_end, S* ws) {
  switch (p.N) {
    case 4: return forward_range<S, 4>(p, item_begin, item_end, ws);
    case 8: return forward_range<S, 8>(p, item_begin, item_end, ws);
    case 16: return forward_range<S, 16>(p, item_begin, item_end, ws);
    default: return forward_range<S, 0>(p, item_begin, item_end, ws);
  }
}

template <typename S>
void backward_dispatch(const ScanParams<S>& p, long long part, long long item_begin, long long item_end,
                       S* ws) {
  switch (p.N) {
    case 4: return backward_range<S, 4>(p, part, item_begin, item_end, ws);
    case 8: return backward_range<S, 8>(p, part, item_begin, item_end, ws);
    case 16: return backward_range<S, 16>(p, part, item_begin, item_end, ws);
    default: return backward_range<S, 0>(p, part, item_begin, item_end, ws);
  }
}

// Non-template entry points, so that every instantiation above carries this namespace's target.
void forward_f32(const ScanParams<float>& p, long long b, long long e, float* ws) {
  forward_dispatch<float>(p, b, e, ws);
}
void forward_f64(const ScanParams<double>& p, long long b, long long e, double* ws) {
  forward_dispatch<double>(p, b, e, ws);
}
void backward_f32(const ScanParams<float>& p, long long part, long long b, long long e, float* ws) {
  backward_dispatch<float>(p, part, b, e, ws);
}
void backward_f64(const ScanParams<double>& p, long long part, long long b, long long e, double* ws) {
  backward_dispatch<double>(p, part, b, e, ws);
}
long long forward_workspace_f32(long long N) { return forward_workspace<float>(N); }
long long forward_workspace_f64(long long N) { return forward_workspace<double>(N); }
long long backward_workspace_f32(long long N, long long L) { return backward_workspace<float>(N, L); }
long long backward_workspace_f64(long long N, long long L) { return backward_workspace<double>(N, L); }

#undef MMVM_INLINE
#undef MMVM_UNROLL

// CPU selective scan with mamba_ssm semantics: ATen glue, instruction-set dispatch and Python bindings.
// The kernel itself is selective_scan_cpu_kernel.h, compiled here once per instruction set.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cstdint>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <numeric>
#include <optional>
#include <string>
#include <vector>

// Hash of the sources, set by the build (see cpu_kernel.py), so that Python can tell a stale build.
#ifndef MMVM_SOURCE_HASH
#define MMVM_SOURCE_HASH unknown
#endif
#define MMVM_STR_(x) #x
#define MMVM_STR(x) MMVM_STR_(x)

namespace mmvm {

// Steps per chunk: the forward saves the state at every chunk start, the backward recomputes one chunk
// (16 keeps the backward's per-chunk buffers in L1; measured faster than 32 and 64).
constexpr long long kChunk = 16;

// Raw view of one call. Tensors are contiguous; B and C are (batch, G, N, L) with G = 1 for (batch, N, L).
// The channel tiles of one batch row are listed in tile_*; work item i is (row i / ntiles, tile i % ntiles).
template <typename S>
struct ScanParams {
  const S *u, *delta, *A, *B, *C;
  const S *D, *z, *bias;  // null when absent
  long long batch, dim, L, N, GB, GC, nchunks;
  bool softplus;
  const long long *tile_d0, *tile_nl;
  const long long *tile_firstB, *tile_lastB, *tile_firstC, *tile_lastC;  // tiles of the same group
  long long ntiles;
  S *out, *last, *ckpt;  // forward: (batch, dim, L), (batch, dim, N), (batch, dim, nchunks, N)
  const S *dout, *dlast;  // backward inputs; dlast may be null
  S *du, *ddelta, *dz, *dB, *dC;                // dz null without z; dB, dC zero-initialised
  S *dA_part, *dD_part, *dbias_part;            // per part: (P, dim, N), (P, dim), (P, dim)
  S *slotB, *slotC;                             // (P, 2, N, L) sums of groups shared with other parts
  long long *slotB_key, *slotC_key;             // (P, 2), -1 when unused
};

}  // namespace mmvm

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MMVM_MULTI_ISA 1

#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512dq,avx512vl,avx512bw")
#define MMVM_AVX512 1
namespace mmvm::avx512 {
constexpr int kVecBytes = 64;
#include "selective_scan_cpu_kernel.h"
}  // namespace mmvm::avx512
#undef MMVM_AVX512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace mmvm::avx2 {
constexpr int kVecBytes = 32;
#include "selective_scan_cpu_kernel.h"
}  // namespace mmvm::avx2
#pragma GCC pop_options
#endif

namespace mmvm::baseline {
constexpr int kVecBytes = 16;
#include "selective_scan_cpu_kernel.h"
}  // namespace mmvm::baseline

namespace mmvm {
namespace {

template <typename S>
struct Kernel {
  int vec_bytes;
  void (*forward)(const ScanParams<S>&, long long, long long, S*);
  void (*backward)(const ScanParams<S>&, long long, long long, long long, S*);
  long long (*forward_workspace)(long long);
  long long (*backward_workspace)(long long, long long);
};

#define MMVM_KERNELS(ns)                                                                              \
  Kernel<float>{ns::kVecBytes, ns::forward_f32, ns::backward_f32, ns::forward_workspace_f32,           \
                ns::backward_workspace_f32},                                                           \
      Kernel<double>{ns::kVecBytes, ns::forward_f64, ns::backward_f64, ns::forward_workspace_f64,      \
                     ns::backward_workspace_f64}

struct IsaEntry {
  const char* name;
  bool supported;
  Kernel<float> f32;
  Kernel<double> f64;
};

std::vector<IsaEntry> make_isas() {
  std::vector<IsaEntry> isas;
#ifdef MMVM_MULTI_ISA
  __builtin_cpu_init();
  const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool has_avx512 = has_avx2 && __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512bw");
  isas.push_back({"avx512", has_avx512, MMVM_KERNELS(avx512)});
  isas.push_back({"avx2", has_avx2, MMVM_KERNELS(avx2)});
#endif
  isas.push_back({"baseline", true, MMVM_KERNELS(baseline)});
  return isas;
}

const std::vector<IsaEntry>& isas() {
  static const std::vector<IsaEntry> table = make_isas();
  return table;
}

size_t& current_isa() {
  static size_t index = [] {
    size_t i = 0;
    while (!isas()[i].supported) ++i;
    return i;
  }();
  return index;
}

template <typename S>
const Kernel<S>& kernel();
template <>
const Kernel<float>& kernel<float>() {
  return isas()[current_isa()].f32;
}
template <>
const Kernel<double>& kernel<double>() {
  return isas()[current_isa()].f64;
}

long long lanes_for(at::ScalarType dtype) {
  return (dtype == at::kDouble ? kernel<double>().vec_bytes / 8 : kernel<float>().vec_bytes / 4);
}

// Channel tiles of one batch row: runs of at most W channels inside one group of B and one of C.
struct Tiles {
  std::vector<long long> d0, nl, firstB, lastB, firstC, lastC;
};

Tiles make_tiles(long long dim, long long GB, long long GC, long long W) {
  Tiles t;
  const long long gsB = dim / GB, gsC = dim / GC, seg = std::gcd(gsB, gsC);
  for (long long s0 = 0; s0 < dim; s0 += seg)
    for (long long d0 = s0; d0 < s0 + seg; d0 += W) {
      t.d0.push_back(d0);
      t.nl.push_back(std::min(W, s0 + seg - d0));
    }
  const long long nt = static_cast<long long>(t.d0.size());
  auto spans = [&](long long gs, std::vector<long long>& first, std::vector<long long>& last) {
    first.resize(nt);
    last.resize(nt);
    for (long long i = 0; i < nt; ++i)
      first[i] = (i > 0 && t.d0[i] / gs == t.d0[i - 1] / gs) ? first[i - 1] : i;
    for (long long i = nt - 1; i >= 0; --i)
      last[i] = (i + 1 < nt && t.d0[i] / gs == t.d0[i + 1] / gs) ? last[i + 1] : i;
  };
  spans(gsB, t.firstB, t.lastB);
  spans(gsC, t.firstC, t.lastC);
  return t;
}

at::Tensor as_compute(const at::Tensor& t, at::ScalarType dtype) {
  return t.to(dtype).contiguous();
}

std::optional<at::Tensor> as_compute(const std::optional<at::Tensor>& t, at::ScalarType dtype) {
  if (!t.has_value()) return std::nullopt;
  return as_compute(*t, dtype);
}

template <typename S>
const S* ptr_or_null(const std::optional<at::Tensor>& t) {
  return t.has_value() ? t->data_ptr<S>() : nullptr;
}

struct Shapes {
  long long batch, dim, L, N, GB, GC;
};

Shapes check_shapes(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                    const at::Tensor& C, const std::optional<at::Tensor>& D,
                    const std::optional<at::Tensor>& z, const std::optional<at::Tensor>& bias) {
  TORCH_CHECK(u.device().is_cpu(), "selective_scan_cpu: tensors must be on the CPU");
  TORCH_CHECK(u.scalar_type() == at::kFloat || u.scalar_type() == at::kDouble,
              "selective_scan_cpu: u must be float32 or float64, got ", u.scalar_type());
  TORCH_CHECK(u.dim() == 3, "selective_scan_cpu: u must be (batch, dim, L)");
  const long long batch = u.size(0), dim = u.size(1), L = u.size(2);
  TORCH_CHECK(delta.sizes() == u.sizes(), "selective_scan_cpu: delta must have u's shape");
  TORCH_CHECK(A.dim() == 2 && A.size(0) == dim, "selective_scan_cpu: A must be (dim, N)");
  const long long N = A.size(1);
  auto groups = [&](const at::Tensor& X, const char* name) -> long long {
    TORCH_CHECK((X.dim() == 3 || X.dim() == 4) && X.size(0) == batch && X.size(-2) == N && X.size(-1) == L,
                "selective_scan_cpu: ", name, " must be (batch, N, L) or (batch, G, N, L)");
    const long long G = X.dim() == 4 ? X.size(1) : 1;
    TORCH_CHECK(G > 0 && dim % G == 0, "selective_scan_cpu: dim must be divisible by the groups of ", name);
    return G;
  };
  const long long GB = groups(B, "B"), GC = groups(C, "C");
  TORCH_CHECK(!D.has_value() || (D->dim() == 1 && D->size(0) == dim), "selective_scan_cpu: D must be (dim,)");
  TORCH_CHECK(!bias.has_value() || (bias->dim() == 1 && bias->size(0) == dim),
              "selective_scan_cpu: delta_bias must be (dim,)");
  TORCH_CHECK(!z.has_value() || z->sizes() == u.sizes(), "selective_scan_cpu: z must have u's shape");
  return {batch, dim, L, N, GB, GC};
}

// Scratch of `parts` x `per_part` elements, 64-byte aligned. Cached per calling thread (allocating it on
// every call costs page faults comparable to the scan itself), unless it is very large.
template <typename S>
struct Workspace {
  at::Tensor owned;
  S* data;
  Workspace(long long parts, long long per_part) {
    constexpr size_t kMaxCached = size_t(64) << 20;
    const size_t bytes = static_cast<size_t>(parts * per_part) * sizeof(S) + 64;
    thread_local std::vector<unsigned char> cache;
    unsigned char* base;
    if (bytes <= kMaxCached) {
      if (cache.size() < bytes) cache.resize(bytes);
      base = cache.data();
    } else {
      owned = at::empty({static_cast<int64_t>(bytes)}, at::kByte);
      base = owned.data_ptr<unsigned char>();
    }
    data = reinterpret_cast<S*>((reinterpret_cast<uintptr_t>(base) + 63) & ~uintptr_t(63));
  }
};

// Splits `items` work items into `parts` contiguous ranges of (almost) equal length.
struct Split {
  long long items, parts;
  long long begin(long long p) const { return items * p / parts; }
  long long end(long long p) const { return items * (p + 1) / parts; }
};

template <typename S>
ScanParams<S> base_params(const Shapes& s, const Tiles& tiles, bool softplus, const at::Tensor& u,
                          const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                          const at::Tensor& C, const std::optional<at::Tensor>& D,
                          const std::optional<at::Tensor>& z, const std::optional<at::Tensor>& bias) {
  ScanParams<S> p{};
  p.u = u.data_ptr<S>();
  p.delta = delta.data_ptr<S>();
  p.A = A.data_ptr<S>();
  p.B = B.data_ptr<S>();
  p.C = C.data_ptr<S>();
  p.D = ptr_or_null<S>(D);
  p.z = ptr_or_null<S>(z);
  p.bias = ptr_or_null<S>(bias);
  p.batch = s.batch;
  p.dim = s.dim;
  p.L = s.L;
  p.N = s.N;
  p.GB = s.GB;
  p.GC = s.GC;
  p.nchunks = (s.L + kChunk - 1) / kChunk;
  p.softplus = softplus;
  p.tile_d0 = tiles.d0.data();
  p.tile_nl = tiles.nl.data();
  p.tile_firstB = tiles.firstB.data();
  p.tile_lastB = tiles.lastB.data();
  p.tile_firstC = tiles.firstC.data();
  p.tile_lastC = tiles.lastC.data();
  p.ntiles = static_cast<long long>(tiles.d0.size());
  return p;
}

template <typename S>
void run_forward(ScanParams<S>& p, const at::Tensor& out, const at::Tensor& last, const at::Tensor& ckpt) {
  const Kernel<S>& k = kernel<S>();
  p.out = out.data_ptr<S>();
  p.last = last.data_ptr<S>();
  p.ckpt = ckpt.data_ptr<S>();
  const Split split{p.batch * p.ntiles, std::min<long long>(at::get_num_threads(), p.batch * p.ntiles)};
  if (split.parts <= 0) return;
  const long long wsz = k.forward_workspace(p.N);
  const Workspace<S> ws(split.parts, wsz);
  S* wsp = ws.data;
  at::parallel_for(0, split.parts, 1, [&](int64_t pb, int64_t pe) {
    for (int64_t q = pb; q < pe; ++q) k.forward(p, split.begin(q), split.end(q), wsp + q * wsz);
  });
}

template <typename S>
void run_backward(ScanParams<S>& p, const at::Tensor& dA_part, const at::Tensor& dD_part,
                  const at::Tensor& dbias_part, const at::Tensor& dB, const at::Tensor& dC, long long parts) {
  const Kernel<S>& k = kernel<S>();
  const Split split{p.batch * p.ntiles, parts};
  const auto opts = dB.options();
  at::Tensor slotB = at::zeros({parts, 2, p.N, p.L}, opts), slotC = at::zeros({parts, 2, p.N, p.L}, opts);
  at::Tensor keyB = at::full({parts, 2}, -1, opts.dtype(at::kLong));
  at::Tensor keyC = at::full({parts, 2}, -1, opts.dtype(at::kLong));
  p.dA_part = dA_part.data_ptr<S>();
  p.dD_part = dD_part.data_ptr<S>();
  p.dbias_part = dbias_part.data_ptr<S>();
  p.dB = dB.data_ptr<S>();
  p.dC = dC.data_ptr<S>();
  p.slotB = slotB.data_ptr<S>();
  p.slotC = slotC.data_ptr<S>();
  p.slotB_key = reinterpret_cast<long long*>(keyB.data_ptr<int64_t>());
  p.slotC_key = reinterpret_cast<long long*>(keyC.data_ptr<int64_t>());
  const long long wsz = k.backward_workspace(p.N, p.L);
  const Workspace<S> ws(parts, wsz);
  S* wsp = ws.data;
  at::parallel_for(0, parts, 1, [&](int64_t pb, int64_t pe) {
    for (int64_t q = pb; q < pe; ++q) k.backward(p, q, split.begin(q), split.end(q), wsp + q * wsz);
  });
  // Groups split between parts: add up the parts' slots (serially, in part order).
  auto fold = [&](const at::Tensor& slots, const at::Tensor& keys, const at::Tensor& grad) {
    at::Tensor g = grad.view({-1, p.N * p.L}), sl = slots.view({parts * 2, p.N * p.L});
    const int64_t* kp = keys.data_ptr<int64_t>();
    for (long long i = 0; i < parts * 2; ++i)
      if (kp[i] >= 0) g[kp[i]].add_(sl[i]);
  };
  fold(slotB, keyB, dB);
  fold(slotC, keyC, dC);
}

}  // namespace

// Returns (out, last_state, checkpoints): out (batch, dim, L), last_state (batch, dim, N) and the states at
// every kChunk-th step (batch, dim, ceil(L / kChunk), N) that the backward restarts from.
std::vector<at::Tensor> selective_scan_fwd(const at::Tensor& u_, const at::Tensor& delta_,
                                           const at::Tensor& A_, const at::Tensor& B_, const at::Tensor& C_,
                                           const std::optional<at::Tensor>& D_,
                                           const std::optional<at::Tensor>& z_,
                                           const std::optional<at::Tensor>& bias_, bool softplus) {
  const Shapes s = check_shapes(u_, delta_, A_, B_, C_, D_, z_, bias_);
  const auto dt = u_.scalar_type();
  const at::Tensor u = as_compute(u_, dt), delta = as_compute(delta_, dt), A = as_compute(A_, dt);
  const at::Tensor B = as_compute(B_, dt), C = as_compute(C_, dt);
  const auto D = as_compute(D_, dt), z = as_compute(z_, dt), bias = as_compute(bias_, dt);
  const long long nchunks = (s.L + kChunk - 1) / kChunk;
  at::Tensor out = at::empty_like(u), last = at::zeros({s.batch, s.dim, s.N}, u.options());
  at::Tensor ckpt = at::empty({s.batch, s.dim, nchunks, s.N}, u.options());
  if (s.L == 0) return {out, last, ckpt};
  const Tiles tiles = make_tiles(s.dim, s.GB, s.GC, lanes_for(dt));
  AT_DISPATCH_FLOATING_TYPES(dt, "selective_scan_fwd", [&] {
    ScanParams<scalar_t> p = base_params<scalar_t>(s, tiles, softplus, u, delta, A, B, C, D, z, bias);
    run_forward<scalar_t>(p, out, last, ckpt);
  });
  return {out, last, ckpt};
}

// Returns (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias); dD, dz, ddelta_bias are empty when D, z, delta_bias
// are absent. dlast: gradient of the last state, if it was used.
std::vector<at::Tensor> selective_scan_bwd(const at::Tensor& dout_, const at::Tensor& u_,
                                           const at::Tensor& delta_, const at::Tensor& A_,
                                           const at::Tensor& B_, const at::Tensor& C_,
                                           const std::optional<at::Tensor>& D_,
                                           const std::optional<at::Tensor>& z_,
                                           const std::optional<at::Tensor>& bias_, const at::Tensor& ckpt_,
                                           const std::optional<at::Tensor>& dlast_, bool softplus) {
  const Shapes s = check_shapes(u_, delta_, A_, B_, C_, D_, z_, bias_);
  const auto dt = u_.scalar_type();
  const long long nchunks = (s.L + kChunk - 1) / kChunk;
  TORCH_CHECK(dout_.sizes() == u_.sizes(), "selective_scan_cpu: dout must have u's shape");
  TORCH_CHECK(ckpt_.dim() == 4 && ckpt_.size(0) == s.batch && ckpt_.size(1) == s.dim &&
                  ckpt_.size(2) == nchunks && ckpt_.size(3) == s.N,
              "selective_scan_cpu: checkpoints must be (batch, dim, ceil(L / ", kChunk, "), N)");
  TORCH_CHECK(!dlast_.has_value() || dlast_->sizes() == at::IntArrayRef({s.batch, s.dim, s.N}),
              "selective_scan_cpu: dlast must be (batch, dim, N)");
  const at::Tensor u = as_compute(u_, dt), delta = as_compute(delta_, dt), A = as_compute(A_, dt);
  const at::Tensor B = as_compute(B_, dt), C = as_compute(C_, dt), dout = as_compute(dout_, dt);
  const at::Tensor ckpt = as_compute(ckpt_, dt);
  const auto D = as_compute(D_, dt), z = as_compute(z_, dt), bias = as_compute(bias_, dt);
  const auto dlast = as_compute(dlast_, dt);

  const auto opts = u.options();
  const Tiles tiles = make_tiles(s.dim, s.GB, s.GC, lanes_for(dt));
  const long long items = s.batch * static_cast<long long>(tiles.d0.size());
  const long long parts = std::max<long long>(1, std::min<long long>(at::get_num_threads(), items));
  at::Tensor du = at::empty_like(u), ddelta = at::empty_like(u);
  at::Tensor dz = z.has_value() ? at::empty_like(u) : at::empty({0}, opts);
  at::Tensor dB = at::zeros({s.batch, s.GB, s.N, s.L}, opts), dC = at::zeros({s.batch, s.GC, s.N, s.L}, opts);
  at::Tensor dA_part = at::zeros({parts, s.dim, s.N}, opts);
  at::Tensor dD_part = at::zeros({parts, s.dim}, opts), dbias_part = at::zeros({parts, s.dim}, opts);
  if (s.L > 0 && items > 0) {
    AT_DISPATCH_FLOATING_TYPES(dt, "selective_scan_bwd", [&] {
      ScanParams<scalar_t> p = base_params<scalar_t>(s, tiles, softplus, u, delta, A, B, C, D, z, bias);
      p.dout = dout.data_ptr<scalar_t>();
      p.dlast = ptr_or_null<scalar_t>(dlast);
      p.ckpt = const_cast<scalar_t*>(ckpt.data_ptr<scalar_t>());
      p.du = du.data_ptr<scalar_t>();
      p.ddelta = ddelta.data_ptr<scalar_t>();
      p.dz = z.has_value() ? dz.data_ptr<scalar_t>() : nullptr;
      run_backward<scalar_t>(p, dA_part, dD_part, dbias_part, dB, dC, parts);
    });
  } else {
    du.zero_();
    ddelta.zero_();
    dz.zero_();
  }
  auto none = [&] { return at::empty({0}, opts); };  // a fresh tensor each: outputs must not alias
  return {du,
          ddelta,
          dA_part.sum(0),
          dB.view(B_.sizes()),
          dC.view(C_.sizes()),
          D.has_value() ? dD_part.sum(0) : none(),
          dz,
          bias.has_value() ? dbias_part.sum(0) : none()};
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> names;
  for (const auto& e : isas())
    if (e.supported) names.emplace_back(e.name);
  return names;
}

std::string get_isa() { return isas()[current_isa()].name; }

void set_isa(const std::string& name) {
  for (size_t i = 0; i < isas().size(); ++i)
    if (name == isas()[i].name) {
      TORCH_CHECK(isas()[i].supported, "selective_scan_cpu: this CPU does not support ", name);
      current_isa() = i;
      return;
    }
  TORCH_CHECK(false, "selective_scan_cpu: unknown instruction set ", name, "; supported: ", supported_isas());
}

}  // namespace mmvm

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  namespace py = pybind11;
  m.doc() = "Exact CPU selective scan (mamba_ssm semantics), forward and backward.";
  m.def("selective_scan_fwd", &mmvm::selective_scan_fwd, py::call_guard<py::gil_scoped_release>(),
        py::arg("u"), py::arg("delta"), py::arg("A"), py::arg("B"), py::arg("C"), py::arg("D"), py::arg("z"),
        py::arg("delta_bias"), py::arg("delta_softplus"));
  m.def("selective_scan_bwd", &mmvm::selective_scan_bwd, py::call_guard<py::gil_scoped_release>(),
        py::arg("dout"), py::arg("u"), py::arg("delta"), py::arg("A"), py::arg("B"), py::arg("C"),
        py::arg("D"), py::arg("z"), py::arg("delta_bias"), py::arg("checkpoints"), py::arg("dlast"),
        py::arg("delta_softplus"));
  m.def("chunk_len", [] { return mmvm::kChunk; }, "Steps between saved states (the checkpoints' stride).");
  m.def("source_hash", [] { return std::string(MMVM_STR(MMVM_SOURCE_HASH)); }, "Hash of the sources built.");
  m.def("supported_isas", &mmvm::supported_isas, "Instruction sets this CPU can run, fastest first.");
  m.def("get_isa", &mmvm::get_isa, "The instruction set in use.");
  m.def("set_isa", &mmvm::set_isa, "Selects the instruction set (for tests and benchmarks).");
}

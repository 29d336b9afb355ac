//! AVX2 kernels (x86-64): 16 lanes as 4 independent `__m256d` chains, enough to hide the
//! latency of the multiply → subtract → add dependency of each iteration.
//!
//! Built into every x86-64 binary and only entered after `is_x86_feature_detected!` said
//! AVX2 and FMA are there (see [`super::Kernel::is_available`]).

// SIMD intrinsics and #[target_feature] functions are unsafe to call: each call says why
// it is sound.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256d, _mm256_add_pd, _mm256_cmp_pd, _mm256_fmadd_pd, _mm256_load_pd, _mm256_max_pd,
    _mm256_movemask_pd, _mm256_mul_pd, _mm256_set1_pd, _mm256_setzero_pd, _mm256_store_pd,
    _mm256_sub_pd, _CMP_NLE_UQ,
};

use super::{
    lanes::{drive, Backend, Lanes, BLOCK},
    Job,
};

const W: usize = 16;
const VECTORS: usize = W / 4;

/// The AVX2 backend; `FMA` fuses `(2·zr)·zi + ci`. Only built by [`compute`], after detection.
struct Avx2<const FMA: bool>(());

impl<const FMA: bool> Backend<W> for Avx2<FMA> {
    #[inline]
    fn block(&self, lanes: &mut Lanes<W>) -> u32 {
        // SAFETY: an `Avx2` exists only once AVX2 and FMA were detected (see `compute`).
        unsafe { block::<FMA>(lanes) }
    }

    #[inline]
    fn replay(&self, zr: f64, zi: f64, cr: f64, ci: f64, steps: u32) -> Option<(u32, f64, f64)> {
        // SAFETY: as above.
        unsafe { replay::<FMA>(zr, zi, cr, ci, steps) }
    }
}

/// Runs the job on the AVX2 backend.
///
/// Callers must have checked that the CPU has AVX2 and FMA.
pub(super) fn compute<const FMA: bool>(job: &Job, counts: &mut [u32], smooth: Option<&mut [f32]>) {
    assert!(super::avx2_fma_available(), "AVX2 and FMA required");
    drive(&Avx2::<FMA>(()), job, counts, smooth);
}

#[target_feature(enable = "avx2,fma")]
unsafe fn block<const FMA: bool>(lanes: &mut Lanes<W>) -> u32 {
    let mut zr = [_mm256_setzero_pd(); VECTORS];
    let mut zi = [_mm256_setzero_pd(); VECTORS];
    let mut cr = [_mm256_setzero_pd(); VECTORS];
    let mut ci = [_mm256_setzero_pd(); VECTORS];
    let mut top = [_mm256_setzero_pd(); VECTORS];
    for v in 0..VECTORS {
        // `Lanes` is 64-byte aligned and each chunk starts at a multiple of 32 bytes.
        zr[v] = _mm256_load_pd(lanes.zr.as_ptr().add(4 * v));
        zi[v] = _mm256_load_pd(lanes.zi.as_ptr().add(4 * v));
        cr[v] = _mm256_load_pd(lanes.cr.as_ptr().add(4 * v));
        ci[v] = _mm256_load_pd(lanes.ci.as_ptr().add(4 * v));
    }
    for _ in 0..BLOCK {
        for v in 0..VECTORS {
            let tr = _mm256_mul_pd(zr[v], zr[v]);
            let ti = _mm256_mul_pd(zi[v], zi[v]);
            // max(a, b) returns b when a is NaN; NaN only ever follows an infinite |z|².
            top[v] = _mm256_max_pd(_mm256_add_pd(tr, ti), top[v]);
            let twice = _mm256_add_pd(zr[v], zr[v]);
            zi[v] = if FMA {
                _mm256_fmadd_pd(twice, zi[v], ci[v])
            } else {
                _mm256_add_pd(_mm256_mul_pd(twice, zi[v]), ci[v])
            };
            zr[v] = _mm256_add_pd(_mm256_sub_pd(tr, ti), cr[v]);
        }
    }
    let four = _mm256_set1_pd(4.0);
    let mut escaped = 0u32;
    for v in 0..VECTORS {
        _mm256_store_pd(lanes.zr.as_mut_ptr().add(4 * v), zr[v]);
        _mm256_store_pd(lanes.zi.as_mut_ptr().add(4 * v), zi[v]);
        // "not less or equal", true for NaN too.
        let out: __m256d = _mm256_cmp_pd::<_CMP_NLE_UQ>(top[v], four);
        escaped |= (_mm256_movemask_pd(out) as u32) << (4 * v);
    }
    escaped
}

#[target_feature(enable = "avx2,fma")]
unsafe fn replay<const FMA: bool>(
    mut zr: f64,
    mut zi: f64,
    cr: f64,
    ci: f64,
    steps: u32,
) -> Option<(u32, f64, f64)> {
    for k in 0..steps {
        let tr = zr * zr;
        let ti = zi * zi;
        if tr + ti > 4.0 {
            return Some((k, zr, zi));
        }
        // With FMA enabled here, mul_add is one vfmadd instruction, not a libm call.
        zi = if FMA {
            (zr + zr).mul_add(zi, ci)
        } else {
            (zr + zr) * zi + ci
        };
        zr = tr - ti + cr;
    }
    None
}

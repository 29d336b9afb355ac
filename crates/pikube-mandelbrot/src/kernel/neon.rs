//! NEON kernels (aarch64, where NEON and FMA are baseline): 8 lanes as 4 `float64x2_t`
//! chains.

// SIMD intrinsics are unsafe to call: each call says why it is sound.
#![allow(unsafe_code)]

use std::arch::aarch64::{
    float64x2_t, vaddq_f64, vcleq_f64, vdupq_n_f64, vfmaq_f64, vgetq_lane_u64, vld1q_f64,
    vmaxq_f64, vmulq_f64, vst1q_f64, vsubq_f64,
};

use super::{
    lanes::{drive, Backend, Lanes, BLOCK},
    Job,
};

const W: usize = 8;
const VECTORS: usize = W / 2;

/// The NEON backend; `FMA` fuses `ci + (2·zr)·zi`.
struct Neon<const FMA: bool>;

impl<const FMA: bool> Backend<W> for Neon<FMA> {
    #[inline]
    fn block(&self, lanes: &mut Lanes<W>) -> u32 {
        // SAFETY: NEON is part of the aarch64 baseline; the pointers stay inside `lanes`.
        unsafe { block::<FMA>(lanes) }
    }

    #[inline]
    fn replay(
        &self,
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
            // FMA is baseline on aarch64: mul_add is one fmadd.
            zi = if FMA {
                (zr + zr).mul_add(zi, ci)
            } else {
                (zr + zr) * zi + ci
            };
            zr = tr - ti + cr;
        }
        None
    }
}

pub(super) fn compute<const FMA: bool>(job: &Job, counts: &mut [u32], smooth: Option<&mut [f32]>) {
    drive(&Neon::<FMA>, job, counts, smooth);
}

unsafe fn block<const FMA: bool>(lanes: &mut Lanes<W>) -> u32 {
    let zero = vdupq_n_f64(0.0);
    let mut zr: [float64x2_t; VECTORS] = [zero; VECTORS];
    let mut zi = [zero; VECTORS];
    let mut cr = [zero; VECTORS];
    let mut ci = [zero; VECTORS];
    let mut top = [zero; VECTORS];
    for v in 0..VECTORS {
        zr[v] = vld1q_f64(lanes.zr.as_ptr().add(2 * v));
        zi[v] = vld1q_f64(lanes.zi.as_ptr().add(2 * v));
        cr[v] = vld1q_f64(lanes.cr.as_ptr().add(2 * v));
        ci[v] = vld1q_f64(lanes.ci.as_ptr().add(2 * v));
    }
    for _ in 0..BLOCK {
        for v in 0..VECTORS {
            let tr = vmulq_f64(zr[v], zr[v]);
            let ti = vmulq_f64(zi[v], zi[v]);
            // FMAX propagates NaN, which the final "not <= 4" test counts as escaped.
            top[v] = vmaxq_f64(vaddq_f64(tr, ti), top[v]);
            let twice = vaddq_f64(zr[v], zr[v]);
            zi[v] = if FMA {
                vfmaq_f64(ci[v], twice, zi[v])
            } else {
                vaddq_f64(vmulq_f64(twice, zi[v]), ci[v])
            };
            zr[v] = vaddq_f64(vsubq_f64(tr, ti), cr[v]);
        }
    }
    let four = vdupq_n_f64(4.0);
    let mut escaped = 0u32;
    for v in 0..VECTORS {
        vst1q_f64(lanes.zr.as_mut_ptr().add(2 * v), zr[v]);
        vst1q_f64(lanes.zi.as_mut_ptr().add(2 * v), zi[v]);
        let inside = vcleq_f64(top[v], four);
        if vgetq_lane_u64::<0>(inside) == 0 {
            escaped |= 1 << (2 * v);
        }
        if vgetq_lane_u64::<1>(inside) == 0 {
            escaped |= 1 << (2 * v + 1);
        }
    }
    escaped
}

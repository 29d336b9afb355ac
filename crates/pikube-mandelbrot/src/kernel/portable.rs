//! The portable kernel: 8 lanes in fixed-size arrays. With plain arithmetic and no branches
//! inside a block, the compiler turns the lane loops into whatever vectors the target has
//! (SSE2 on any x86-64) and otherwise gets 8 independent dependency chains (armv7 VFP).

use super::{
    lanes::{drive, Backend, Lanes, BLOCK},
    Job,
};

const W: usize = 8;

struct Portable;

impl Backend<W> for Portable {
    #[inline]
    fn block(&self, lanes: &mut Lanes<W>) -> u32 {
        let Lanes { zr, zi, cr, ci } = lanes;
        let mut top = [0.0f64; W];
        for _ in 0..BLOCK {
            for l in 0..W {
                let tr = zr[l] * zr[l];
                let ti = zi[l] * zi[l];
                let mag = tr + ti;
                // `>` keeps `top` when `mag` is NaN (which only follows an infinite `mag`).
                top[l] = if mag > top[l] { mag } else { top[l] };
                zi[l] = (zr[l] + zr[l]) * zi[l] + ci[l];
                zr[l] = tr - ti + cr[l];
            }
        }
        let mut escaped = 0u32;
        for (l, top) in top.iter().enumerate() {
            if *top > 4.0 || top.is_nan() {
                escaped |= 1 << l;
            }
        }
        escaped
    }

    #[inline]
    fn replay(&self, zr: f64, zi: f64, cr: f64, ci: f64, steps: u32) -> Option<(u32, f64, f64)> {
        let (mut zr, mut zi) = (zr, zi);
        for k in 0..steps {
            let tr = zr * zr;
            let ti = zi * zi;
            if tr + ti > 4.0 {
                return Some((k, zr, zi));
            }
            zi = (zr + zr) * zi + ci;
            zr = tr - ti + cr;
        }
        None
    }
}

pub(super) fn compute(job: &Job, counts: &mut [u32], smooth: Option<&mut [f32]>) {
    drive(&Portable, job, counts, smooth);
}

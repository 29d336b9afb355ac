//! Escape-time kernels: the scalar reference and the vector kernels chosen at run time.
//!
//! | kernel | where | lanes | arithmetic |
//! |---|---|---|---|
//! | [`Kernel::Scalar`] | everywhere | 1 | plain: the reference definition, one pixel at a time |
//! | [`Kernel::Portable`] | everywhere (armv7, x86-64 without AVX2) | 8 | plain, fixed-size arrays that the compiler vectorises |
//! | [`Kernel::Avx2`] | x86-64 with AVX2 and FMA | 16 | plain |
//! | [`Kernel::Avx2Fma`] | x86-64 with AVX2 and FMA | 16 | `2·zr·zi + ci` fused |
//! | [`Kernel::Neon`] | aarch64 | 8 | plain |
//! | [`Kernel::NeonFma`] | aarch64 | 8 | `2·zr·zi + ci` fused |
//!
//! Plain kernels give exactly the reference counts. Fused kernels give exactly the same
//! counts as each other on every architecture (a fused multiply-add is correctly rounded
//! everywhere), and differ from the plain ones only on pixels whose count is decided by the
//! last bits of rounding (see `tests/kernel_equivalence.rs`).

mod interior;
mod lanes;
mod portable;
mod scalar;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::{fmt, sync::OnceLock};

pub use interior::is_interior;
pub use scalar::{escape, escape_count, Escape};

use crate::{grid::Grid, smooth::smooth_value};

/// An escape-time kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// The reference loop, one pixel at a time, no interior shortcut.
    Scalar,
    /// 8 lanes in fixed-size arrays, auto-vectorised; plain arithmetic.
    Portable,
    /// AVX2, 16 lanes, plain arithmetic (needs AVX2 and FMA on the CPU).
    Avx2,
    /// AVX2 with fused multiply-add, 16 lanes.
    Avx2Fma,
    /// NEON, 8 lanes, plain arithmetic.
    Neon,
    /// NEON with fused multiply-add, 8 lanes.
    NeonFma,
}

impl Kernel {
    /// Every kernel, available here or not.
    pub const ALL: [Kernel; 6] = [
        Kernel::Scalar,
        Kernel::Portable,
        Kernel::Avx2,
        Kernel::Avx2Fma,
        Kernel::Neon,
        Kernel::NeonFma,
    ];

    /// The fastest kernel this CPU runs (detected once): AVX2+FMA, NEON+FMA or portable.
    pub fn detect() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| {
            [Kernel::Avx2Fma, Kernel::NeonFma]
                .into_iter()
                .find(|kernel| kernel.is_available())
                .unwrap_or(Kernel::Portable)
        })
    }

    /// The fastest kernel with plain (unfused) arithmetic: counts identical to the reference.
    pub fn detect_exact() -> Kernel {
        [Kernel::Avx2, Kernel::Neon]
            .into_iter()
            .find(|kernel| kernel.is_available())
            .unwrap_or(Kernel::Portable)
    }

    /// The kernels this CPU can run.
    pub fn available() -> Vec<Kernel> {
        Kernel::ALL
            .into_iter()
            .filter(|kernel| kernel.is_available())
            .collect()
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar | Kernel::Portable => true,
            Kernel::Avx2 | Kernel::Avx2Fma => avx2_fma_available(),
            Kernel::Neon | Kernel::NeonFma => cfg!(target_arch = "aarch64"),
        }
    }

    /// Whether the kernel fuses `2·zr·zi + ci` (so counts may differ from the reference).
    pub fn is_fused(self) -> bool {
        matches!(self, Kernel::Avx2Fma | Kernel::NeonFma)
    }

    /// Short lower-case name, as in the `X-Kernel` header.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx2Fma => "avx2-fma",
            Kernel::Neon => "neon",
            Kernel::NeonFma => "neon-fma",
        }
    }

    /// Parses [`Kernel::name`].
    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|kernel| kernel.name() == name)
    }

    /// Computes pixels `first .. first + counts.len()` (row-major) of `grid`: escape-time
    /// counts into `counts`, and smooth values into `smooth` when given (same length).
    ///
    /// A kernel this CPU cannot run falls back to [`Kernel::Portable`].
    pub fn compute(
        self,
        grid: &Grid,
        first: usize,
        max_iter: u32,
        counts: &mut [u32],
        smooth: Option<&mut [f32]>,
    ) {
        if let Some(smooth) = smooth.as_deref() {
            assert_eq!(
                smooth.len(),
                counts.len(),
                "smooth and counts lengths differ"
            );
        }
        let job = Job {
            grid,
            first,
            max_iter,
        };
        match self {
            Kernel::Scalar => scalar_pixels(&job, counts, smooth),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 | Kernel::Avx2Fma if avx2_fma_available() => {
                if self == Kernel::Avx2Fma {
                    x86::compute::<true>(&job, counts, smooth)
                } else {
                    x86::compute::<false>(&job, counts, smooth)
                }
            }
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => neon::compute::<false>(&job, counts, smooth),
            #[cfg(target_arch = "aarch64")]
            Kernel::NeonFma => neon::compute::<true>(&job, counts, smooth),
            _ => portable::compute(&job, counts, smooth),
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma_available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_fma_available() -> bool {
    false
}

/// A range of pixels of a grid to compute.
pub(crate) struct Job<'a> {
    grid: &'a Grid,
    first: usize,
    max_iter: u32,
}

impl Job<'_> {
    /// `c` of the job's `index`-th pixel.
    #[inline]
    fn c(&self, index: usize) -> (f64, f64) {
        self.grid.c_at(self.first + index)
    }
}

fn scalar_pixels(job: &Job, counts: &mut [u32], mut smooth: Option<&mut [f32]>) {
    for (index, count) in counts.iter_mut().enumerate() {
        let (cr, ci) = job.c(index);
        let escape = escape(cr, ci, job.max_iter);
        *count = escape.count;
        if let Some(smooth) = smooth.as_deref_mut() {
            smooth[index] = if escape.count < job.max_iter {
                smooth_value(escape.count, escape.zr, escape.zi, cr, ci, job.max_iter)
            } else {
                job.max_iter as f32
            };
        }
    }
}

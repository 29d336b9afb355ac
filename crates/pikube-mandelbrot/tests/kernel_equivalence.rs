//! Every kernel against the scalar definition, over many regions and zoom levels.
//!
//! Plain (unfused) kernels must give exactly the reference counts and smooth values.
//!
//! Fused kernels (AVX2+FMA, NEON+FMA) round `2·zr·zi + ci` once instead of twice, so their
//! orbits drift from the reference by rounding errors that the dynamics amplify. The honest
//! criterion for a pixel whose count differs: let `m` be the first step at which the two
//! orbits decide differently (the smaller of the two counts). Along the reference orbit we
//! carry a first-order forward error bound `E_k` on `|z_k − exact z_k|` (local rounding of
//! one step ≤ 6u(|z|² + |c|), propagated by the derivative 2|z|), which bounds either orbit.
//! The difference is legitimate only if the decision `|z_m|² > 4` is within reach of that
//! error: `| |z_m|² − 4 | ≤ 2 · (2·(2|z_m|·E_m + E_m²) + 4u·|z_m|²)`. In words: the escape
//! test at that step was decided by rounding noise. Every differing pixel must pass this.
//!
//! How many differ depends on the zoom, because the amplification grows with the count: over
//! the full view and windows down to 1e-5 wide fewer than 0.1 % of pixels may differ (measured:
//! about 0.04 %); in 1e-7 .. 1e-10 wide windows around boundary points, where f64 itself is
//! running out (a pixel is a few thousand ulps), up to 15 % of one window (measured: at most
//! 12 %, all within rounding reach; the plain kernels are no closer to the exact set there).

use pikube_mandelbrot::{
    kernel::{escape, is_interior},
    smooth_value, Grid, Kernel,
};

/// Boundary points: seahorse and elephant valleys, spirals, a Misiurewicz point, the
/// cardioid cusp, the Feigenbaum point, antennas and mini-brots.
const CENTRES: [(f64, f64); 10] = [
    (-0.743_643_887_037_151, 0.131_825_904_205_33),
    (-0.75, 0.1),
    (0.285, 0.01),
    (-1.250_66, 0.020_12),
    (-0.101_1, 0.956_3),
    (0.001_643_721_971_153, -0.822_467_633_298_876),
    (-1.768_778_833, -0.001_738_996),
    (0.360_240_443_437_6, -0.641_313_061_064_803),
    (0.250_000_1, 0.0),
    (-1.401_155_189_092, 0.0),
];

/// (window width, max_iter).
const ZOOMS: [(f64, u32); 6] = [
    (1e-1, 400),
    (1e-3, 800),
    (1e-5, 1500),
    (1e-7, 2000),
    (1e-9, 3000),
    (1e-10, 3000),
];

const SIDE: u32 = 32;

struct Case {
    name: String,
    grid: Grid,
    width: u32,
    height: u32,
    max_iter: u32,
    /// Full view or a window at least 1e-5 wide.
    shallow: bool,
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        Case {
            name: "full view".into(),
            grid: Grid::new(-2.5, 1.0, -1.25, 1.25, 70, 50),
            width: 70,
            height: 50,
            max_iter: 1000,
            shallow: true,
        },
        Case {
            // Every pixel outside |c| = 2: escapes at step 1 or 2, extreme magnitudes.
            name: "far away".into(),
            grid: Grid::new(-1e200, 1e200, -1e200, 1e200, 9, 7),
            width: 9,
            height: 7,
            max_iter: 50,
            shallow: true,
        },
    ];
    for (cx, cy) in CENTRES {
        for (width, max_iter) in ZOOMS {
            let half = width / 2.0;
            cases.push(Case {
                name: format!("({cx}, {cy}) ± {half:e}"),
                grid: Grid::new(cx - half, cx + half, cy - half, cy + half, SIDE, SIDE),
                width: SIDE,
                height: SIDE,
                max_iter,
                shallow: width >= 1e-5,
            });
        }
    }
    cases
}

struct Reference {
    counts: Vec<u32>,
    smooth: Vec<f32>,
}

fn reference(case: &Case) -> Reference {
    let pixels = (case.width * case.height) as usize;
    let mut counts = Vec::with_capacity(pixels);
    let mut smooth = Vec::with_capacity(pixels);
    for index in 0..pixels {
        let (cr, ci) = case.grid.c_at(index);
        let e = escape(cr, ci, case.max_iter);
        counts.push(e.count);
        smooth.push(if e.count < case.max_iter {
            smooth_value(e.count, e.zr, e.zi, cr, ci, case.max_iter)
        } else {
            case.max_iter as f32
        });
    }
    Reference { counts, smooth }
}

fn run(kernel: Kernel, case: &Case) -> (Vec<u32>, Vec<f32>) {
    let pixels = (case.width * case.height) as usize;
    let mut counts = vec![0; pixels];
    let mut smooth = vec![0.0; pixels];
    kernel.compute(&case.grid, 0, case.max_iter, &mut counts, Some(&mut smooth));
    (counts, smooth)
}

/// Whether the escape decision of the reference orbit at step `m` is within rounding reach.
fn decided_by_rounding(cr: f64, ci: f64, m: u32) -> bool {
    let u = f64::EPSILON / 2.0;
    let c_abs = cr.hypot(ci);
    let (mut zr, mut zi, mut bound) = (0.0f64, 0.0f64, 0.0f64);
    for _ in 0..m {
        let tr = zr * zr;
        let ti = zi * zi;
        let z_abs = (tr + ti).sqrt();
        bound = (2.0 * z_abs + bound) * bound + 6.0 * u * (tr + ti + c_abs);
        zi = (zr + zr) * zi + ci;
        zr = tr - ti + cr;
    }
    let mag = zr * zr + zi * zi;
    let z_abs = mag.sqrt();
    let reach = 2.0 * (2.0 * (2.0 * z_abs * bound + bound * bound) + 4.0 * u * mag);
    !bound.is_finite() || (mag - 4.0).abs() <= reach
}

#[test]
fn this_machine_runs_the_simd_kernels() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        assert_eq!(Kernel::detect(), Kernel::Avx2Fma);
        assert_eq!(Kernel::detect_exact(), Kernel::Avx2);
    }
    #[cfg(target_arch = "aarch64")]
    assert_eq!(Kernel::detect(), Kernel::NeonFma);
    assert!(Kernel::available().len() >= 3, "{:?}", Kernel::available());
}

#[test]
fn kernels_match_the_scalar_definition() {
    let cases = cases();
    assert!(cases.len() >= 60);
    let kernels: Vec<Kernel> = Kernel::available()
        .into_iter()
        .filter(|k| *k != Kernel::Scalar)
        .collect();
    let mut differing = vec![0usize; kernels.len()];
    let mut total = 0usize;
    for case in &cases {
        let reference = reference(case);
        let shallow = case.shallow;
        if shallow {
            total += reference.counts.len();
        }
        for (k, &kernel) in kernels.iter().enumerate() {
            let (counts, smooth) = run(kernel, case);
            let d = counts
                .iter()
                .zip(&reference.counts)
                .filter(|(a, b)| a != b)
                .count();
            if d > 0 {
                eprintln!("{kernel} {}: {d} of {} differ", case.name, counts.len());
            }
            assert!(
                d * 100 <= counts.len() * 15,
                "{kernel}, {}: {d} differ",
                case.name
            );
            if !kernel.is_fused() {
                assert_eq!(counts, reference.counts, "{kernel} counts, {}", case.name);
                assert_eq!(smooth, reference.smooth, "{kernel} smooth, {}", case.name);
                continue;
            }
            for (index, (&got, &want)) in counts.iter().zip(&reference.counts).enumerate() {
                if got == want {
                    continue;
                }
                if shallow {
                    differing[k] += 1;
                }
                let (cr, ci) = case.grid.c_at(index);
                let m = got.min(want);
                assert!(
                    decided_by_rounding(cr, ci, m),
                    "{kernel}, {}: pixel {index} c = ({cr:e}, {ci:e}) counts {got} vs {want}, \
                     not explained by rounding",
                    case.name
                );
            }
        }
    }
    for (kernel, differing) in kernels.iter().zip(differing) {
        let fraction = differing as f64 / total as f64;
        eprintln!(
            "{kernel}: {differing} of {total} pixels in windows >= 1e-5 differ ({:.4} %)",
            fraction * 100.0
        );
        assert!(fraction < 1e-3, "{kernel}: {fraction} of pixels differ");
    }
}

#[test]
fn partial_ranges_and_tails_match_whole_images() {
    let grid = Grid::new(-2.0, 0.6, -1.1, 1.1, 37, 23);
    let pixels = 37 * 23;
    for kernel in Kernel::available() {
        let mut whole = vec![0u32; pixels];
        kernel.compute(&grid, 0, 300, &mut whole, None);
        // Pieces of every small length, including fewer pixels than lanes.
        let mut pieces = vec![0u32; pixels];
        let mut first = 0;
        for len in (1..).cycle() {
            if first >= pixels {
                break;
            }
            let end = (first + len % 41 + 1).min(pixels);
            kernel.compute(&grid, first, 300, &mut pieces[first..end], None);
            first = end;
        }
        assert_eq!(whole, pieces, "{kernel}");
    }
}

#[test]
fn max_iter_edges() {
    // Counts of exactly max_iter - 1, max_iter and tiny caps, for every block alignment.
    let grid = Grid::new(-2.0, 0.5, -1.2, 1.2, 24, 18);
    for max_iter in [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100] {
        let want: Vec<u32> = (0..24 * 18)
            .map(|i| {
                let (cr, ci) = grid.c_at(i);
                escape(cr, ci, max_iter).count
            })
            .collect();
        for kernel in Kernel::available() {
            let mut got = vec![0u32; want.len()];
            kernel.compute(&grid, 0, max_iter, &mut got, None);
            if kernel.is_fused() {
                let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                assert!(differing <= 1, "{kernel} max_iter {max_iter}: {differing}");
            } else {
                assert_eq!(got, want, "{kernel} max_iter {max_iter}");
            }
        }
    }
}

#[test]
fn interior_shortcut_never_claims_an_escaping_point() {
    // Points just inside and just outside the cardioid and the period-2 bulb.
    let max_iter = 5000;
    for step in 0..200 {
        let theta = f64::from(step) * std::f64::consts::TAU / 200.0;
        let (s, c) = theta.sin_cos();
        for scale in [
            1.0 - 1e-6,
            1.0 - 1e-9,
            1.0 - 1e-12,
            1.0,
            1.0 + 1e-12,
            1.0 + 1e-6,
        ] {
            // Cardioid: c = e^{iθ}/2 − e^{2iθ}/4, scaled around its centre 1/4.
            let (x, y) = (
                c / 2.0 - (2.0 * theta).cos() / 4.0,
                s / 2.0 - (2.0 * theta).sin() / 4.0,
            );
            let (x, y) = (0.25 + (x - 0.25) * scale, y * scale);
            let bulb = (-1.0 + 0.25 * c * scale, 0.25 * s * scale);
            for (cr, ci) in [(x, y), bulb] {
                if is_interior(cr, ci) {
                    assert_eq!(escape(cr, ci, max_iter).count, max_iter, "({cr}, {ci})");
                }
            }
        }
    }
}

/// The reference loop with `2·zr·zi + ci` fused (`f64::mul_add`, correctly rounded on every
/// platform, in hardware or in libm).
fn fused_count(cr: f64, ci: f64, max_iter: u32) -> u32 {
    let (mut zr, mut zi) = (0.0f64, 0.0f64);
    for n in 0..max_iter {
        let tr = zr * zr;
        let ti = zi * zi;
        if tr + ti > 4.0 {
            return n;
        }
        zi = (zr + zr).mul_add(zi, ci);
        zr = tr - ti + cr;
    }
    max_iter
}

#[test]
fn fused_kernels_match_the_fused_definition_exactly() {
    // So AVX2+FMA on x86-64 and NEON+FMA on aarch64 give identical images.
    let fused: Vec<Kernel> = Kernel::available()
        .into_iter()
        .filter(|k| k.is_fused())
        .collect();
    for case in cases().iter().step_by(3) {
        let want: Vec<u32> = (0..(case.width * case.height) as usize)
            .map(|i| {
                let (cr, ci) = case.grid.c_at(i);
                fused_count(cr, ci, case.max_iter)
            })
            .collect();
        for &kernel in &fused {
            assert_eq!(run(kernel, case).0, want, "{kernel}, {}", case.name);
        }
    }
}

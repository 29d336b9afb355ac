//! Smooth (continuous) escape values for colouring: the normalised iteration count.

/// Extra iterations after escape: they take `|z|` far beyond the escape radius, where the
/// normalised count is continuous across count bands to within a fraction of a percent.
const EXTRA: u32 = 4;

/// `ν = n + 1 − log₂(log₂|z_n|)`, evaluated [`EXTRA`] iterations after the escape at step
/// `count` with `z = zr + i·zi`, clamped to `[0, max_iter]`.
pub fn smooth_value(count: u32, zr: f64, zi: f64, cr: f64, ci: f64, max_iter: u32) -> f32 {
    let (mut zr, mut zi) = (zr, zi);
    let mut n = count;
    let mut mag = zr * zr + zi * zi;
    for _ in 0..EXTRA {
        if mag > 1e100 {
            break;
        }
        let next_zi = (zr + zr) * zi + ci;
        zr = zr * zr - zi * zi + cr;
        zi = next_zi;
        mag = zr * zr + zi * zi;
        n += 1;
    }
    let log2_abs = 0.5 * mag.log2();
    let nu = f64::from(n) + 1.0 - log2_abs.log2();
    if nu.is_finite() {
        nu.clamp(0.0, f64::from(max_iter)) as f32
    } else {
        0.0
    }
}
